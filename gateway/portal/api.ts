/** The portal's JSON API, Authelia-compatible: `{status:"OK",data}` or `{status:"KO",message}`. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request, Response } from 'express';
import { z } from 'zod';
import { authenticationLevel } from '../session/user-session.ts';
import { currentIdentity } from './current-user.ts';
import { requestIp, type PortalDeps } from './deps.ts';
import { clearSessionCookie, destroy } from './session-middleware.ts';
import { forgetSession } from './session-index.ts';
import { establishSession, redirectAfterLogin } from './login.ts';

const AUTH_FAILED = 'Authentication failed. Check your credentials.';

const firstFactorBody = z.object({
  username: z.string().min(1).max(256),
  password: z.string().min(1).max(1024),
  keepMeLoggedIn: z.boolean().optional(),
  targetURL: z.string().max(4096).optional(),
  requestMethod: z.string().max(16).optional(),
});

export function ok(res: Response, data?: unknown): void {
  res.json(data === undefined ? { status: 'OK' } : { status: 'OK', data });
}

export function ko(res: Response, status: number, message: string): void {
  res.status(status).json({ status: 'KO', message });
}

export function firstFactorHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const parsed = firstFactorBody.safeParse(req.body);
    if (!parsed.success) return ko(res, 400, 'Send username and password as strings.');
    const body = parsed.data;
    const ip = requestIp(req, deps);
    const result = await deps.firstFactor.verify({
      username: body.username,
      password: body.password,
      ip,
      method: 'portal',
      requestUri: body.targetURL ?? '',
      requestMethod: body.requestMethod ?? '',
      deferSuccessAudit: true,
    });
    if (!result.ok && result.busy) {
      res.set('Retry-After', String(result.busy.retryAfterSeconds));
      return ko(res, 429, result.busy.message);
    }
    if (!result.ok) return ko(res, 401, AUTH_FAILED);
    await establishSession(req, result.user, body.keepMeLoggedIn === true, deps.now(), deps.audit, ip, deps.storage.userSessions);
    const next = redirectAfterLogin(req, body.targetURL, body.requestMethod, deps.authorizer, ip);
    if (next && 'redirect' in next) return ok(res, { redirect: next.redirect });
    return ok(res);
  };
}

export function logoutHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    if (req.session?.identity) {
      await deps.sessionEnded?.(req.session);
      await forgetSession(req, deps);
      await destroy(req);
    }
    clearSessionCookie(req, res);
    ok(res);
  };
}

export function stateHandler(deps: PortalDeps) {
  return async (req: Request, res: Response) => {
    const identity = await currentIdentity(req, deps);
    ok(res, {
      username: identity?.username ?? '',
      authentication_level: identity ? authenticationLevel(req.session.amr) : 0,
      default_redirection_url: req.cookieDomain?.defaultRedirectionUrl?.href ?? '',
    });
  };
}

/** Liveness and readiness for probes: a plain node handler, answered on any host. */
export function healthHandler(deps: Pick<PortalDeps, 'sessions' | 'storageReady'>) {
  return (_req: IncomingMessage, res: ServerResponse) => {
    Promise.all([deps.sessions.ping(), deps.storageReady().catch(() => false)]).then(([sessions, storage]) => {
      const body = sessions && storage
        ? { status: 'OK' }
        : { status: 'KO', message: `Not ready: ${[!sessions && 'session store', !storage && 'storage'].filter(Boolean).join(' and ')} unreachable.` };
      res.writeHead(sessions && storage ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify(body));
    });
  };
}
