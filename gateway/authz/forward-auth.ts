/**
 * The forward-auth endpoints (nginx auth_request, Traefik/Caddy forwardAuth, legacy /api/verify) over
 * HTTP. This is the hot path: a plain node:http handler that decides (decide.ts) and answers in the
 * endpoint's dialect (dialects.ts, answer.ts). Fail closed is answer.ts's decideAndDeliver: any error
 * becomes a deny, and only `allow`, written here, is ever a 200.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ASSERTION_HEADER } from './assertion.ts';
import { DEFAULT_AUTHN_STRATEGIES, type AuthnStrategies } from './authn-strategies.ts';
import { decideAndDeliver, identityHeaders, refuseHttp, writeAnswer, type Delivery } from './answer.ts';
import type { Allow, AuthzDeps } from './decide.ts';
import { DIALECTS } from './dialects.ts';
import type { AuthzDialect } from './target.ts';
import type { SessionIdentity } from '../session/user-session.ts';

export type { AuthzDeps } from './decide.ts';

/**
 * The identity the proxy passes on. All four Remote-* headers, even when empty: Caddy 2.6 would
 * otherwise forward its literal placeholder upstream. Only the proxy reads this answer, so no
 * Cache-Control; the flat list skips an object walk.
 */
function writeAllow(res: ServerResponse, id: SessionIdentity | null, assertion: string | null): void {
  const headers = identityHeaders(id);
  headers.push('Content-Length', '0');
  if (assertion !== null) headers.push(ASSERTION_HEADER, assertion);
  res.writeHead(200, headers);
  res.end();
}

/** The request handler for one dialect. */
export function createAuthzHandler(
  dialect: AuthzDialect,
  deps: AuthzDeps,
  strategies: AuthnStrategies = DEFAULT_AUTHN_STRATEGIES,
): (req: IncomingMessage, res: ServerResponse) => void {
  const row = DIALECTS[dialect];
  const { assertions, logger } = deps;
  const allow = (res: ServerResponse, verdict: Allow): void | Promise<void> => {
    const id = verdict.identity;
    if (!assertions) return writeAllow(res, id, null);
    if (!id) return writeAllow(res, id, '');
    // signing costs more than the rest of the decision: a repeat visitor's assertion comes from the cache
    const cached = assertions.cachedAssertionFor(id, verdict.target.host);
    if (cached !== undefined) return writeAllow(res, id, cached);
    return assertions.assertionFor(id, verdict.target.host).then((jws) => writeAllow(res, id, jws));
  };
  const http: Delivery<ServerResponse> = {
    row,
    logger,
    metrics: deps.metrics,
    deliver: (res, verdict) => (verdict.kind === 'allow' ? allow(res, verdict) : refuseHttp(res, row, verdict, logger)),
    begun: (res) => res.headersSent,
    abort: (res) => void res.destroy(),
  };
  const allowed = row.methods;
  const allowHeader = allowed ? [...allowed].join(', ') : '';
  return (req, res) => {
    if (allowed && !allowed.has(req.method ?? '')) return writeAnswer(res, { status: 405, headers: { Allow: allowHeader }, body: '' });
    decideAndDeliver(http, res, req, deps, strategies);
  };
}
