/**
 * `npm run bench:oidc`: the OpenID Connect provider of an in-process gateway (SQLite, or PostgreSQL with
 * --storage postgres), each figure next to a baseline measured in the same run at the same concurrency
 * over the same keep-alive connections: the forward-auth check of a level-1 session
 * (GET /api/authz/auth-request).
 *   1. refreshes per second at the token endpoint: grant_type=refresh_token, client_secret_basic with a
 *      PBKDF2-SHA512 client secret at its default cost (only the first check pays it: a right secret is
 *      remembered, gateway/oidc/client-auth.ts), each worker following its own rotated token chain;
 *      also how many secret digests were computed (the audit lines of checks, `method=oidc-client`);
 *   2. authorization-code logins per second for a signed-in gateway session with implicit consent:
 *      authorization → interaction page → resume → code at the redirect URI → token endpoint (PKCE).
 * One response of each kind is first checked by openid-client (a certified relying party). Bounded in
 * count and in time, loopback only; prints the figures and the ratios, asserts nothing about speed.
 */
import { generateKeyPairSync } from 'node:crypto';
import type { Agent, IncomingHttpHeaders } from 'node:http';
import { parseArgs } from 'node:util';
import * as client from 'openid-client';
import { hashClientSecret } from '../../lib/client-secret.ts';
import { parseSetCookie, type SetCookie } from '../helpers/http.ts';
import { login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { codeFlowStart, discover, ISSUER, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { Worker } from 'node:worker_threads';
import type { LoadJob, LoadResult } from './http-load-worker.ts';

const http = process.getBuiltinModule('node:http');

const HELP = `Usage: npm run bench:oidc -- [--seconds S] [--max N] [--concurrency N] [--storage sqlite|postgres]
  --seconds S       at most S seconds per measurement (default 5)
  --max N           at most N requests (or logins) per measurement (default 20000)
  --concurrency N   requests in flight (default 8)
  --storage E       sqlite (default) or postgres (a fresh database on 127.0.0.1:5432)
  --only W          refresh or logins: measure only that (and the baseline), e.g. under --cpu-prof
  --alg A           the client's id_token_signed_response_alg: RS256 (default) or ES256 (a P-256 key is
                    added to jwks beside the RSA one)
`;

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    max: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '8' },
    storage: { type: 'string', default: 'sqlite' },
    only: { type: 'string', default: 'all' },
    alg: { type: 'string', default: 'RS256' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(HELP);
  process.exit(0);
}
const SECONDS = Number(values.seconds);
const MAX = Number(values.max);
const CONCURRENCY = Number(values.concurrency);
const ENGINE = values.storage === 'postgres' ? 'postgres' : 'sqlite';
const ONLY = values.only;
const ALG = values.alg === 'ES256' ? 'ES256' : 'RS256';

const REDIRECT = 'https://app.example.test/oauth2/callback';
const SECRET = 'a-bench-client-secret-long-enough-0123456789';
const PASSWORD = 'Old-Lantern-Orbit-47';
const SCOPE = 'openid profile email groups offline_access';
const BASIC = `Basic ${Buffer.from(`app:${SECRET}`).toString('base64')}`;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  cookies: SetCookie[];
}

/** One request to the gateway on 127.0.0.1 as the TLS-terminating proxy would send it, over `agent`'s kept-alive sockets. */
function send(agent: Agent, port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path, agent, headers: { host: `auth.example.test:${port}`, 'x-forwarded-proto': 'https', ...headers, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const raw = res.headers['set-cookie'] ?? [];
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), cookies: raw.map(parseSetCookie) });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** `workers` loops of `step` with CONCURRENCY in flight, until MAX steps or SECONDS; steps per second. */
async function throughput(step: (worker: number) => Promise<void>): Promise<{ rate: number; done: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const end = started + SECONDS * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, worker) => {
      while (done < MAX && performance.now() < end) {
        await step(worker);
        done += 1;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  // the whole process: the gateway and this load generator, threads included
  return { rate: done / ((performance.now() - started) / 1000), done, cpuMs: (used.user + used.system) / 1000 / Math.max(done, 1) };
}

/**
 * A load from the worker thread (tests/bench/http-load-worker.ts), so the gateway's thread has a core to
 * itself: steps per second, and the gateway thread's busy time per step (its event loop utilisation).
 */
async function throughputInThread(job: Omit<LoadJob, 'port' | 'concurrency' | 'seconds' | 'max'>, port: number): Promise<{ rate: number; done: number; cpuMs: number; chains: string[] }> {
  const before = performance.eventLoopUtilization();
  const worker = new Worker(new URL('./http-load-worker.ts', import.meta.url), { workerData: { ...job, port, concurrency: CONCURRENCY, seconds: SECONDS, max: MAX } satisfies LoadJob });
  const result = await new Promise<LoadResult>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await worker.terminate();
  const busy = performance.eventLoopUtilization(before);
  return { rate: result.done / (result.elapsedMs / 1000), done: result.done, cpuMs: busy.active / Math.max(result.done, 1), chains: result.chains };
}

const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

/** The code flow with a cookie jar over kept-alive sockets, as a browser: the redirect URI it ends at. */
async function authorize(agent: Agent, port: number, cookie: string, url: URL): Promise<URL> {
  const jar = new Map<string, string>([cookie.split('=') as [string, string]]);
  let next = `${url.pathname}${url.search}`;
  for (let hop = 0; hop < 8; hop++) {
    const answer = await send(agent, port, 'GET', next, { accept: 'text/html', cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') });
    for (const c of answer.cookies) jar.set(c.name, c.value);
    const location = answer.headers.location;
    if (answer.status < 300 || answer.status >= 400 || !location) throw new Error(`authorization stopped at ${next}: ${answer.status} ${answer.body.slice(0, 200)}`);
    const target = new URL(location, ISSUER);
    if (target.origin !== ISSUER) return target;
    next = `${target.pathname}${target.search}`;
  }
  throw new Error('authorization: too many redirects');
}

async function main(): Promise<void> {
  let database: TestDatabase | undefined;
  const config: Record<string, unknown> = {
    access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
    identity_providers: {
      oidc: {
        jwks: [
          { key: testSigningKey() },
          ...(ALG === 'ES256' ? [{ key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() }] : []),
        ],
        clients: [
          {
            client_id: 'app',
            client_name: 'The App',
            // the default cost, as `gatehouse crypto hash generate pbkdf2` writes it
            client_secret: await hashClientSecret(SECRET),
            redirect_uris: [REDIRECT],
            scopes: ['openid', 'profile', 'email', 'groups', 'offline_access'],
            grant_types: ['authorization_code', 'refresh_token'],
            authorization_policy: 'one_factor',
            consent_mode: 'implicit',
            id_token_signed_response_alg: ALG,
          },
        ],
      },
    },
  };
  if (ENGINE === 'postgres') {
    database = await createTestDatabase();
    const { timeout: _ms, ...connection } = database.options;
    config['storage'] = { local: undefined, postgres: { ...connection, timeout: '5s' } };
  }
  let gw: InProcessGateway | undefined;
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    gw = await startInProcessGateway({ users: { alice: { password: PASSWORD, email: 'alice@example.test', groups: ['admins'] } }, config });
    const port = gw.port;
    // each digest computed is audited once, right or wrong (a refused check computes none)
    const digests = () => gw!.logs().filter((r) => typeof r.msg === 'string' && /authentication (success|failure);.*method=oidc-client/.test(r.msg)).length;
    const cookie = await login(gw, 'alice', PASSWORD);
    const rp = await discover(port, 'app', SECRET);

    // openid-client checks one full flow and one refresh (signatures, claims, rotation) before any figure
    const start = await codeFlowStart(rp, REDIRECT, SCOPE);
    const { leftTo } = await new OidcBrowser(port, cookie).visit(start.url.href);
    if (!leftTo) throw new Error('the code flow did not reach the redirect URI');
    const first = await client.authorizationCodeGrant(rp, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    const checked = await client.refreshTokenGrant(rp, first.refresh_token!);
    if (checked.claims()?.sub !== first.claims()?.sub) throw new Error('a refresh answered for another subject');

    // one token chain per worker (a refresh token works once)
    const chains: string[] = [checked.refresh_token!];
    while (chains.length < CONCURRENCY) {
      const more = await codeFlowStart(rp, REDIRECT, SCOPE);
      const at = await authorize(agent, port, cookie, more.url);
      chains.push((await client.authorizationCodeGrant(rp, at, { pkceCodeVerifier: more.verifier, expectedState: more.state, expectedNonce: more.nonce })).refresh_token!);
    }

    // the baseline and the refreshes: the load from its own thread (the gateway's thread busy time is the CPU figure)
    const authz = await throughputInThread({ kind: 'authz', cookie }, port);

    const digestsBefore = digests();
    const refresh = ONLY === 'logins' ? { rate: 0, done: 0, cpuMs: 0, chains } : await throughputInThread({ kind: 'refresh', basic: BASIC, chains }, port);
    const hashedDuring = digests() - digestsBefore;

    const logins = ONLY === 'refresh' ? { rate: 0, done: 0, cpuMs: 0 } : await throughput(async () => {
      const flow = await codeFlowStart(rp, REDIRECT, SCOPE);
      const at = await authorize(agent, port, cookie, flow.url);
      const code = at.searchParams.get('code');
      if (!code || at.searchParams.get('state') !== flow.state) throw new Error(`login: no code at ${at.href}`);
      const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: flow.verifier }).toString();
      const answer = await send(agent, port, 'POST', '/api/oidc/token', { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body);
      if (answer.status !== 200) throw new Error(`login token: ${answer.status} ${answer.body}`);
    });

    const cpu = (r: { cpuMs: number }) => `${r.cpuMs.toFixed(2)} ms CPU each`;
    console.log(`OpenID Connect provider (${ENGINE}, ID tokens ${ALG}, ${CONCURRENCY} in flight over keep-alive, ≤ ${SECONDS} s or ${fmt(MAX)} each)`);
    console.log('  (baseline and refreshes: the load comes from a worker thread, CPU is the gateway thread\'s busy time; logins: load in the same thread, CPU of the whole process)');
    console.log(`  baseline: forward-auth check of a level-1 session   ${fmt(authz.rate)}/s  (${cpu(authz)})`);
    if (ONLY !== 'logins') {
      console.log(`  refresh_token grant (client_secret_basic, PBKDF2)   ${fmt(refresh.rate)}/s  (ratio ${(refresh.rate / authz.rate).toFixed(3)}; ${cpu(refresh)})`);
      console.log(`    client secret digests computed: ${hashedDuring} in ${fmt(refresh.done)} refreshes (${digests()} in the whole run)`);
    }
    if (ONLY !== 'refresh') console.log(`  code-flow login (authorize → interaction → token)   ${fmt(logins.rate)}/s  (ratio ${(logins.rate / authz.rate).toFixed(3)}; ${cpu(logins)})`);
  } finally {
    agent.destroy();
    await gw?.close();
    await database?.drop();
  }
}

await main();
