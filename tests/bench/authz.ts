/**
 * `npm run bench:authz`: an authorized GET /api/authz/auth-request with a Redis-backed session, against
 * a bare node:http server answering 200, both driven by the same load generator at 50 connections in
 * one run. Prints requests/s, p50 and p99 of both and their ratio. Targets: ratio >= 0.6, p99 <= 10 ms,
 * no errors. Load is bounded: fixed duration per run, loopback only.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import argon2 from 'argon2';
import autocannon from 'autocannon';
import { freePort } from '../helpers/ports.ts';
import { startRedis } from '../helpers/redis.ts';
import { startGatewayProcess } from '../helpers/gateway.ts';
import { startService } from '../helpers/processes.ts';
import { request } from '../helpers/http.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { repoPath } from '../helpers/repo.ts';
import { waitForPort } from '../helpers/ports.ts';

const run = promisify(execFile);

const HELP = `Usage: npm run bench:authz -- [--duration S] [--rounds N] [--connections N] [--tool wrk|autocannon]

Measures forward auth (nginx auth_request, Redis session) against a bare node:http baseline.
Baseline and gateway runs alternate for several rounds; the medians are reported, so a noisy
neighbour during one run does not decide the result.
  --duration S      seconds per measured run (default 5)
  --rounds N        baseline/gateway pairs (default 3; a 3 s warm-up of each comes first)
  --connections N   concurrent connections (default 50)
  --tool T          load generator: wrk (default when installed) or autocannon
`;

interface Result {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  requests: number;
}

async function haveWrk(): Promise<boolean> {
  try {
    await run('wrk', ['--version']).catch((e: { stdout?: string }) => {
      if (!e.stdout?.includes('wrk')) throw e;
    });
    return true;
  } catch {
    return false;
  }
}

function parseWrkLatency(text: string, label: string): number {
  const m = new RegExp(`^\\s*${label}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(text);
  if (!m) throw new Error(`wrk output has no ${label}% latency:\n${text}`);
  const value = Number(m[1]);
  return m[2] === 'us' ? value / 1000 : m[2] === 's' ? value * 1000 : value;
}

async function wrk(url: string, headers: Record<string, string>, seconds: number, connections: number): Promise<Result> {
  const args = ['-t', '1', '-c', String(connections), '-d', `${seconds}s`, '--latency', '--timeout', '2s'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  const { stdout } = await run('wrk', [...args, url], { timeout: (seconds + 30) * 1000 });
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1] ?? NaN);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const errors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { rps, p50: parseWrkLatency(stdout, '50'), p99: parseWrkLatency(stdout, '99'), errors, non2xx, requests };
}

async function autocannonRun(url: string, headers: Record<string, string>, seconds: number, connections: number): Promise<Result> {
  const r = await autocannon({ url, headers, connections, duration: seconds, pipelining: 1, timeout: 2 });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    requests: r.requests.total,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '5' },
      rounds: { type: 'string', default: '3' },
      connections: { type: 'string', default: '50' },
      tool: { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  const seconds = Math.min(Math.max(Number(values.duration), 1), 60);
  const rounds = Math.min(Math.max(Math.trunc(Number(values.rounds)), 1), 10);
  const connections = Math.min(Math.max(Number(values.connections), 1), 500);
  const tool = values.tool ?? ((await haveWrk()) ? 'wrk' : 'autocannon');
  const load = tool === 'wrk' ? wrk : autocannonRun;

  const { dir, cleanup } = await makeTempDir('gatehouse-bench-');
  const redis = await startRedis();
  const stops: Array<() => Promise<void>> = [cleanup, () => redis.stop()];
  try {
    const password = 'bench password 123';
    const hash = await argon2.hash(password, { type: argon2.argon2id, memoryCost: 1024, timeCost: 1 });
    await writeFile(join(dir, 'users.yml'), `users:\n  alice:\n    displayname: Alice\n    password: '${hash}'\n    email: alice@example.test\n    groups: [dev]\n`, { mode: 0o600 });
    const gwPort = await freePort();
    const gateway = await startGatewayProcess({
      dir,
      configYaml: `
server: { address: 'tcp://127.0.0.1:${gwPort}' }
log: { level: warn }
authentication_backend: { file: { path: '${join(dir, 'users.yml')}' } }
session:
  secret: 'hV3kPz8QmW2rT6yN9cLb4XjD7fGs5AeUZt'
  cookies: [{ domain: example.test, authelia_url: 'https://auth.example.test/' }]
  redis: { host: 127.0.0.1, port: ${redis.port} }
storage: { encryption_key: 'Xq7vR2mLp9TzW4nB8cYd3JfH6sKa5GuEWq', local: { path: '${join(dir, 'db.sqlite3')}' } }
access_control:
  default_policy: deny
  rules:
    - { domain: public.example.test, policy: bypass }
    - { domain: app.example.test, policy: one_factor }
`,
    });
    stops.unshift(() => gateway.stop());

    const login = await request(`${gateway.url}/api/firstfactor`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Host: 'auth.example.test', 'X-Forwarded-Proto': 'https' },
      body: JSON.stringify({ username: 'alice', password }),
    });
    const cookie = login.cookies.find((c) => c.name === 'gatehouse_session');
    if (login.status !== 200 || !cookie) throw new Error(`login failed: ${login.status} ${login.body}`);
    const headers = { 'X-Original-URL': 'https://app.example.test/dashboard', 'X-Original-Method': 'GET', Cookie: `${cookie.name}=${cookie.value}` };
    const check = await request(`${gateway.url}/api/authz/auth-request`, { headers });
    if (check.status !== 200 || check.headers['remote-user'] !== 'alice') throw new Error(`the authorized request was not authorized: ${check.status}`);

    const barePort = await freePort();
    const bare = startService('bare node:http', process.execPath, [repoPath('tests', 'bench', 'bare-server.ts'), String(barePort)]);
    stops.unshift(() => bare.stop());
    await waitForPort(barePort);

    process.stdout.write(`load generator: ${tool}, ${connections} connections, ${rounds} rounds of ${seconds}s each, alternating; node ${process.version}\n`);
    const bareUrl = `http://127.0.0.1:${barePort}/`;
    const authzUrl = `${gateway.url}/api/authz/auth-request`;
    // the baseline receives the very same request, so the ratio is the cost of deciding, not of parsing
    await load(bareUrl, headers, 3, connections);
    await load(authzUrl, headers, 3, connections);
    const baselines: Result[] = [];
    const authzs: Result[] = [];
    for (let round = 1; round <= rounds; round++) {
      baselines.push(await load(bareUrl, headers, seconds, connections));
      authzs.push(await load(authzUrl, headers, seconds, connections));
      const ratio = authzs.at(-1)!.rps / baselines.at(-1)!.rps;
      process.stdout.write(`  round ${round}: baseline ${baselines.at(-1)!.rps.toFixed(0)} req/s, auth-request ${authzs.at(-1)!.rps.toFixed(0)} req/s, ratio ${ratio.toFixed(2)}\n`);
    }
    const median = (values: number[]) => {
      const sorted = [...values].sort((a, b) => a - b);
      const mid = Math.floor(sorted.length / 2);
      return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    };
    const summary = (runs: Result[]): Result => ({
      rps: median(runs.map((r) => r.rps)),
      p50: median(runs.map((r) => r.p50)),
      p99: median(runs.map((r) => r.p99)),
      errors: runs.reduce((n, r) => n + r.errors, 0),
      non2xx: runs.reduce((n, r) => n + r.non2xx, 0),
      requests: runs.reduce((n, r) => n + r.requests, 0),
    });
    const baseline = summary(baselines);
    const authz = summary(authzs);

    const row = (name: string, r: Result) =>
      `${name.padEnd(34)} ${r.rps.toFixed(0).padStart(9)} ${r.p50.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)} ${String(r.errors + r.non2xx).padStart(7)}\n`;
    process.stdout.write(`\nmedians over ${rounds} rounds\n${'server'.padEnd(34)} ${'req/s'.padStart(9)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'errors'.padStart(7)}\n`);
    process.stdout.write(row('bare node:http (baseline)', baseline));
    process.stdout.write(row('auth-request, Redis session', authz));
    const ratio = median(authzs.map((r, i) => r.rps / baselines[i]!.rps));
    process.stdout.write(`\nratio (authz / baseline, median of rounds): ${ratio.toFixed(2)}   target >= 0.60\n`);
    process.stdout.write(`authz p99: ${authz.p99.toFixed(2)} ms   target <= 10 ms\n`);
    process.stdout.write(`authz errors: ${authz.errors + authz.non2xx} of ${authz.requests} requests   target 0\n`);
    const met = ratio >= 0.6 && authz.p99 <= 10 && authz.errors + authz.non2xx === 0;
    process.stdout.write(met ? 'targets: met\n' : 'targets: NOT met\n');
    process.exitCode = met ? 0 : 1;
  } finally {
    for (const stop of stops) await stop().catch(() => {});
  }
}

await main();
