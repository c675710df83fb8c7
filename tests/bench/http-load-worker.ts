/**
 * The load generator of tests/bench/oidc.ts and ldap.ts, in its own thread: the gateway's event loop is left to the
 * gateway, as it is when its clients are other machines. Sends one kind of request from `concurrency`
 * loops over kept-alive sockets until `max` answers or `seconds`, and reports how many it got.
 */
import { parentPort, workerData } from 'node:worker_threads';

const http = process.getBuiltinModule('node:http');

export interface LoadJob {
  port: number;
  concurrency: number;
  seconds: number;
  max: number;
  /**
   * 'authz': the forward-auth check of `cookie`'s session; 'refresh': one refresh token chain per loop;
   * 'login': POST /api/firstfactor, each loop from its own client address, through `logins` in turn.
   */
  kind: 'authz' | 'refresh' | 'login';
  cookie?: string;
  basic?: string;
  chains?: string[];
  /** Right passwords only: a wrong one would be regulated (delayed, then banned), not measured. */
  logins?: Array<{ username: string; password: string }>;
}

export interface LoadResult {
  done: number;
  elapsedMs: number;
  chains: string[];
}

const job = workerData as LoadJob;
const agent = new http.Agent({ keepAlive: true, maxSockets: job.concurrency });

function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<{ status: number; body: string; cookies: string[] }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: job.port, method, path, agent, headers: { host: `auth.example.test:${job.port}`, 'x-forwarded-proto': 'https', ...headers, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), cookies: res.headers['set-cookie'] ?? [] }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const chains = [...(job.chains ?? [])];
let nextLogin = 0;
async function step(loop: number): Promise<void> {
  if (job.kind === 'login') {
    const { username, password } = job.logins![nextLogin++ % job.logins!.length]!;
    const body = JSON.stringify({ username, password });
    // one address per loop: the per-client limit of password checks in flight is the loop's own
    const answer = await send('POST', '/api/firstfactor', { 'content-type': 'application/json', accept: 'application/json', origin: 'https://auth.example.test', 'x-forwarded-for': `203.0.113.${loop + 1}` }, body);
    if (answer.status !== 200 || !answer.cookies.some((c) => c.startsWith('gatehouse_session=') && !c.startsWith('gatehouse_session=;'))) {
      throw new Error(`login as ${username}: ${answer.status} ${answer.body}`);
    }
    return;
  }
  if (job.kind === 'authz') {
    const answer = await send('GET', '/api/authz/auth-request', { 'x-original-url': 'https://app.example.test/', 'x-original-method': 'GET', cookie: job.cookie! });
    if (answer.status !== 200) throw new Error(`forward auth: ${answer.status}`);
    return;
  }
  const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: chains[loop]! }).toString();
  const answer = await send('POST', '/api/oidc/token', { authorization: job.basic!, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body);
  if (answer.status !== 200) throw new Error(`refresh: ${answer.status} ${answer.body}`);
  const tokens = JSON.parse(answer.body) as { refresh_token?: string; id_token?: string };
  if (!tokens.refresh_token || !tokens.id_token) throw new Error('refresh: no new refresh token or ID token');
  chains[loop] = tokens.refresh_token;
}

const started = performance.now();
const end = started + job.seconds * 1000;
let done = 0;
// counted when sent: `max` is a bound, never overshot by the requests still in flight
let sent = 0;
await Promise.all(
  Array.from({ length: job.concurrency }, async (_, loop) => {
    while (sent < job.max && performance.now() < end) {
      sent += 1;
      await step(loop);
      done += 1;
    }
  }),
);
agent.destroy();
parentPort!.postMessage({ done, elapsedMs: performance.now() - started, chains } satisfies LoadResult);
