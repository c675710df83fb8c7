/**
 * `node tests/bench/faults.ts`: figures for issue 7's faults, not a test.
 *  (a) forward auth while Redis hangs: a real gateway process, a real redis-server behind the stall
 *      proxy, a logged-in cookie, bounded load (autocannon, 20 connections, 5 s). Goal: no 200, every
 *      answer within 600 ms (session.redis.command_timeout is 500 ms).
 *  (b) SIGTERM under load: time from the signal to the process's exit while 20 connections keep asking.
 * Loopback only; every run is bounded in time.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { stringify } from 'yaml';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway.ts';
import { FAST_ARGON2, writeUsersFile } from '../helpers/inprocess-gateway.ts';
import { request } from '../helpers/http.ts';
import { freePort } from '../helpers/ports.ts';
import { startRedis } from '../helpers/redis.ts';
import { startStallProxy } from '../helpers/stall-proxy.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { generateSecret } from '../../lib/secret-strength.ts';

const CONNECTIONS = 20;
const SECONDS = 5;
const TARGET_HEADERS = { 'x-original-url': 'https://app.example.test/', 'x-original-method': 'GET' };

async function startGateway(dir: string, session: Record<string, unknown> = {}): Promise<GatewayProcess> {
  const port = await freePort();
  const secret = () => generateSecret();
  await writeUsersFile(join(dir, 'users.yml'), { alice: { password: 'alice-password' } });
  return startGatewayProcess({
    dir,
    configYaml: stringify({
      server: { address: `tcp://127.0.0.1:${port}` },
      log: { level: 'warn', format: 'json' },
      authentication_backend: { file: { path: join(dir, 'users.yml'), password: { argon2: FAST_ARGON2 } } },
      session: { secret: secret(), cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }], ...session },
      storage: { encryption_key: secret(), local: { path: join(dir, 'db.sqlite3') } },
      access_control: { default_policy: 'one_factor' },
    }),
  });
}

async function loginCookie(gw: GatewayProcess): Promise<string> {
  const answer = await request(`http://auth.example.test:${gw.port}/api/firstfactor`, {
    method: 'POST',
    json: { username: 'alice', password: 'alice-password' },
    headers: { 'x-forwarded-proto': 'https', origin: 'https://auth.example.test' },
  });
  const cookie = answer.cookies.find((c) => c.name === 'gatehouse_session');
  if (answer.status !== 200 || !cookie) throw new Error(`login failed: ${answer.status} ${answer.body}`);
  return `gatehouse_session=${cookie.value}`;
}

function load(url: string, cookie: string, seconds: number) {
  return autocannon({ url, headers: { ...TARGET_HEADERS, cookie }, connections: CONNECTIONS, duration: seconds, pipelining: 1, timeout: 5 });
}

export interface RedisHangFigures {
  answers_per_s: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
  answers: number;
  allowed_200: number;
  denied_401: number;
  other_status: number;
  errors: number;
  timeouts: number;
}

/**
 * (a) Forward auth while Redis hangs (after the 2 s in-process cache has lapsed). `stall: false` runs
 * the same load with Redis answering: the baseline.
 */
export async function runRedisHang(options: { stall?: boolean } = {}): Promise<RedisHangFigures> {
  const stall = options.stall ?? true;
  const temp = await makeTempDir('gatehouse-bench-hang-');
  const redis = await startRedis();
  const proxy = await startStallProxy({ host: redis.host, port: redis.port });
  let gw: GatewayProcess | undefined;
  try {
    gw = await startGateway(temp.dir, { redis: { host: proxy.host, port: proxy.port } });
    const cookie = await loginCookie(gw);
    if (stall) proxy.stall();
    await new Promise((resolve) => setTimeout(resolve, 2_500)); // past the session cache's TTL
    const r = await load(`${gw.url}/api/authz/auth-request`, cookie, SECONDS);
    const codes = r.statusCodeStats as unknown as Record<string, { count: number }>;
    const count = (code: string) => codes[code]?.count ?? 0;
    const answers = Object.values(codes).reduce((sum, c) => sum + c.count, 0);
    return {
      answers_per_s: Math.round(answers / SECONDS),
      p50_ms: r.latency.p50,
      p99_ms: r.latency.p99,
      max_ms: r.latency.max,
      answers,
      allowed_200: count('200'),
      denied_401: count('401'),
      other_status: answers - count('200') - count('401'),
      errors: r.errors,
      timeouts: r.timeouts,
    };
  } finally {
    proxy.resume();
    await gw?.stop();
    await proxy.close();
    await redis.stop();
    await temp.cleanup();
  }
}

export interface SigtermFigures {
  answers_before_signal_per_s: number;
  sigterm_to_exit_ms: number;
  exit_code: number | null;
}

/**
 * (b) SIGTERM while 20 connections keep asking (memory sessions): signal to exit. `connections: 0`
 * sends the signal to an idle gateway: the baseline.
 */
export async function runSigtermUnderLoad(options: { connections?: number } = {}): Promise<SigtermFigures> {
  const connections = options.connections ?? CONNECTIONS;
  const temp = await makeTempDir('gatehouse-bench-sigterm-');
  let gw: GatewayProcess | undefined;
  try {
    gw = await startGateway(temp.dir);
    const cookie = await loginCookie(gw);
    const started = Date.now();
    let answered = 0;
    let signalledAt = 0;
    const instance =
      connections === 0
        ? undefined
        : autocannon({ url: `${gw.url}/api/authz/auth-request`, headers: { ...TARGET_HEADERS, cookie }, connections, duration: SECONDS, timeout: 5 }, () => {});
    const finished = instance ? new Promise((resolve) => instance.once('done', resolve)) : Promise.resolve();
    instance?.on('response', () => {
      if (!signalledAt) answered++;
    });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    signalledAt = Date.now();
    process.kill(gw.pid, 'SIGTERM');
    const exit = await gw.exited;
    const exitedAt = Date.now();
    instance?.stop();
    await finished;
    return {
      answers_before_signal_per_s: Math.round(answered / ((signalledAt - started) / 1000)),
      sigterm_to_exit_ms: exitedAt - signalledAt,
      exit_code: exit.code,
    };
  } finally {
    await gw?.stop();
    await temp.cleanup();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const hang = await runRedisHang();
  console.log('forward auth while Redis hangs (20 connections, 5 s):');
  console.log(JSON.stringify(hang, null, 2));
  console.log(`goal: no 200 and every answer within 600 ms -> ${hang.allowed_200 === 0 && hang.max_ms <= 600 ? 'met' : 'NOT met'}`);
  const sigterm = await runSigtermUnderLoad();
  console.log('SIGTERM under load (20 connections):');
  console.log(JSON.stringify(sigterm, null, 2));
}
