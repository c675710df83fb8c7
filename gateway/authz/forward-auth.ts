/**
 * The forward-auth endpoints (nginx auth_request, Traefik/Caddy forwardAuth, legacy /api/verify).
 * This is the hot path: a plain node:http handler that reads the session straight from the store,
 * evaluates the precompiled rules and answers. Fail closed is decided once, in `handleAuthz`: any
 * error becomes a deny, and only `allow` ever writes 200.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { FirstFactor } from '../authn/first-factor.ts';
import { clientIp } from '../../lib/net/client-ip.ts';
import { normaliseIp } from '../../lib/net/address.ts';
import { cookieDomainFor, type CookieDomain } from '../session/cookie-domains.ts';
import { currentUser, type ReadSession, type SessionReader } from '../session/reader.ts';
import { SessionStoreUnavailable, type SessionStore } from '../session/store.ts';
import { RETRY_AFTER_S, unavailableMessage } from '../backend-unavailable.ts';
import { authenticationLevel, type SessionIdentity } from '../session/user-session.ts';
import type { UserProvider } from '../users/provider.ts';
import { isSafeRedirect } from './redirect.ts';
import { requiredLevel, type Authorizer } from './rules.ts';
import { ASSERTION_HEADER, type AssertionIssuer } from './assertion.ts';
import type { AuthzOutcome, GatewayMetrics } from '../metrics/metrics.ts';
import { BadAuthzRequest, resolveTarget, type AuthzDialect, type AuthzTarget } from './target.ts';
import { credentialHeader, DEFAULT_AUTHN_STRATEGIES, type AuthnStrategies } from './authn-strategies.ts';

export interface AuthzDeps {
  cookieDomains: readonly CookieDomain[];
  sessions: SessionStore;
  sessionReader: SessionReader;
  /** Counts and times every answer, when telemetry.metrics is on. */
  metrics?: GatewayMetrics;
  /** Signs the identity assertion sent beside Remote-User, when identity_assertion is configured. */
  assertions?: AssertionIssuer;
  authorizer: Authorizer;
  users: UserProvider;
  firstFactor: FirstFactor;
  isTrustedProxy: (ip: string) => boolean;
  logger: Logger;
  now: () => number;
}

export type Verdict =
  | { kind: 'allow'; identity: SessionIdentity | null; host: string }
  | { kind: 'forbidden' }
  | { kind: 'login'; target: AuthzTarget; domain: CookieDomain; basic: boolean }
  | { kind: 'bad-credentials' }
  /** Basic credentials not checked: too many password checks in flight (never a 200) */
  | { kind: 'busy'; retryAfterSeconds: number }
  | { kind: 'bad-request'; reason: string };

const BASIC_CHALLENGE = 'Basic realm="Authorization Required"';

/** Header values travel as UTF-8 bytes (Node writes latin1 strings byte for byte); line breaks never pass. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

export function headerValue(value: string | undefined): string {
  if (!value) return '';
  if (PRINTABLE_ASCII.test(value)) return value;
  return Buffer.from(value.replace(/[\r\n\0]/g, ' '), 'utf8').toString('latin1');
}

function parseBasic(header: string): { username: string; password: string } | null | undefined {
  const space = header.indexOf(' ');
  if (space === -1 || header.slice(0, space).toLowerCase() !== 'basic') return undefined; // not ours: another scheme
  const decoded = Buffer.from(header.slice(space + 1).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

interface Question {
  target: AuthzTarget;
  domain: CookieDomain;
  ip: string;
  basic: boolean;
}

/** The rules' answer for an identity at a level (0 anonymous, 1 one factor, 2 two factors). */
function judge(q: Question, identity: SessionIdentity | null, level: number, deps: AuthzDeps): Verdict {
  const decision = deps.authorizer.evaluate(
    { host: q.target.host, path: q.target.path, method: q.target.method, ip: q.ip },
    identity ? { username: identity.username, groups: identity.groups } : null,
  );
  if (decision.policy === 'bypass') return { kind: 'allow', identity, host: q.target.host };
  if (decision.policy === 'deny') {
    // an anonymous user on a rule that names subjects may be one of them: log in first
    return identity || !decision.hasSubjects ? { kind: 'forbidden' } : { kind: 'login', target: q.target, domain: q.domain, basic: q.basic };
  }
  if (identity && level >= requiredLevel(decision.policy)) return { kind: 'allow', identity, host: q.target.host };
  return { kind: 'login', target: q.target, domain: q.domain, basic: q.basic };
}

function judgeSession(q: Question, session: ReadSession | null, deps: AuthzDeps): Verdict {
  if (!session) return judge(q, null, 0, deps);
  // groups, name and e-mail come from the backend now; a removed or disabled user, or one whose
  // password changed since, has no session
  const current = currentUser(session.data, deps.users);
  return current ? judge(q, current, authenticationLevel(session.data.amr), deps) : judge(q, null, 0, deps);
}

/**
 * Who is asking for what, and may they. `locate` names the target (from forwarding headers, or the
 * request itself for the embedded proxy); it throws BadAuthzRequest when it can't. The answer is
 * immediate when the session is in memory (the common case) and a promise otherwise.
 */
export function decide(
  req: IncomingMessage,
  locate: (trustedPeer: boolean) => AuthzTarget,
  deps: AuthzDeps,
  strategies: AuthnStrategies = DEFAULT_AUTHN_STRATEGIES,
): Verdict | Promise<Verdict> {
  const peer = normaliseIp(req.socket.remoteAddress ?? '');
  const trusted = deps.isTrustedProxy(peer);
  let target: AuthzTarget;
  try {
    target = locate(trusted);
  } catch (error) {
    if (error instanceof BadAuthzRequest) return { kind: 'bad-request', reason: error.message };
    throw error;
  }
  const domain = cookieDomainFor(target.host, deps.cookieDomains);
  // deny: the target host is outside every cookie domain, so no session could ever be valid there
  if (!domain) return { kind: 'bad-request', reason: `host '${target.host}' is not under any session.cookies domain` };
  const ip = clientIp(peer, req.headers['x-forwarded-for'], deps.isTrustedProxy);

  // only what this endpoint's authn strategies name is read: an unlisted header or cookie is no identity
  const authorization = credentialHeader(req, strategies);
  const credentials = authorization ? parseBasic(authorization) : undefined;
  if (credentials === null) return { kind: 'bad-credentials' };
  if (credentials) {
    const q: Question = { target, domain, ip, basic: true };
    return deps.firstFactor
      .verify({ ...credentials, ip, method: 'basic', requestUri: target.url.href, requestMethod: target.method })
      // Basic credentials only ever prove one factor
      .then((result): Verdict =>
        result.ok ? judge(q, result.user, 1, deps) : result.busy ? { kind: 'busy', retryAfterSeconds: result.busy.retryAfterSeconds } : { kind: 'bad-credentials' },
      );
  }
  const q: Question = { target, domain, ip, basic: false };
  if (!strategies.cookie) return judge(q, null, 0, deps);
  const session = deps.sessionReader.read(req.headers.cookie, domain);
  if (!(session instanceof Promise)) return judgeSession(q, session, deps);
  return session.then(
    (s) => judgeSession(q, s, deps),
    (error: unknown) => {
      // deny: the session store did not answer in time. A cookie that cannot be checked passes no rule,
      // not even bypass: log in again (401 / the portal redirect). The store's outage log reports it.
      if (error instanceof SessionStoreUnavailable) return { kind: 'login', target, domain, basic: false };
      throw error;
    },
  );
}

export function wantsRedirect(req: IncomingMessage): boolean {
  if (req.headers['x-requested-with']?.toString().toLowerCase() === 'xmlhttprequest') return false;
  const accept = req.headers.accept;
  if (!accept) return false;
  const first = accept.split(',')[0]!.trim().split(';')[0]!.trim();
  return first === '*/*' || accept.includes('text/html');
}

export function portalRedirect(portal: URL, target: AuthzTarget): string {
  const url = new URL(portal.href);
  url.searchParams.set('rd', target.url.href);
  url.searchParams.set('rm', target.method);
  return url.href;
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body = ''): void {
  headers['Cache-Control'] = 'no-store';
  if (body) headers['Content-Type'] = 'text/html; charset=utf-8';
  // a known length lets headers and body leave in one write instead of a chunked stream
  headers['Content-Length'] = String(Buffer.byteLength(body));
  res.writeHead(status, headers);
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function answer(req: IncomingMessage, res: ServerResponse, dialect: AuthzDialect, verdict: Verdict, deps: AuthzDeps, assertion = ''): void {
  switch (verdict.kind) {
    case 'allow': {
      const id = verdict.identity;
      // all four, even when empty: Caddy 2.6 would otherwise forward its literal placeholder upstream.
      // Only the proxy reads this answer, so no Cache-Control; the flat list skips an object walk.
      const headers = [
        'Remote-User', headerValue(id?.username),
        'Remote-Groups', headerValue(id?.groups.join(',')),
        'Remote-Name', headerValue(id?.displayName),
        'Remote-Email', headerValue(id?.emails[0]),
        'Content-Length', '0',
      ];
      if (deps.assertions) headers.push(ASSERTION_HEADER, assertion);
      res.writeHead(200, headers);
      res.end();
      return;
    }
    case 'forbidden':
      return send(res, 403, {}, '403 Forbidden');
    case 'bad-credentials':
      return send(res, 401, { 'WWW-Authenticate': BASIC_CHALLENGE }, '401 Unauthorized');
    case 'busy':
      return send(res, 429, { 'Retry-After': String(verdict.retryAfterSeconds) }, '429 Too Many Requests');
    case 'bad-request':
      deps.logger.debug({ reason: verdict.reason, dialect }, 'authz: malformed question denied');
      return send(res, dialect === 'legacy' ? 401 : 400, {}, dialect === 'legacy' ? '401 Unauthorized' : '400 Bad Request');
    case 'login': {
      if (verdict.basic) return send(res, 401, { 'WWW-Authenticate': BASIC_CHALLENGE }, '401 Unauthorized');
      let portal: URL | null = verdict.domain.portalUrl;
      if (dialect === 'legacy') {
        const rd = new URL(req.url ?? '/', 'http://x').searchParams.get('rd');
        portal = rd ? isSafeRedirect(rd, [verdict.domain.domain]) : null;
        if (!portal) return send(res, 401, {}, '401 Unauthorized');
      }
      const location = portalRedirect(portal, verdict.target);
      if (dialect === 'auth-request') return send(res, 401, { Location: location }, '401 Unauthorized');
      if (!wantsRedirect(req)) return send(res, 401, {}, '401 Unauthorized');
      const safe = ['GET', 'HEAD', 'OPTIONS'].includes(verdict.target.method);
      return send(res, safe ? 302 : 303, { Location: location }, `<a href="${escapeHtml(location)}">${safe ? 302 : 303}</a>`);
    }
  }
}

const OUTCOME: Record<Verdict['kind'], AuthzOutcome> = {
  allow: 'allow',
  login: 'login',
  forbidden: 'forbidden',
  'bad-credentials': 'bad_credentials',
  busy: 'busy',
  'bad-request': 'bad_request',
};

/** The request handler for one dialect. The only place an authz error is turned into an answer. */
export function createAuthzHandler(
  dialect: AuthzDialect,
  deps: AuthzDeps,
  strategies: AuthnStrategies = DEFAULT_AUTHN_STRATEGIES,
): (req: IncomingMessage, res: ServerResponse) => void {
  const allowedMethods = dialect === 'legacy' ? null : new Set(['GET', 'HEAD']);
  const metrics = deps.metrics;
  const record = (started: number, outcome: AuthzOutcome) => metrics?.authz(dialect, outcome, (performance.now() - started) / 1000);
  const fail = (res: ServerResponse, error: Error, started: number) => {
    // deny: the store or a backend failed; this question gets no answer but "no"
    const unavailable = unavailableMessage(error) !== null;
    // a backend that did not answer is reported once per outage by its outage log, not per request
    if (!unavailable) deps.logger.error({ err: error.message, dialect }, 'authz: error while deciding; denied');
    if (res.headersSent) res.destroy();
    else if (unavailable) send(res, 503, { 'Retry-After': String(RETRY_AFTER_S) }, '503 Service Unavailable');
    else send(res, 500, {}, '500 Internal Server Error');
    record(started, 'error');
  };
  const respond = (req: IncomingMessage, res: ServerResponse, verdict: Verdict, assertion: string, started: number) => {
    answer(req, res, dialect, verdict, deps, assertion);
    record(started, OUTCOME[verdict.kind]);
  };
  return (req, res) => {
    if (allowedMethods && !allowedMethods.has(req.method ?? '')) {
      return send(res, 405, { Allow: 'GET, HEAD' });
    }
    const started = metrics ? performance.now() : 0;
    try {
      const verdict = decide(req, (trusted) => resolveTarget(req, dialect, trusted), deps, strategies);
      const signed = (v: Verdict): string | Promise<string> =>
        v.kind === 'allow' && v.identity && deps.assertions ? (deps.assertions.cachedAssertionFor(v.identity, v.host) ?? deps.assertions.assertionFor(v.identity, v.host)) : '';
      if (verdict instanceof Promise) {
        verdict
          .then(async (v) => respond(req, res, v, await signed(v), started))
          .catch((error: Error) => fail(res, error, started));
      } else {
        const assertion = signed(verdict);
        if (typeof assertion === 'string') respond(req, res, verdict, assertion, started);
        else assertion.then((jws) => respond(req, res, verdict, jws, started)).catch((error: Error) => fail(res, error, started));
      }
    } catch (error) {
      fail(res, error as Error, started);
    }
  };
}
