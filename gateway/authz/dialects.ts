/**
 * The dialects Gatehouse answers in, as a table: one row per way of being asked (nginx auth_request,
 * Traefik/Caddy forwardAuth, Authelia's legacy /api/verify, and the embedded proxy, which asks
 * itself). Each row says where the target of the question comes from and what every refusal looks
 * like, over HTTP and as the raw answer to a WebSocket upgrade. answer.ts turns a row and a verdict
 * into an answer; a new dialect is a new row.
 */
import { InternalError } from '../../lib/errors.ts';
import type { Locate, Refusal, RefusalKind } from './decide.ts';
import { BadAuthzRequest, resolveTarget, targetFromRequest, type AuthzDialect } from './target.ts';

export type Dialect = AuthzDialect | 'embedded';

/** A refusal's status and body text (the body may name the verdict's detail). */
export type RefusalCell<K extends RefusalKind> = readonly [status: number, body: string | ((verdict: Extract<Refusal, { kind: K }>) => string)];

export interface DialectRow {
  readonly name: Dialect;
  /** Where the target is read from, in words. */
  readonly target: string;
  readonly locate: Locate;
  /** The request methods the endpoint takes (any other: 405); null for any. */
  readonly methods: ReadonlySet<string> | null;
  /** The Content-Type of the bodies in `refusals`. */
  readonly contentType: string;
  /** Each refusal over HTTP. `login` is the answer to a client that is not redirected. */
  readonly refusals: { readonly [K in RefusalKind]: RefusalCell<K> };
  readonly login: {
    /**
     * Where the portal is: the target's cookie domain's; that one unless the proxy names another in the
     * `authelia_url` query parameter (Authelia 4.38; honoured only under the target's cookie domain);
     * or the `rd` query parameter the proxy sent (when safe). None (a legacy session.domain cookie, and the
     * proxy named none): the login refusal is a plain 401.
     */
    readonly portal: 'cookie-domain' | 'authelia-url-parameter' | 'rd-parameter';
    /**
     * How the portal is offered: on the 401 as Location for the proxy to turn into a redirect
     * (nginx's error_page), or as a 302/303 to browsers and a plain 401 to every other client.
     */
    readonly offer: 'location-on-401' | 'redirect-browsers';
    /** The text of the link in a redirect's body. */
    readonly linkText: (status: number) => string;
  };
  /**
   * The status of each refusal answered on the raw socket of a WebSocket upgrade (no body, no
   * redirect: a WebSocket client follows none); null for a dialect never asked over an upgrade.
   */
  readonly upgrade: { readonly [K in RefusalKind]: number } | null;
}

const GET_HEAD: ReadonlySet<string> = new Set(['GET', 'HEAD']);
const HTML = 'text/html; charset=utf-8';
const PLAIN = 'text/plain; charset=utf-8';

/** What the three forward-auth endpoints share: a proxy reads the status and passes the body to the browser. */
const FORWARD_AUTH_REFUSALS = {
  forbidden: [403, '403 Forbidden'],
  login: [401, '401 Unauthorized'],
  'bad-credentials': [401, '401 Unauthorized'],
  busy: [429, '429 Too Many Requests'],
  'bad-request': [400, '400 Bad Request'],
  unavailable: [503, '503 Service Unavailable'],
  error: [500, '500 Internal Server Error'],
} as const satisfies DialectRow['refusals'];

const statusLink = (status: number) => String(status);

export const DIALECTS: { readonly [D in Dialect]: DialectRow & { readonly name: D } } = {
  'auth-request': {
    name: 'auth-request',
    target: 'X-Original-URL and X-Original-Method, from a trusted proxy',
    locate: (req, trusted) => resolveTarget(req, 'auth-request', trusted),
    methods: GET_HEAD,
    contentType: HTML,
    refusals: FORWARD_AUTH_REFUSALS,
    // nginx's auth_request passes on only 401 and 403; the portal rides on the 401
    login: { portal: 'authelia-url-parameter', offer: 'location-on-401', linkText: statusLink },
    upgrade: null,
  },
  'forward-auth': {
    name: 'forward-auth',
    target: 'X-Forwarded-Proto, -Host, -Uri and -Method, from a trusted proxy',
    locate: (req, trusted) => resolveTarget(req, 'forward-auth', trusted),
    methods: GET_HEAD,
    contentType: HTML,
    refusals: FORWARD_AUTH_REFUSALS,
    login: { portal: 'authelia-url-parameter', offer: 'redirect-browsers', linkText: statusLink },
    upgrade: null,
  },
  legacy: {
    name: 'legacy',
    target: 'X-Original-URL or X-Forwarded-* (both: they must agree), from a trusted proxy; the method of the request itself when none is forwarded',
    locate: (req, trusted) => resolveTarget(req, 'legacy', trusted),
    methods: null,
    contentType: HTML,
    // Authelia's /api/verify answers a malformed question as unauthenticated
    refusals: { ...FORWARD_AUTH_REFUSALS, 'bad-request': [401, '401 Unauthorized'] },
    login: { portal: 'rd-parameter', offer: 'redirect-browsers', linkText: statusLink },
    upgrade: null,
  },
  embedded: {
    name: 'embedded',
    target: 'the request itself (its Host must be the host it was routed by); X-Forwarded-Proto from a trusted proxy',
    locate: (req, trusted, routed) => {
      if (!routed) throw new InternalError('internal_error', 'the embedded proxy locates only requests it routed');
      const target = targetFromRequest(req, routed.scheme, trusted);
      // deny: the rules must judge the very host the upstream was chosen by
      if (target.host !== routed.host) throw new BadAuthzRequest(`the target host '${target.host}' is not the routed host '${routed.host}'`);
      return target;
    },
    methods: null,
    contentType: PLAIN,
    // the browser reads these itself: they say what happened
    refusals: {
      forbidden: [403, '403 Forbidden: your account is not allowed here.'],
      login: [401, '401 Unauthorized'],
      'bad-credentials': [401, '401 Unauthorized'],
      busy: [429, '429 Too Many Requests: too many sign-in attempts are being checked; try again shortly.'],
      'bad-request': [400, '400 Bad Request'],
      unavailable: [503, (verdict) => `503 Service Unavailable: ${verdict.message}`],
      error: [500, '500 Internal Server Error'],
    },
    login: { portal: 'cookie-domain', offer: 'redirect-browsers', linkText: () => 'Sign in' },
    upgrade: { forbidden: 403, login: 401, 'bad-credentials': 401, busy: 401, 'bad-request': 400, unavailable: 503, error: 500 },
  },
};
