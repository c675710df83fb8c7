/**
 * `node tests/bench/login-flood.ts [--seconds S] [--concurrency N]`: a real user's login while 60 anonymous logins flood
 * from one address (issue 7, item 2). Starts a gateway in this process with a users file hashed with
 * the default argon2id parameters (64 MiB, t=3, p=4) and the default password-check limits, keeps 60
 * logins for unknown users in flight from 198.51.100.7 (through the trusted proxy on loopback, as
 * X-Forwarded-For), and meanwhile logs a real user in from 203.0.113.5, one login after another.
 * Prints the real user's login latency (median, max), logins/s, and how the flood was answered.
 * Goal: the real user's login completes in under 2 s. Bounded: fixed duration, loopback only.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { availableParallelism } from 'node:os';
import { stringify } from 'yaml';
import { hashPassword } from '../../lib/password-hash.ts';
import { firstFactor, startInProcessGateway } from '../helpers/inprocess-gateway.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const FLOOD = 60;
const PASSWORD = 'correct horse battery staple';
const GOAL_MS = 2_000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)]!;
}

/** `flood: 0` measures the same real user alone: the baseline the flood is compared with. */
export async function runLoginFlood(options: { seconds?: number; concurrency?: number; flood?: number } = {}): Promise<Record<string, number | string>> {
  const seconds = options.seconds ?? 10;
  const floodSize = options.flood ?? FLOOD;
  const checks = options.concurrency === undefined ? {} : { password_checks: { concurrency: options.concurrency } };
  const temp = await makeTempDir('gatehouse-login-flood-');
  // default argon2id parameters, as `gatehouse users add` writes them
  await writeFile(join(temp.dir, 'users.yml'), stringify({ users: { alice: { displayname: 'Alice', password: await hashPassword(PASSWORD) } } }), { mode: 0o600 });
  const gw = await startInProcessGateway({
    dir: temp.dir,
    minFailureDelayMs: 500,
    // the gateway's defaults: argon2id 64 MiB t=3 p=4, password_checks at their defaults
    config: {
      authentication_backend: { file: { password: { argon2: { memory: 65536, iterations: 3, parallelism: 4 } } }, ...checks },
      access_control: { default_policy: 'one_factor' },
    },
  });
  const flood = { sent: 0, busy: 0, refused: 0, other: 0 };
  const latencies: number[] = [];
  let failedLogins = 0;
  try {
    const deadline = Date.now() + seconds * 1000;
    const flooder = async (worker: number) => {
      for (let i = 0; Date.now() < deadline; i++) {
        flood.sent++;
        const r = await firstFactor(gw, { username: `nobody-${worker}-${i}`, password: 'guess' }, { 'x-forwarded-for': '198.51.100.7' }).catch(() => null);
        if (r?.status === 429) flood.busy++;
        else if (r?.status === 401) flood.refused++;
        else flood.other++;
        // a hostile client retries a 429 at once; the short pause keeps the loop from spinning on loopback
        if (r?.status === 429) await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const realUser = async () => {
      // let the flood fill every slot first
      if (floodSize > 0) await new Promise((resolve) => setTimeout(resolve, 300));
      while (Date.now() < deadline) {
        const started = performance.now();
        const r = await firstFactor(gw, { username: 'alice', password: PASSWORD }, { 'x-forwarded-for': '203.0.113.5' }).catch(() => null);
        latencies.push(performance.now() - started);
        if (r?.status !== 200) failedLogins++;
      }
    };
    const started = performance.now();
    await Promise.all([...Array.from({ length: floodSize }, (_, worker) => flooder(worker)), realUser()]);
    const elapsed = (performance.now() - started) / 1000;
    const stats = gw.gateway.passwordChecks.stats();
    return {
      cpus: availableParallelism(),
      flood_clients: floodSize,
      password_checks_concurrency: gw.gateway.passwordChecks.limits.concurrency,
      seconds: Number(elapsed.toFixed(1)),
      real_user_logins: latencies.length,
      real_user_failed: failedLogins,
      real_user_logins_per_s: Number((latencies.length / elapsed).toFixed(2)),
      real_user_latency_median_ms: Math.round(median(latencies)),
      real_user_latency_max_ms: Math.round(Math.max(...latencies)),
      flood_sent: flood.sent,
      flood_429: flood.busy,
      flood_401: flood.refused,
      flood_other: flood.other,
      limiter_rejected_client: stats.rejected.client,
      limiter_rejected_queue: stats.rejected.queue,
      limiter_rejected_wait: stats.rejected.wait,
      goal: Math.max(...latencies) < GOAL_MS && failedLogins === 0 ? 'met (every real login < 2 s)' : 'NOT met',
    };
  } finally {
    await gw.close();
    await temp.cleanup();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '10' }, concurrency: { type: 'string' } } });
  const result = await runLoginFlood({ seconds: Number(values.seconds), ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}) });
  for (const [key, value] of Object.entries(result)) process.stdout.write(`${key.padEnd(30)} ${value}\n`);
  process.exitCode = String(result['goal']).startsWith('met') ? 0 : 1;
}
