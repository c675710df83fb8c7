/** The password-check limiter's state as Prometheus gauges, read at each scrape (gateway and monitor). */
import { Gauge, type Registry } from 'prom-client';
import type { PasswordCheckStats } from './password-checks.ts';

export function registerPasswordCheckMetrics(registry: Registry, prefix: string, stats: () => PasswordCheckStats): void {
  new Gauge({
    name: `${prefix}password_checks_running`,
    help: 'Password verifications being computed now.',
    registers: [registry],
    collect() {
      this.set(stats().running);
    },
  });
  new Gauge({
    name: `${prefix}password_checks_queued`,
    help: 'Password verifications waiting for a free slot (the queue depth).',
    registers: [registry],
    collect() {
      this.set(stats().queued);
    },
  });
  new Gauge({
    name: `${prefix}password_checks_rejected`,
    help: 'Password verifications refused with 429 since start, by the limit that refused them (client, queue, wait).',
    labelNames: ['limit'] as const,
    registers: [registry],
    collect() {
      for (const [limit, count] of Object.entries(stats().rejected)) this.labels(limit).set(count);
    },
  });
}
