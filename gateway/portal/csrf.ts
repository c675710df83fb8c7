/**
 * Cross-site request forgery guards for the portal. State-changing requests must come from the
 * portal's own origin (Origin, else Referer; Sec-Fetch-Site when the browser sends it), and JSON
 * endpoints take only `application/json`, which a cross-site form cannot send without CORS.
 */
import type { NextFunction, Request, Response } from 'express';

function sameOrigin(req: Request): boolean {
  const expected = req.cookieDomain?.portalUrl.origin;
  if (!expected) return false;
  const site = req.get('sec-fetch-site');
  if (site && site !== 'same-origin' && site !== 'none') return false;
  const origin = req.get('origin');
  if (origin) return origin === expected;
  const referer = req.get('referer');
  if (referer) {
    try {
      return new URL(referer).origin === expected;
    } catch {
      return false;
    }
  }
  return false;
}

/** JSON API: JSON bodies only (a DELETE may have none); a request that names an origin must name ours. */
/** Whether the request carries a body at all (a DELETE often has none). */
function hasBody(req: Request): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export function requireJsonSameOrigin(req: Request, res: Response, next: NextFunction): void {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    // a DELETE without a body (Authelia's web client sends its DELETEs so) needs no Content-Type: a
    // cross-site page cannot send a DELETE at all without a CORS preflight, which the portal never grants
    if (!(req.method === 'DELETE' && !hasBody(req)) && !req.is('application/json')) {
      res.status(415).json({ status: 'KO', message: 'Send a JSON body with Content-Type: application/json.' });
      return;
    }
    // scripts and CLI clients send no Origin; browsers always do on a cross-origin request
    if ((req.get('origin') || req.get('sec-fetch-site')) && !sameOrigin(req)) {
      res.status(403).json({ status: 'KO', message: 'Cross-origin request refused.' });
      return;
    }
  }
  next();
}

/** HTML forms: the browser must show that the post came from the portal itself. */
export function requireFormSameOrigin(req: Request, res: Response, next: NextFunction): void {
  if (!sameOrigin(req)) {
    res.status(403).type('text/plain').send('Cross-origin form submission refused. Reload the login page and try again.');
    return;
  }
  next();
}
