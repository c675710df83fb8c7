/**
 * Deciding, apart from answering: who is asking for what, and may they. The result is a typed
 * verdict that can only allow or refuse; how each dialect words it is answer.ts's business.
 *
 * The credential kinds are a list of strategies (authn-strategies.ts): the first one that finds its
 * credential on the request is the one that identifies; when none does, the request is anonymous.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { FirstFactor } from '../authn/first-factor.ts';
import { clientIp } from '../../lib/net/client-ip.ts';
import { normaliseIp } from '../../lib/net/address.ts';
import type { GatewayMetrics } from '../metrics/metrics.ts';
import { cookieDomainFor, type CookieDomain } from '../session/cookie-domains.ts';
import type { SessionReader } from '../session/reader.ts';
import type { SessionStore } from '../session/store.ts';
import type { SessionIdentity } from '../session/user-session.ts';
import type { UserProvider } from '../users/provider.ts';
import type { AssertionIssuer } from './assertion.ts';
import { requiredLevel, type Authorizer } from './rules.ts';
import { BadAuthzRequest, type AuthzTarget } from './target.ts';

export interface AuthzDeps {
  cookieDomains: readonly CookieDomain[];
  sessions: SessionStore;
  sessionReader: SessionReader;
  /** Counts and times every answer, when telemetry.metrics is on. */
  metrics?: GatewayMetrics;
  /** Signs the identity assertion sent beside Remote-User, when identity_assertion is configured. */
  assertions?: AssertionIssuer;
  authorizer: Authorizer;
  /** What deciding needs of the user backend: the details now (from memory when cached). */
  users: Pick<UserProvider, 'getDetails' | 'peekDetails'>;
  firstFactor: FirstFactor;
  isTrustedProxy: (ip: string) => boolean;
  /**
   * Checks an OpenID Connect access token presented as `Authorization: Bearer` (oidc/bearer.ts); absent
   * when identity_providers.oidc is not configured (a Bearer credential is then refused, never ignored).
   */
  bearer?: BearerVerifier;
  logger: Logger;
  now: () => number;
}

/** Who a valid bearer token speaks for: a client (client_credentials), or a user at the factors of their sign-in. */
export type BearerIdentity =
  | { kind: 'client'; clientId: string }
  | { kind: 'user'; clientId: string; username: string; amr: string[] };

export interface BearerVerifier {
  /** The identity `token` speaks for at `target`, or null when it is no valid credential there (unknown, expired, revoked, wrong audience). */
  verify(token: string, target: URL): Promise<BearerIdentity | null>;
}

/** What deciding reads; answering needs the rest. */
export type DecideDeps = Pick<AuthzDeps, 'cookieDomains' | 'sessionReader' | 'authorizer' | 'users' | 'firstFactor' | 'isTrustedProxy' | 'bearer'>;

export type Verdict = Allow | Refusal;

export interface Allow {
  kind: 'allow';
  identity: SessionIdentity | null;
  target: AuthzTarget;
  /** The client address the decision judged (what the embedded proxy passes on as X-Forwarded-For). */
  ip: string;
}

export type Refusal =
  | { kind: 'forbidden' }
  /**
   * no identity good enough for this target yet: to the portal (`challenge` null), or a Basic challenge
   * when Basic was tried, or a Bearer one (a stronger sign-in is needed) when a bearer token was
   */
  | { kind: 'login'; target: AuthzTarget; domain: CookieDomain; challenge: Challenge }
  /** the credential sent is wrong: Basic credentials, or (`bearer`) an unknown, expired or revoked token */
  | { kind: 'bad-credentials'; bearer?: true }
  /** Basic credentials not checked: too many password checks in flight */
  | { kind: 'busy'; retryAfterSeconds: number }
  /** the question itself is malformed or ambiguous: nothing was judged */
  | { kind: 'bad-request'; reason: string }
  /** a backend (the session store, the database) did not answer: try again shortly */
  | { kind: 'unavailable'; message: string }
  /** anything else failed while deciding or answering */
  | { kind: 'error' };

export type RefusalKind = Refusal['kind'];

const FORBIDDEN: Refusal = Object.freeze({ kind: 'forbidden' });
export const BAD_CREDENTIALS: Refusal = Object.freeze({ kind: 'bad-credentials' });
export const BAD_TOKEN: Refusal = Object.freeze({ kind: 'bad-credentials', bearer: true });

/** The host the embedded proxy routed the request by, and the scheme it listens with. */
export interface Routed {
  host: string;
  scheme: 'http' | 'https';
}

/**
 * Names the target of the question: from forwarding headers (only from a trusted peer), or the
 * request itself for the embedded proxy (`routed`). Throws BadAuthzRequest when it can't.
 */
export type Locate = (req: IncomingMessage, trusted: boolean, routed: Routed | null) => AuthzTarget;

export interface Question {
  target: AuthzTarget;
  domain: CookieDomain;
  /** The client's address (through trusted proxies only). */
  ip: string;
}

/** One credential kind (session cookie, Basic…). */
export interface AuthnStrategy {
  readonly name: string;
  /** What limits how often this credential is checked (the route table prints it), or null. */
  readonly rateLimit: string | null;
  /** The credential this strategy reads on this request, or undefined when there is none for it. */
  credential(req: IncomingMessage): string | undefined;
  /** The verdict for whoever `credential` names. */
  identify(credential: string, q: Question, deps: DecideDeps): Verdict | Promise<Verdict>;
  /**
   * When this is the endpoint's last strategy, a client that brought no credential is asked for
   * Basic credentials rather than sent to the portal (Authelia's CanHandleUnauthorized): an endpoint
   * reading only Authorization, the nginx "HTTP Basic" variant, has no portal to offer.
   */
  readonly challengesAnonymous?: true;
}

export type AuthnStrategies = readonly AuthnStrategy[];

/** How a login is asked for: the portal (null), a Basic challenge, or a Bearer one. */
export type Challenge = 'basic' | 'bearer' | null;

function login(q: Question, challenge: Challenge): Refusal {
  return { kind: 'login', target: q.target, domain: q.domain, challenge };
}

/**
 * The rules' answer for an identity at a level (0 anonymous, 1 one factor, 2 two factors).
 * `challenge`: how the identity came (Basic credentials, a bearer token), so a login is asked for the
 * same way. `clientId`: an OAuth 2.0 client speaking for itself (`oauth2:client:` subjects): an
 * identity for the rules, none for the app (no Remote-User: a client is no user).
 */
export function judge(q: Question, identity: SessionIdentity | null, level: number, deps: Pick<DecideDeps, 'authorizer'>, challenge: Challenge, clientId?: string): Verdict {
  const decision = deps.authorizer.evaluate(
    { host: q.target.host, path: q.target.path, method: q.target.method, ip: q.ip },
    identity ? { username: identity.username, groups: identity.groups } : clientId ? { groups: [], clientId } : null,
  );
  const known = identity !== null || clientId !== undefined;
  if (decision.policy === 'bypass') return { kind: 'allow', identity, target: q.target, ip: q.ip };
  if (decision.policy === 'deny') {
    // an anonymous user on a rule that names subjects may be one of them: log in first
    return known || !decision.hasSubjects ? FORBIDDEN : login(q, challenge);
  }
  if (known && level >= requiredLevel(decision.policy)) return { kind: 'allow', identity, target: q.target, ip: q.ip };
  return login(q, challenge);
}

/**
 * Who is asking for what, and may they. Immediate when everything needed is at hand (no credential,
 * or a session and its user in memory: the common case), else a promise (the session store, a
 * password check). Errors propagate: answer.ts turns them into a deny.
 */
export function decide(req: IncomingMessage, locate: Locate, deps: DecideDeps, strategies: AuthnStrategies, routed: Routed | null = null): Verdict | Promise<Verdict> {
  const peer = normaliseIp(req.socket.remoteAddress ?? '');
  const trusted = deps.isTrustedProxy(peer);
  let target: AuthzTarget;
  try {
    target = locate(req, trusted, routed);
  } catch (error) {
    if (error instanceof BadAuthzRequest) return { kind: 'bad-request', reason: error.message };
    throw error;
  }
  const domain = cookieDomainFor(target.host, deps.cookieDomains);
  // deny: the target host is outside every cookie domain, so no session could ever be valid there
  if (!domain) return { kind: 'bad-request', reason: `host '${target.host}' is not under any session.cookies domain` };
  const q: Question = { target, domain, ip: clientIp(peer, req.headers['x-forwarded-for'], deps.isTrustedProxy) };
  // only what this endpoint's strategies name is read: an unlisted header or cookie is no identity
  for (let i = 0; i < strategies.length; i++) {
    const strategy = strategies[i]!;
    const credential = strategy.credential(req);
    if (credential !== undefined) return strategy.identify(credential, q, deps);
  }
  return judge(q, null, 0, deps, strategies.at(-1)?.challengesAnonymous ? 'basic' : null);
}
