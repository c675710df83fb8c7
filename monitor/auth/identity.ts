/**
 * Who is calling: the one middleware that turns a request into `req.identity`, and the identity
 * checks the route table's guards are made of (monitor/route-guards.ts). Sources, in order:
 *  1. `Remote-User` (+ groups, + the gateway's assertion when configured) from a trusted proxy;
 *  2. `Authorization: Bearer <jwt>` (session or API token);
 *  3. `Authorization: Basic base64(username:<api token>)`.
 * Identity headers from any other peer are stripped before anything reads them, and audited.
 * Failures are not answered here: they are recorded on the request and the guards answer them, so
 * public routes keep working for a caller with a stale token.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { clientIp } from '../../lib/net/client-ip.ts';
import { normaliseIp } from '../../lib/net/address.ts';
import type { Scope } from '../config/schema.ts';
import type { TokenUse } from './jwt.ts';
import type { MonitorAuthDeps } from './deps.ts';
import { isPlausibleUsername, normaliseHeaderName, parseGroups, scopeForGroups, stripIdentityHeaders } from './remote-user.ts';
import { AuthStoreUnavailable, type AuthState } from './store.ts';
import { checkToken } from './tokens.ts';

export interface Identity {
  username: string;
  scope: Scope;
  via: 'session' | 'api_token' | 'remote_user' | 'basic';
  /** The bearer token's id (session and API tokens). */
  jti?: string;
  /** Epoch seconds; with jti, what logout needs to revoke the token. */
  expiresAt?: number;
  /** Which kind of bearer token it was (also for Basic, which carries one). */
  tokenUse?: TokenUse;
  /** Bearer tokens: when it was issued (epoch seconds); for a session, when its password was entered. */
  issuedAt?: number;
  /** Session tokens: the login generation they belong to (a terminal opened with one ends with it). */
  sessionGeneration?: number;
}

/** Why the request has no identity, answered by the guards. */
export interface AuthProblem {
  status: 401 | 403 | 429 | 503;
  message: string;
  retryAfterSeconds?: number;
}

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by identify(): null when the request carries no (valid) credential. */
    identity?: Identity | null;
    /** The client's address (X-Forwarded-For believed only from trusted proxies). */
    clientIp?: string;
    authProblem?: AuthProblem;
    /**
     * The token the identity came from (Bearer, or Basic's API token), kept apart from `identity` so
     * nothing that logs or returns the identity carries it: a terminal re-checks it while it runs.
     */
    bearerToken?: string;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

/** Sec-Fetch-Site says same-origin (or none: typed, bookmarked), or, without it, Origin is the host the request was sent to. */
function sameOrigin(req: Request): boolean {
  const site = single(req.headers['sec-fetch-site'])?.trim().toLowerCase();
  if (site === 'same-origin' || site === 'none') return true;
  // a browser that says cross-site or same-site means it: Origin is not asked (as the gateway's portal does)
  if (site !== undefined && site !== '') return false;
  const origin = single(req.headers.origin)?.trim();
  if (!origin || origin === 'null') return false;
  let originHost: string;
  try {
    originHost = new URL(origin).host.toLowerCase();
  } catch {
    return false;
  }
  // the proxy's X-Forwarded-Host when it rewrote Host (only proxies we trust get this far with Remote-User)
  const hosts = [req.headers.host, single(req.headers['x-forwarded-host'])?.split(',')[0]];
  return hosts.some((h) => h !== undefined && h.trim().toLowerCase() === originHost);
}

function countRaw(req: Request, lowerName: string): number {
  let n = 0;
  for (let i = 0; i < req.rawHeaders.length; i += 2) if (req.rawHeaders[i]!.toLowerCase() === lowerName) n++;
  return n;
}

export function identify(deps: MonitorAuthDeps): RequestHandler {
  const ru = deps.config.remote_user;
  const userHeader = ru.user_header.toLowerCase();
  const groupsHeader = ru.groups_header.toLowerCase();
  const none = new Set<string>();

  async function fromRemoteUser(req: Request, user: string): Promise<void> {
    const rhost = req.clientIp!;
    const refuse = (reason: string, message: string): void => {
      deps.audit.failure({ rhost, user, method: 'remote_user', reason });
      req.authProblem = { status: 401, message };
    };
    if (countRaw(req, userHeader) !== 1 || !isPlausibleUsername(user)) {
      return refuse('malformed_remote_user', `The ${ru.user_header} header is malformed or repeated`);
    }
    let signedGroups: string[] | null = null;
    if (deps.assertions) {
      const check = await deps.assertions.verify(single(req.headers[deps.assertions.header]), user, deps.now());
      if (check.ok) signedGroups = check.groups;
      if (!check.ok && check.reason === 'assertion_unverifiable') {
        // our problem, not the client's: no failure line (Fail2Ban would ban the users)
        deps.logger.error({ rhost, user, detail: check.detail }, 'cannot verify the gateway assertion');
        // the detail (the JWKS address) is for the log, not for whoever is asking
        req.authProblem = { status: 503, message: "Cannot verify the gateway's identity assertion right now; try again later" };
        return;
      }
      if (!check.ok) {
        deps.logger.warn({ rhost, user, detail: check.detail }, 'gateway assertion refused');
        return refuse(check.reason, `${ru.user_header} refused: the gateway's signed assertion is missing or invalid`);
      }
    }
    // with an assertion, its signed groups decide; the Remote-Groups header is only trusted without one
    const groups = signedGroups ?? parseGroups(single(req.headers[groupsHeader]));
    req.identity = { username: user, scope: scopeForGroups(groups, ru), via: 'remote_user' };
  }

  async function fromToken(req: Request, state: AuthState, token: string, basicUser: string | null): Promise<void> {
    const rhost = req.clientIp!;
    let release = (): void => {};
    if (basicUser !== null) {
      // counted before the check, released when right: parallel guesses cannot all pass the limit
      const attempt = deps.rateLimiter.reserve({ ip: rhost, user: basicUser });
      if (attempt.limited) {
        deps.audit.rateLimited({ rhost, user: basicUser, method: 'basic', retryAfterSeconds: attempt.retryAfterSeconds });
        req.authProblem = { status: 429, message: 'Too many failed attempts. Please wait and try again.', retryAfterSeconds: attempt.retryAfterSeconds };
        return;
      }
      release = attempt.release;
    }
    const check = await checkToken(state, token, deps.now()).catch((error: unknown) => {
      release();
      throw error;
    });
    const mismatch = check.ok && basicUser !== null && check.claims.username !== basicUser;
    if (!check.ok || mismatch) {
      const reason = check.ok ? 'username_mismatch' : check.reason;
      if (basicUser !== null) {
        // Basic carries a username and a secret, like a password form: counted (the reservation stays) and audited for Fail2Ban
        deps.audit.failure({ rhost, user: basicUser, method: 'basic', reason });
      } else {
        deps.audit.tokenRefused({ rhost, user: check.ok ? check.claims.username : null, method: 'bearer', reason });
      }
      req.authProblem = { status: 401, message: reason === 'revoked' ? 'This token has been revoked' : 'Invalid or expired token' };
      return;
    }
    release();
    const c = check.claims;
    const via = basicUser !== null ? 'basic' : c.token_use;
    const generation = c.session_generation === undefined ? {} : { sessionGeneration: c.session_generation };
    req.identity = { username: c.username, scope: c.scope, via, jti: c.jti, issuedAt: c.iat, expiresAt: c.exp, tokenUse: c.token_use, ...generation };
    req.bearerToken = token;
  }

  async function identifyRequest(req: Request): Promise<void> {
    const peer = normaliseIp(req.socket.remoteAddress ?? '');
    const trusted = deps.isTrustedProxy(peer);
    req.identity = null;
    req.clientIp = clientIp(req.socket.remoteAddress, req.headers['x-forwarded-for'], deps.isTrustedProxy);

    // a trusted proxy keeps the exact names it sets; `_` variants and everyone else's go
    const stripped = stripIdentityHeaders(req, deps.remoteHeaders, trusted ? deps.remoteHeaders.exact : none);
    if (stripped.length > 0 && !trusted) {
      const claimed = stripped.find((h) => normaliseHeaderName(h.name) === normaliseHeaderName(userHeader))?.value;
      deps.audit.failure({ rhost: req.clientIp, user: claimed ?? null, method: 'remote_user', reason: 'untrusted_remote_user' });
      deps.logger.warn(
        { peer, headers: stripped.map((h) => h.name) },
        'identity headers from a peer outside trusted_proxies were removed; if this is your proxy, add its address to trusted_proxies',
      );
    }

    let state: AuthState | null = null;
    let storeProblem: AuthProblem | null = null;
    try {
      state = await deps.store.read();
    } catch (error) {
      if (!(error instanceof AuthStoreUnavailable)) throw error;
      storeProblem = { status: 503, message: error.message };
    }
    await identifyCaller(req, state, trusted);
    refuseCrossSite(req);
    // whatever the credential, protected routes answer this 503 (requireAuth checks it first)
    if (storeProblem) req.authProblem = storeProblem;
  }

  /**
   * A gateway identity rides on the browser's cookie, so any page can make the browser send one: an
   * unsafe request counts only when the browser says it came from this origin.
   */
  function refuseCrossSite(req: Request): void {
    if (req.identity?.via !== 'remote_user' || SAFE_METHODS.has(req.method) || sameOrigin(req)) return;
    deps.logger.warn(
      { rhost: req.clientIp, user: req.identity.username, method: req.method, path: req.path, origin: single(req.headers.origin), site: single(req.headers['sec-fetch-site']) },
      'cross-site request with a gateway identity refused',
    );
    req.identity = null;
    req.authProblem = { status: 403, message: 'Cross-site request refused: send it from the dashboard itself' };
  }

  async function identifyCaller(req: Request, state: AuthState | null, trusted: boolean): Promise<void> {
    // an empty Remote-User is how some proxies say "nobody": fall through to the token, as if absent
    const remoteUser = trusted ? single(req.headers[userHeader])?.trim() : undefined;
    if (remoteUser) {
      await fromRemoteUser(req, remoteUser);
      return;
    }
    const authorization = req.headers.authorization;
    if (!authorization || state === null) return;
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (bearer) return fromToken(req, state, bearer[1]!, null);
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const user = colon === -1 ? decoded : decoded.slice(0, colon);
      if (colon === -1 || user === '') {
        deps.audit.failure({ rhost: req.clientIp!, user: user || null, method: 'basic', reason: 'malformed_credentials' });
        req.authProblem = { status: 401, message: 'Basic credentials must be username:<api token>' };
        return;
      }
      return fromToken(req, state, decoded.slice(colon + 1), user);
    }
    req.authProblem = { status: 401, message: 'Unsupported Authorization scheme; use Bearer <token> or Basic username:<api token>' };
  }

  return (req, res, next) => {
    identifyRequest(req).then(
      () => next(),
      (error: unknown) => {
        // fail closed here, once: no identity, and no exception text to the client
        deps.logger.error({ err: error, method: req.method, path: req.path }, 'identifying the request failed');
        req.identity = null;
        if (!res.headersSent) res.status(500).json({ success: false, message: 'Internal error' });
      },
    );
  };
}

function sendProblem(res: Response, problem: AuthProblem): void {
  if (problem.retryAfterSeconds !== undefined) {
    res.set('Retry-After', String(problem.retryAfterSeconds));
    res.status(problem.status).json({ success: false, message: problem.message, retry_after: problem.retryAfterSeconds });
    return;
  }
  res.status(problem.status).json({ success: false, message: problem.message });
}

/** 401 without an identity (429 when rate limited); 503 whenever auth.json is unusable, identity or not. */
export function requireAuth(req: Request, res: Response, next: NextFunction): void {
  const problem = req.authProblem;
  if (problem?.status === 503) return sendProblem(res, problem);
  if (req.identity) return next();
  sendProblem(res, problem ?? { status: 401, message: 'Authentication required' });
}

/** requireAuth, then 403 unless the identity has `scope` (full_admin ⊇ read_only). */
export function requireScope(scope: Scope): RequestHandler {
  return (req, res, next) => {
    requireAuth(req, res, () => {
      const have = req.identity!.scope;
      if (scope === 'full_admin' && have !== 'full_admin') {
        res.status(403).json({ success: false, message: `This action requires a full_admin token (your token: ${have})` });
        return;
      }
      next();
    });
  };
}

/** Any identity but full_admin may only read: GET and HEAD, whatever the route. */
export function readOnlyGuard(req: Request, res: Response, next: NextFunction): void {
  if (req.identity && req.identity.scope !== 'full_admin' && !SAFE_METHODS.has(req.method)) {
    res.status(403).json({ success: false, message: `This action requires a full_admin token (your token: ${req.identity.scope})` });
    return;
  }
  next();
}
