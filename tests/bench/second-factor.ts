/**
 * `npm run bench:second-factor`: how fast the second factor is, each figure next to a baseline
 * measured in the same run on the same machine:
 *   1. TOTP verifications per second (gateway/secondfactor/totp.ts, skew 1: up to three HMACs and
 *      otplib's checks) against one bare HMAC-SHA1 per iteration (node:crypto);
 *   2. second-factor logins per second through the portal API of an in-process gateway (SQLite, or
 *      PostgreSQL with --storage postgres): POST /api/firstfactor then POST /api/secondfactor/totp,
 *      each code regulated (reserve + settle in the database), replay-guarded and audited, against
 *      the forward-auth check of a level-2 session (GET /api/authz/auth-request) at the same
 *      concurrency.
 * Bounded load on loopback only; prints the figures and ratios.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { generateSync } from 'otplib';
import pino from 'pino';
import { matchingStep } from '../../gateway/secondfactor/totp.ts';
import { openStorage } from '../../gateway/storage/open.ts';
import { storageOptionsFromConfig } from '../../gateway/storage/options.ts';
import { askAuthz, login, portal, PORTAL_ORIGIN, startInProcessGateway } from '../helpers/inprocess-gateway.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';

const HELP = `Usage: npm run bench:second-factor -- [--seconds S] [--users N] [--concurrency N] [--storage sqlite|postgres]
  --seconds S       seconds for each in-memory measurement (default 3)
  --users N         users signing in with password + TOTP (default 300; each signs in once)
  --concurrency N   requests in flight (default 16)
  --storage E       sqlite (default) or postgres (a fresh database on 127.0.0.1:5432)
`;

const { values } = parseArgs({
  options: { seconds: { type: 'string', default: '3' }, users: { type: 'string', default: '300' }, concurrency: { type: 'string', default: '16' }, storage: { type: 'string', default: 'sqlite' }, help: { type: 'boolean', default: false } },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const SECONDS = Number(values.seconds);
const USERS = Number(values.users);
const CONCURRENCY = Number(values.concurrency);
const ENGINE = values.storage === 'postgres' ? 'postgres' : 'sqlite';

/** Runs `work` repeatedly for `seconds`; returns iterations per second. */
async function perSecond(seconds: number, work: () => unknown | Promise<unknown>): Promise<number> {
  const end = performance.now() + seconds * 1000;
  let n = 0;
  const start = performance.now();
  while (performance.now() < end) {
    for (let i = 0; i < 100; i++) await work();
    n += 100;
  }
  return n / ((performance.now() - start) / 1000);
}

/** Runs `jobs` with `concurrency` in flight; returns jobs per second. */
async function throughput(jobs: (() => Promise<void>)[], concurrency: number): Promise<number> {
  let next = 0;
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < jobs.length) await jobs[next++]!();
  }));
  return jobs.length / ((performance.now() - start) / 1000);
}

const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

async function totpFigures(): Promise<void> {
  const secret = randomBytes(20);
  const config = { secret, algorithm: 'SHA1' as const, digits: 6, period: 30 };
  const now = Date.now();
  const code = generateSync({ secret: new Uint8Array(secret), epoch: Math.floor(now / 1000) });
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(now / 30_000)));
  await matchingStep(config, code, now, 1); // load otplib before measuring
  const hmac = await perSecond(SECONDS, () => createHmac('sha1', secret).update(counter).digest());
  const valid = await perSecond(SECONDS, () => matchingStep(config, code, now, 1));
  const wrong = await perSecond(SECONDS, () => matchingStep(config, code === '000000' ? '111111' : '000000', now, 1));
  console.log('TOTP verification (in memory, SHA1, 6 digits, skew 1)');
  console.log(`  baseline: bare HMAC-SHA1           ${fmt(hmac)}/s`);
  console.log(`  a valid code                       ${fmt(valid)}/s  (ratio ${(valid / hmac).toFixed(3)})`);
  console.log(`  a wrong code (all 3 steps tried)   ${fmt(wrong)}/s  (ratio ${(wrong / hmac).toFixed(3)})`);
}

async function loginFigures(): Promise<void> {
  let database: TestDatabase | undefined;
  const config: Record<string, unknown> = {
    access_control: { default_policy: 'deny', rules: [{ domain: 'secure.example.test', policy: 'two_factor' }] },
    regulation: { max_retries: 3, find_time: '2m', ban_time: '5m' },
    log: { level: 'warn' },
    // every simulated browser comes from 127.0.0.1: lift the per-client share of password checks
    authentication_backend: { password_checks: { per_client: 1024, queue: 10_000, max_wait: '30s' } },
  };
  if (ENGINE === 'postgres') {
    database = await createTestDatabase();
    const { timeout: _ms, ...connection } = database.options;
    config['storage'] = { local: undefined, postgres: { ...connection, timeout: '5s' } };
  }
  const names = Array.from({ length: USERS }, (_, i) => `user${i}`);
  const password = 'correct horse battery staple';
  const gw = await startInProcessGateway({ users: Object.fromEntries(names.map((name) => [name, { password }])), config, minFailureDelayMs: 0 });
  try {
    const storage = await openStorage(storageOptionsFromConfig(gw.config.storage), { logger: pino({ level: 'silent' }), migrate: false });
    const secrets = new Map<string, Buffer>();
    for (const name of names) {
      const secret = randomBytes(20);
      secrets.set(name, secret);
      await storage.totp.save({ username: name, issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret, createdAt: Date.now() });
    }
    await storage.close();
    const level2: string[] = [];
    const logins = await throughput(
      names.map((name) => async () => {
        const cookie = await login(gw, name, password);
        const response = await portal(gw, '/api/secondfactor/totp', {
          method: 'POST',
          json: { token: generateSync({ secret: new Uint8Array(secrets.get(name)!), epoch: Math.floor(Date.now() / 1000) }) },
          headers: { cookie, origin: PORTAL_ORIGIN, accept: 'application/json' },
        });
        if (response.status !== 200) throw new Error(`${name}: ${response.status} ${response.body}`);
        level2.push(`gatehouse_session=${response.cookies.find((c) => c.name === 'gatehouse_session')!.value}`);
      }),
      CONCURRENCY,
    );
    // after the logins, so both run warm
    const firstOnly = await throughput(names.slice(0, Math.min(100, USERS)).map((name) => async () => void (await login(gw, name, password))), CONCURRENCY);
    const checks = await throughput(
      Array.from({ length: USERS * 10 }, (_, i) => async () => {
        const response = await askAuthz(gw, 'auth-request', 'https://secure.example.test/', { cookie: level2[i % level2.length]! });
        if (response.status !== 200) throw new Error(`forward auth: ${response.status}`);
      }),
      CONCURRENCY,
    );
    console.log(`Second-factor logins through the API (${ENGINE}, ${USERS} users, ${CONCURRENCY} in flight, regulation on)`);
    console.log(`  baseline: forward-auth check of a level-2 session   ${fmt(checks)}/s`);
    console.log(`  password only (POST /api/firstfactor)               ${fmt(firstOnly)}/s`);
    console.log(`  password + TOTP (two requests, regulated code)      ${fmt(logins)}/s  (ratio ${(logins / checks).toFixed(3)})`);
  } finally {
    await gw.close();
    await database?.drop();
  }
}

await totpFigures();
await loginFigures();
