/**
 * What the portal answers around its routes: the headers every page carries, the 404 for a path that is
 * no row of the route table, and the one error handler, which keeps an error's text in the log.
 */
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import { RETRY_AFTER_S, unavailableMessage } from '../../lib/errors.ts';

/**
 * The headers every portal answer carries. `form-action` names the cookie domains besides 'self': a
 * sign-in form (password, then the second factor) ends in a redirect to the page the user asked for,
 * on another host of the domain, and Chromium applies form-action to a form's redirects too. Only
 * https and those domains: isSafeRedirect never sends anyone elsewhere. Any port (`:*`), as the portal
 * and the apps may sit behind a proxy on a non-default one.
 */
export function securityHeaders(cookieDomains: readonly string[] = []) {
  const formTargets = cookieDomains.flatMap((domain) => [`https://${domain}:*`, `https://*.${domain}:*`]);
  // script-src and connect-src: the WebAuthn ceremonies (static/webauthn.js and its fetch() calls); no inline script
  const policy = `default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self'; form-action ${["'self'", ...formTargets].join(' ')}; frame-ancestors 'none'; base-uri 'none'`;
  return (_req: Request, res: Response, next: NextFunction): void => {
    res.set({
      'Content-Security-Policy': policy,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'same-origin',
      'X-Frame-Options': 'DENY',
      'Cache-Control': 'no-store',
    });
    next();
  };
}

/** Anything that is not a row of the route table. */
export function notFound(_req: Request, res: Response): void {
  res.status(404).json({ status: 'KO', message: 'Not found.' });
}

/**
 * Errors thrown by a handler or the promise it returned (express 5 forwards rejections here): a client
 * error from a body parser keeps its status; a backend outage is a 503; anything else is a 500 whose
 * text stays in the log.
 */
export function errorHandler(logger: Logger) {
  return (error: Error & { status?: number; type?: string }, req: Request, res: Response, _next: NextFunction): void => {
    if (error.status && error.status >= 400 && error.status < 500) {
      res.status(error.status).json({ status: 'KO', message: error.type === 'entity.too.large' ? 'Request body too large.' : 'Malformed request.' });
      return;
    }
    const unavailable = unavailableMessage(error);
    if (unavailable !== null) {
      // a session that was never saved must not get a cookie: express-session sets none without req.session
      (req as { session?: unknown }).session = undefined;
      // the store's outage log reports the failure once, not per request
      if (!res.headersSent) res.status(503).set('Retry-After', String(RETRY_AFTER_S)).json({ status: 'KO', message: unavailable });
      return;
    }
    logger.error({ err: error }, 'portal: unexpected error');
    if (!res.headersSent) res.status(500).json({ status: 'KO', message: 'Internal error.' });
  };
}
