/**
 * Answering, apart from deciding: one function turns a dialect's row (dialects.ts) and a refusal
 * into an answer, which an HTTP response or the raw socket of a WebSocket upgrade then carries.
 *
 * Fail closed is written here, once, for every dialect and transport (decideAndDeliver): whatever is
 * thrown while deciding or delivering becomes a refusal (503 when a backend did not answer, 500
 * otherwise) and is answered as such. Only a caller's delivery of `allow` ever lets a request through.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { RETRY_AFTER_S, unavailableMessage } from '../../lib/errors.ts';
import type { AuthzOutcome, GatewayMetrics } from '../metrics/metrics.ts';
import { decide, type AuthnStrategies, type DecideDeps, type Refusal, type RefusalKind, type Routed, type Verdict } from './decide.ts';
import type { DialectRow } from './dialects.ts';
import { isSafeRedirect } from './redirect.ts';
import type { AuthzTarget } from './target.ts';
import type { SessionIdentity } from '../session/user-session.ts';

// node:http as its CommonJS object: an ES import of it loads Node's bundled fetch client (CONVENTIONS.md)
const { STATUS_CODES } = process.getBuiltinModule('node:http');

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

const BASIC_CHALLENGE = 'Basic realm="Authorization Required"';
/** RFC 6750: the token is unknown, expired, revoked, or not for this target. */
const BEARER_INVALID = 'Bearer error="invalid_token"';
/** RFC 9470: the token is good, but its sign-in had fewer factors than the target asks. */
const BEARER_STEP_UP = 'Bearer error="insufficient_user_authentication", error_description="a sign-in with more factors is required"';
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Header values travel as UTF-8 bytes (Node writes latin1 strings byte for byte); line breaks never pass. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

export function headerValue(value: string | undefined): string {
  if (!value) return '';
  if (PRINTABLE_ASCII.test(value)) return value;
  return Buffer.from(value.replace(/[\r\n\0]/g, ' '), 'utf8').toString('latin1');
}

/**
 * The identity an app is told, as a flat list of the four Remote-* headers and their values: all four
 * even when empty (Caddy 2.6 would otherwise forward its literal placeholder upstream).
 */
export function identityHeaders(id: SessionIdentity | null): string[] {
  return [
    'Remote-User', headerValue(id?.username),
    'Remote-Groups', headerValue(id?.groups.join(',')),
    'Remote-Name', headerValue(id?.displayName),
    'Remote-Email', headerValue(id?.emails[0]),
  ];
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Authelia's rule: browsers (text/html anywhere, or `*\/*` first) are redirected; API clients and XHR get 401. */
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

function cell<K extends RefusalKind>(row: DialectRow, verdict: Extract<Refusal, { kind: K }>, headers: Record<string, string> = {}): Answer {
  const [status, body] = row.refusals[verdict.kind as K];
  const text = typeof body === 'string' ? body : body(verdict);
  if (text) headers['Content-Type'] = row.contentType;
  return { status, headers, body: text };
}

/** The query parameter a dialect reads the portal from, and whether it must be there (`rd`) or may be (`authelia_url`). */
const PORTAL_PARAMETER = { 'rd-parameter': { name: 'rd', required: true }, 'authelia-url-parameter': { name: 'authelia_url', required: false } } as const;

function loginAnswer(row: DialectRow, verdict: Extract<Refusal, { kind: 'login' }>, req: IncomingMessage): Answer {
  // a bearer token was good but not enough here: no portal redirect, a script cannot follow it
  if (verdict.challenge === 'bearer') return cell(row, verdict, { 'WWW-Authenticate': BEARER_STEP_UP });
  // Basic credentials were tried and are not enough here: ask for them again
  if (verdict.challenge === 'basic') return cell(row, verdict, { 'WWW-Authenticate': BASIC_CHALLENGE });
  let portal: URL | null = verdict.domain.portalUrl;
  const parameter = row.login.portal === 'cookie-domain' ? null : PORTAL_PARAMETER[row.login.portal];
  if (parameter) {
    const given = new URL(req.url ?? '/', 'http://x').searchParams.get(parameter.name);
    // deny: a portal outside the target's cookie domain would be an open redirect (refused, as Authelia, not replaced)
    if (given || parameter.required) portal = given ? isSafeRedirect(given, [verdict.domain.domain]) : null;
  }
  // deny without a way on: the proxy's portal was refused or missing where required, or a legacy cookie
  // has no portal of its own and the proxy named none (as Authelia: 401)
  if (!portal) return cell(row, verdict);
  const location = portalRedirect(portal, verdict.target);
  if (row.login.offer === 'location-on-401') return cell(row, verdict, { Location: location });
  if (!wantsRedirect(req)) return cell(row, verdict);
  // 303 after anything but a safe method, so the browser follows with a GET
  const status = SAFE_METHODS.has(verdict.target.method) ? 302 : 303;
  return { status, headers: { Location: location, 'Content-Type': 'text/html; charset=utf-8' }, body: `<a href="${escapeHtml(location)}">${escapeHtml(row.login.linkText(status))}</a>` };
}

/**
 * The answer to a refusal in a dialect. `websocket`: the answer to an upgrade, written on its raw
 * socket: the row's upgrade status, no body, and Retry-After when the status asks to retry.
 */
export function answerOf(row: DialectRow, verdict: Refusal, req: IncomingMessage, websocket = false): Answer {
  if (websocket) {
    const status = row.upgrade ? row.upgrade[verdict.kind] : row.refusals[verdict.kind][0];
    const headers: Record<string, string> = {};
    if (status === 503 || status === 429) headers['Retry-After'] = String(verdict.kind === 'busy' ? verdict.retryAfterSeconds : RETRY_AFTER_S);
    return { status, headers, body: '' };
  }
  switch (verdict.kind) {
    case 'login':
      return loginAnswer(row, verdict, req);
    case 'bad-credentials':
      return cell(row, verdict, { 'WWW-Authenticate': verdict.bearer ? BEARER_INVALID : BASIC_CHALLENGE });
    case 'busy':
      return cell(row, verdict, { 'Retry-After': String(verdict.retryAfterSeconds) });
    case 'unavailable':
      return cell(row, verdict, { 'Retry-After': String(RETRY_AFTER_S) });
    default:
      return cell(row, verdict);
  }
}

/** An answer on an HTTP response: never cached; a known length lets head and body leave in one write. */
export function writeAnswer(res: ServerResponse, answer: Answer): void {
  const headers = answer.headers;
  headers['Cache-Control'] = 'no-store';
  headers['Content-Length'] = String(Buffer.byteLength(answer.body));
  res.writeHead(answer.status, headers);
  res.end(res.req.method === 'HEAD' ? undefined : answer.body);
}

/** An answer as the raw bytes of an HTTP/1.1 response, for a socket no HTTP response owns (an upgrade). */
export function rawAnswer(answer: Answer): string {
  let head = `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ''}\r\n`;
  for (const name in answer.headers) head += `${name}: ${answer.headers[name]}\r\n`;
  return `${head}Connection: close\r\nContent-Length: 0\r\n\r\n`;
}

/** A refusal answered on an HTTP response in the row's dialect. */
export function refuseHttp(res: ServerResponse, row: DialectRow, verdict: Refusal, logger: Logger): void {
  if (verdict.kind === 'bad-request') logger.debug({ reason: verdict.reason, dialect: row.name }, 'authz: malformed question denied');
  writeAnswer(res, answerOf(row, verdict, res.req));
}

/** The error an exception becomes: 503 when a backend did not answer, 500 for anything else (logged here). */
function refusalForError(error: unknown, logger: Logger, dialect: string): Refusal {
  const message = unavailableMessage(error);
  // a backend that did not answer is reported once per outage by its outage log, not per request
  if (message !== null) return { kind: 'unavailable', message };
  logger.error({ err: error instanceof Error ? error.message : String(error), dialect }, 'authz: error while deciding; denied');
  return FAILED;
}

const FAILED: Refusal = Object.freeze({ kind: 'error' });

/** How one transport delivers verdicts: an HTTP response, or the raw socket of an upgrade. `C` is one exchange. */
export interface Delivery<C> {
  readonly row: DialectRow;
  readonly logger: Logger;
  /** Counts and times every answer, when given. */
  readonly metrics?: GatewayMetrics;
  /** Answers a refusal, or lets the request through on allow; may throw or reject (the request is then denied). */
  deliver(exchange: C, verdict: Verdict): void | Promise<void>;
  /** Whether an answer has begun: a deny can then only end the connection. */
  begun(exchange: C): boolean;
  /** Ends the exchange without a (further) answer. */
  abort(exchange: C): void;
}

const OUTCOME: Record<Verdict['kind'], AuthzOutcome> = {
  allow: 'allow',
  login: 'login',
  forbidden: 'forbidden',
  'bad-credentials': 'bad_credentials',
  busy: 'busy',
  'bad-request': 'bad_request',
  unavailable: 'error',
  error: 'error',
};

function record<C>(d: Delivery<C>, kind: Verdict['kind'], started: number): void {
  d.metrics?.authz(d.row.name, OUTCOME[kind], (performance.now() - started) / 1000);
}

function deny<C>(d: Delivery<C>, exchange: C, error: unknown, started: number): void {
  const refusal = refusalForError(error, d.logger, d.row.name);
  record(d, refusal.kind, started);
  if (d.begun(exchange)) return d.abort(exchange);
  try {
    const delivered = d.deliver(exchange, refusal);
    if (delivered instanceof Promise) delivered.catch(() => d.abort(exchange));
  } catch {
    d.abort(exchange);
  }
}

function deliverSafely<C>(d: Delivery<C>, exchange: C, verdict: Verdict, started: number): void {
  let delivered: void | Promise<void>;
  try {
    delivered = d.deliver(exchange, verdict);
  } catch (error) {
    return deny(d, exchange, error, started);
  }
  if (delivered instanceof Promise) delivered.then(() => record(d, verdict.kind, started), (error: unknown) => deny(d, exchange, error, started));
  else record(d, verdict.kind, started);
}

/**
 * Decides the question `req` asks in `d`'s dialect and delivers the verdict. Immediate when the
 * verdict is; the only place an authz error becomes an answer.
 */
export function decideAndDeliver<C>(d: Delivery<C>, exchange: C, req: IncomingMessage, deps: DecideDeps, strategies: AuthnStrategies, routed: Routed | null = null): void {
  const started = d.metrics ? performance.now() : 0;
  let verdict: Verdict | Promise<Verdict>;
  try {
    verdict = decide(req, d.row.locate, deps, strategies, routed);
  } catch (error) {
    return deny(d, exchange, error, started);
  }
  if (verdict instanceof Promise) verdict.then((v) => deliverSafely(d, exchange, v, started), (error: unknown) => deny(d, exchange, error, started));
  else deliverSafely(d, exchange, verdict, started);
}
