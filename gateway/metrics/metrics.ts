/**
 * Prometheus metrics for the gateway (telemetry.metrics): forward-auth decisions and their latency, and
 * authentication attempts. Served on a listener of their own (default 127.0.0.1:9959, as Authelia's
 * port), never on the portal's host.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PasswordCheckStats } from '../../lib/password-checks.ts';
import { registerPasswordCheckMetrics } from '../../lib/password-checks-metrics.ts';

export type AuthzOutcome = 'allow' | 'login' | 'forbidden' | 'bad_credentials' | 'busy' | 'bad_request' | 'error';
export type AttemptResult = 'success' | 'failure' | 'banned' | 'busy';

export interface GatewayMetrics {
  registry: Registry;
  /** One forward-auth answer: which endpoint, what it said, how long it took (seconds). */
  authz(dialect: string, outcome: AuthzOutcome, seconds: number): void;
  attempt(method: 'portal' | 'basic', result: AttemptResult): void;
  /** Reports the password-check limiter's running and queued checks and its refusals at each scrape. */
  watchPasswordChecks(stats: () => PasswordCheckStats): void;
}

const OUTCOMES: AuthzOutcome[] = ['allow', 'login', 'forbidden', 'bad_credentials', 'busy', 'bad_request', 'error'];
const DIALECTS = ['auth-request', 'forward-auth', 'legacy', 'embedded'];

export function createGatewayMetrics(): GatewayMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'gatehouse_' });
  const decisions = new Counter({
    name: 'gatehouse_authz_requests_total',
    help: 'Forward-auth questions answered, by endpoint and outcome.',
    labelNames: ['dialect', 'outcome'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'gatehouse_authz_duration_seconds',
    help: 'Time from the question arriving to the answer being written.',
    labelNames: ['dialect'] as const,
    buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
    registers: [registry],
  });
  const attempts = new Counter({
    name: 'gatehouse_authentication_attempts_total',
    help: 'Password checks at the portal and with Basic credentials, by result.',
    labelNames: ['method', 'result'] as const,
    registers: [registry],
  });
  // label children bound once: the hot path only increments
  const boundDecisions = new Map<string, ReturnType<typeof decisions.labels>>();
  const boundLatency = new Map<string, ReturnType<typeof latency.labels>>();
  for (const dialect of DIALECTS) {
    boundLatency.set(dialect, latency.labels(dialect));
    for (const outcome of OUTCOMES) boundDecisions.set(`${dialect}/${outcome}`, decisions.labels(dialect, outcome));
  }
  return {
    registry,
    authz(dialect, outcome, seconds) {
      (boundDecisions.get(`${dialect}/${outcome}`) ?? decisions.labels(dialect, outcome)).inc();
      (boundLatency.get(dialect) ?? latency.labels(dialect)).observe(seconds);
    },
    attempt(method, result) {
      attempts.labels(method, result).inc();
    },
    watchPasswordChecks(stats) {
      registerPasswordCheckMetrics(registry, 'gatehouse_', stats);
    },
  };
}
