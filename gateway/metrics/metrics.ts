/**
 * Prometheus metrics for the gateway (telemetry.metrics): forward-auth decisions and their latency, and
 * authentication attempts. Served on a listener of their own (default 127.0.0.1:9959, as Authelia's
 * port), never on the portal's host.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PasswordCheckStats } from '../../lib/password-checks.ts';

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
      new Gauge({
        name: 'gatehouse_password_checks_running',
        help: 'Password verifications being computed now.',
        registers: [registry],
        collect() {
          this.set(stats().running);
        },
      });
      new Gauge({
        name: 'gatehouse_password_checks_queued',
        help: 'Password verifications waiting for a free slot (the queue depth).',
        registers: [registry],
        collect() {
          this.set(stats().queued);
        },
      });
      new Gauge({
        name: 'gatehouse_password_checks_rejected',
        help: 'Password verifications refused with 429 since start, by the limit that refused them (client, queue, wait).',
        labelNames: ['limit'] as const,
        registers: [registry],
        collect() {
          for (const [limit, count] of Object.entries(stats().rejected)) this.labels(limit).set(count);
        },
      });
    },
  };
}
