/**
 * `npm run bench:memory`: how much memory the gateway holds. Starts the gateway alone as the installed
 * command runs it (`node bin/gatehouse.js gateway --config`, after one first start so that its compile
 * cache is warm; SQLite storage, in-memory sessions, the users file; no monitor, no proxy) as a child
 * process, reads its resident set size (VmRSS in /proc/<pid>/status) once idle, drives forward
 * auth over keep-alive connections (a mix of anonymous questions, answered 401 or 302, and a signed-in
 * session, answered 200; every target path distinct, so a cache keyed by URL shows), then reads it
 * again right after the load and after a settle period. Then measures `npm start` (gateway and
 * monitor in one process, the embedded defaults) idle. Goals: the gateway alone <= 100 MB idle and
 * <= 130 MB after 1,000,000 requests. No garbage collection can be forced from outside, so each
 * figure includes whatever garbage V8 had not yet collected. A benchmark, not a test: it prints and
 * exits 0.
 * Loopback only; the load is bounded in count (--requests) and time (--max-seconds).
 */
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { hashPassword } from '../../lib/password-hash.ts';
import { startGatewayProcess } from '../helpers/gateway.ts';
import { request } from '../helpers/http.ts';
import { freePort, waitForPort } from '../helpers/ports.ts';
import { startService } from '../helpers/processes.ts';
import { repoPath, repoRoot } from '../helpers/repo.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const HELP = `Usage: npm run bench:memory -- [--requests N] [--max-seconds S] [--concurrency N] [--settle S] [--skip-start] [--node-options O] [--entry E]

Resident memory of the gateway alone idle, after N forward-auth requests and after a settle period,
then of 'npm start' (gateway and monitor) idle.
  --requests N      forward-auth requests to send (default 1000000)
  --max-seconds S   stop the load after S seconds even if N were not sent (default 600)
  --concurrency N   keep-alive connections asking at once (default 32)
  --settle S        seconds to wait before each idle reading (default 10)
  --skip-start      do not measure 'npm start'
  --node-options O  NODE_OPTIONS for the measured processes (e.g. '--max-semi-space-size=8'), to
                    compare V8 settings
  --entry E         gatehouse.js (default: the installed command, started once first so that its
                    compile cache is warm) or gatehouse.ts (no compile cache)
`;

const PASSWORD = 'bench password 123';
const MB = 1024 * 1024;
const out = (line = '') => process.stdout.write(`${line}\n`);

interface Resident {
  rss: number;
  /** VmHWM: the highest VmRSS so far. */
  peak: number;
  /** Private memory (heap, malloc) and pages of mapped files (Node's binary, native addons): rss = anon + file. */
  anon: number;
  file: number;
}

/** VmRSS and its parts (from /proc/<pid>/status), in bytes. */
function residentMemory(pid: number): Resident {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: field('VmRSS'), peak: field('VmHWM'), anon: field('RssAnon'), file: field('RssFile') };
}

const described = (r: Resident) => `RSS ${megabytes(r.rss)} (private ${megabytes(r.anon)}, mapped files ${megabytes(r.file)})`;

/** CPU time (user + system) a process has used so far, in seconds. */
function cpuSeconds(pid: number): number {
  // the fields after the command name, which is in parentheses and may hold spaces
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ, 100 on Linux)
}

const megabytes = (bytes: number) => `${(bytes / MB).toFixed(1)} MB`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface LoadResult {
  sent: number;
  seconds: number;
  statuses: Map<number, number>;
  errors: number;
  /** The highest VmRSS seen while sampling during the load. */
  sampledPeak: number;
}

/**
 * One keep-alive HTTP/1.1 connection that asks one question at a time and reads back the status.
 * Written on a bare socket because node:http's client costs more CPU than the gateway answering it,
 * and both share the same two cores.
 */
class KeepAliveConnection {
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  #pending: { resolve: (status: number) => void; reject: (error: Error) => void } | null = null;
  closed = false;

  constructor(port: number) {
    this.#socket = connect({ host: '127.0.0.1', port });
    this.#socket.setNoDelay(true);
    this.#socket.on('data', (chunk: Buffer) => {
      this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
      this.#answerIfComplete();
    });
    const fail = (error: Error) => {
      this.closed = true;
      this.#pending?.reject(error);
      this.#pending = null;
    };
    this.#socket.on('error', fail);
    this.#socket.on('close', () => fail(new Error('connection closed')));
  }

  ask(head: string): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#socket.write(head);
    });
  }

  #answerIfComplete(): void {
    const headEnd = this.#buffer.indexOf('\r\n\r\n');
    if (headEnd < 0 || !this.#pending) return;
    const head = this.#buffer.toString('latin1', 0, headEnd);
    const status = Number(head.slice(9, 12));
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    let end: number;
    if (length) end = headEnd + 4 + Number(length[1]);
    else if (/\r\ntransfer-encoding: *chunked/i.test(head)) {
      const last = this.#buffer.indexOf('\r\n0\r\n\r\n', headEnd);
      end = last < 0 ? Infinity : last + 7;
    } else end = headEnd + 4;
    if (this.#buffer.length < end) return;
    this.#buffer = this.#buffer.subarray(end);
    const { resolve } = this.#pending;
    this.#pending = null;
    resolve(status);
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** The request head of question `i`: three in four signed in, auth-request and forward-auth in turn. */
function question(i: number, cookie: string): string {
  const target = `/page/${i}?q=${i % 97}`;
  const session = i % 4 === 0 ? '' : `Cookie: ${cookie}\r\n`;
  if (Math.floor(i / 4) % 2 === 0) {
    return `GET /api/authz/auth-request HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Original-URL: https://app.example.test${target}\r\nX-Original-Method: GET\r\n${session}\r\n`;
  }
  return `GET /api/authz/forward-auth HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: app.example.test\r\nX-Forwarded-Uri: ${target}\r\nX-Forwarded-Method: GET\r\nAccept: text/html\r\n${session}\r\n`;
}

/** Sends up to `total` forward-auth questions from `concurrency` keep-alive connections. */
async function driveForwardAuth(options: { port: number; pid: number; cookie: string; total: number; maxSeconds: number; concurrency: number }): Promise<LoadResult> {
  const statuses = new Map<number, number>();
  let next = 0;
  let errors = 0;
  let sampledPeak = 0;
  const started = Date.now();
  const deadline = started + options.maxSeconds * 1000;
  let lastReport = started;
  const sampler = setInterval(() => {
    sampledPeak = Math.max(sampledPeak, residentMemory(options.pid).rss);
    if (Date.now() - lastReport < 15_000) return;
    lastReport = Date.now();
    const seconds = (lastReport - started) / 1000;
    out(`   … ${next} sent in ${seconds.toFixed(0)} s (${(next / seconds).toFixed(0)} req/s), RSS ${megabytes(residentMemory(options.pid).rss)}`);
  }, 1000);

  const worker = async () => {
    let connection = new KeepAliveConnection(options.port);
    while (next < options.total && Date.now() < deadline && errors < 1000) {
      const i = next++;
      try {
        const status = await connection.ask(question(i, options.cookie));
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
      } catch {
        errors++;
        connection.close();
        connection = new KeepAliveConnection(options.port);
      }
    }
    connection.close();
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    clearInterval(sampler);
  }
  return { sent: next, seconds: (Date.now() - started) / 1000, statuses, errors, sampledPeak };
}

interface Settings {
  requests: number;
  maxSeconds: number;
  concurrency: number;
  settle: number;
  env: NodeJS.ProcessEnv;
  entry: 'gatehouse.js' | 'gatehouse.ts';
}

async function gatewayAlone(values: Settings): Promise<string[]> {
  const { dir, cleanup } = await makeTempDir('gatehouse-bench-memory-');
  try {
    const usersPath = join(dir, 'users.yml');
    const hash = await hashPassword(PASSWORD, { memory: 1024, iterations: 1, parallelism: 1 });
    await writeFile(usersPath, stringify({ users: { alice: { displayname: 'Alice', password: hash, email: 'alice@example.test', groups: ['dev'] } } }), { mode: 0o600 });
    // the embedded defaults' services (SQLite, in-memory sessions, filesystem notifier), without the monitor behind it
    const configYaml = (port: number) =>
      stringify({
        server: { address: `tcp://127.0.0.1:${port}` },
        log: { level: 'info', format: 'text' },
        authentication_backend: { file: { path: usersPath } },
        access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
        session: { secret: 'hV3kPz8QmW2rT6yN9cLb4XjD7fGs5AeUZt', cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }] },
        storage: { encryption_key: 'Xq7vR2mLp9TzW4nB8cYd3JfH6sKa5GuEWq', local: { path: join(dir, 'db.sqlite3') } },
        notifier: { filesystem: { filename: join(dir, 'notifications.txt') } },
      });
    if (values.entry === 'gatehouse.js') {
      // as after the first start of an installation: the compile cache holds every module
      const first = await startGatewayProcess({ dir, env: values.env, entry: values.entry, configYaml: configYaml(await freePort()) });
      await first.stop();
    }
    const port = await freePort();
    const gateway = await startGatewayProcess({ dir, env: values.env, entry: values.entry, configYaml: configYaml(port) });
    try {
      await sleep(values.settle * 1000);
      const idle = residentMemory(gateway.pid);
      out(`   idle after ${values.settle} s: ${described(idle)}`);

      const login = await request(`${gateway.url}/api/firstfactor`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Host: 'auth.example.test', 'X-Forwarded-Proto': 'https' },
        body: JSON.stringify({ username: 'alice', password: PASSWORD }),
      });
      const session = login.cookies.find((c) => c.name === 'gatehouse_session');
      if (login.status !== 200 || !session) throw new Error(`login failed: ${login.status} ${login.body}`);

      const cpuBefore = cpuSeconds(gateway.pid);
      const load = await driveForwardAuth({ port, pid: gateway.pid, cookie: `${session.name}=${session.value}`, total: values.requests, maxSeconds: values.maxSeconds, concurrency: values.concurrency });
      const loaded = residentMemory(gateway.pid);
      const statuses = [...load.statuses].sort(([a], [b]) => a - b).map(([status, n]) => `${n} × ${status}`).join(', ');
      const cpuPerRequest = ((cpuSeconds(gateway.pid) - cpuBefore) / load.sent) * 1e6;
      out(`   load: ${load.sent} requests in ${load.seconds.toFixed(1)} s (${(load.sent / load.seconds).toFixed(0)} req/s, ${values.concurrency} keep-alive connections): ${statuses}, ${load.errors} errors`);
      out(`   gateway CPU: ${cpuPerRequest.toFixed(0)} µs per request (user + system; steadier than req/s on a shared machine)`);
      if (load.sent < values.requests) out(`   note: stopped by --max-seconds before ${values.requests} requests`);
      out(`   right after the load: ${described(loaded)}`);
      await sleep(values.settle * 1000);
      const settled = residentMemory(gateway.pid);
      out(`   ${values.settle} s later: ${described(settled)}`);
      const after = `after ${load.sent.toLocaleString('en-US')} req`;
      return [
        row('gateway alone, idle', idle.rss, '<= 100 MB', idle.rss <= 100 * MB),
        row(`gateway alone, ${after}`, loaded.rss, '<= 130 MB', loaded.rss <= 130 * MB),
        row(`gateway alone, ${after} + ${values.settle} s`, settled.rss, '<= 130 MB', settled.rss <= 130 * MB),
        row('gateway alone, highest during the load', load.sampledPeak, '', undefined),
        // start-up included: checking a password (the users file's dummy hash) takes argon2id's 64 MiB for a moment
        row('gateway alone, highest ever (VmHWM)', settled.peak, '', undefined),
      ];
    } finally {
      await gateway.stop();
    }
  } finally {
    await cleanup();
  }
}

/** `npm start` runs `node bin/gatehouse.ts start`: measured on that node process, on free ports. */
async function embeddedStart(settle: number, env: NodeJS.ProcessEnv, entry: Settings['entry']): Promise<string[]> {
  const { dir, cleanup } = await makeTempDir('gatehouse-bench-memory-start-');
  try {
    const [gatewayPort, monitorPort] = [await freePort(), await freePort()];
    const service = startService('gatehouse start', process.execPath, [repoPath('bin', entry), 'start'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        ...env,
        GATEHOUSE_DATA: dir,
        GATEHOUSE_SERVER_ADDRESS: `tcp://127.0.0.1:${gatewayPort}`,
        GATEHOUSE_MONITOR_SERVER_ADDRESS: `tcp://127.0.0.1:${monitorPort}`,
      },
    });
    try {
      await waitForPort(gatewayPort, { timeoutMs: 20_000, check: () => service.assertRunning(), what: 'the gateway of gatehouse start' });
      await waitForPort(monitorPort, { timeoutMs: 20_000, check: () => service.assertRunning(), what: 'the monitor of gatehouse start' });
      await sleep(settle * 1000);
      const idle = residentMemory(service.pid);
      out(`   idle after ${settle} s: ${described(idle)}`);
      return [row('npm start (gateway + monitor), idle', idle.rss, '', undefined)];
    } finally {
      await service.stop();
    }
  } finally {
    await cleanup();
  }
}

function row(what: string, bytes: number, goal: string, met: boolean | undefined): string {
  return `${what.padEnd(44)} ${megabytes(bytes).padStart(9)}   ${goal.padEnd(10)} ${met === undefined ? '' : met ? 'met' : 'NOT met'}`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string', default: '1000000' },
      'max-seconds': { type: 'string', default: '600' },
      concurrency: { type: 'string', default: '32' },
      settle: { type: 'string', default: '10' },
      'skip-start': { type: 'boolean', default: false },
      'node-options': { type: 'string' },
      entry: { type: 'string', default: 'gatehouse.js' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  const bounded = (text: string, min: number, max: number) => Math.min(Math.max(Math.trunc(Number(text)) || min, min), max);
  if (values.entry !== 'gatehouse.js' && values.entry !== 'gatehouse.ts') throw new Error('--entry is gatehouse.js or gatehouse.ts');
  const settings: Settings = {
    requests: bounded(values.requests, 1, 10_000_000),
    maxSeconds: bounded(values['max-seconds'], 1, 3_600),
    concurrency: bounded(values.concurrency, 1, 256),
    settle: bounded(values.settle, 0, 120),
    env: values['node-options'] === undefined ? {} : { NODE_OPTIONS: values['node-options'] },
    entry: values.entry,
  };
  out(`node ${process.version}; ${settings.requests} requests at most, for ${settings.maxSeconds} s at most${values['node-options'] === undefined ? '' : `; NODE_OPTIONS=${values['node-options']}`}`);
  out(`1. the gateway alone (node bin/${settings.entry} gateway --config: SQLite, in-memory sessions)`);
  const rows = await gatewayAlone(settings);
  if (!values['skip-start']) {
    out(`2. npm start (node bin/${settings.entry} start: gateway and monitor, embedded defaults)`);
    rows.push(...(await embeddedStart(settings.settle, settings.env, settings.entry)));
  }
  out();
  out(`${'process'.padEnd(44)} ${'VmRSS'.padStart(9)}   ${'goal'.padEnd(10)}`);
  for (const line of rows) out(line);
}

await main();
