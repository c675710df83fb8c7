// The monitor's route table against a real started monitor: every row that is not PUBLIC refuses an
// anonymous caller (401 or 403; the terminal's WebSocket closes with 4401), every path under /api or
// /ws that is no row is denied, and every row with a rate limit answers 429 once the caller is over it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startMonitor, type Monitor } from '../../monitor/app.ts';
import { parseMonitorConfig } from '../../monitor/config/load.ts';
import { describeMonitorRoutes } from '../../monitor/routes.ts';
import type { RouteSummary } from '../../lib/route-table.ts';
import { request } from '../helpers/http.ts';
import { captureLogs } from '../helpers/logs.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const PASSWORD = 'Operator-pass-2026';

/** A concrete path for a row: a sample value for each `:parameter`, a file name for a prefix. */
function samplePath(row: RouteSummary): string {
  return row.path.replace(/:[A-Za-z]+/g, '0123456789abcdef').replace(/\*$/, 'index.html');
}

/** The status line a WebSocket upgrade on `target` gets (the socket is closed right after). */
function upgradeStatus(port: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () =>
      socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`),
    );
    let text = '';
    socket.setTimeout(5_000, () => socket.destroy(new Error(`no answer to an upgrade on ${target}`)));
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      if (text.includes('\r\n')) socket.destroy();
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(text.split('\r\n')[0] ?? ''));
  });
}

/** Opens a WebSocket as a browser would and resolves with how it was closed, and whether it ever opened. */
function webSocketOutcome(url: string): Promise<{ opened: boolean; code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    let opened = false;
    const timer = setTimeout(() => reject(new Error(`${url}: not closed within 5 s`)), 5_000);
    ws.addEventListener('open', () => (opened = true));
    ws.addEventListener('close', (event) => {
      clearTimeout(timer);
      resolve({ opened, code: event.code, reason: event.reason });
    });
  });
}

async function startFreshMonitor(prefix: string): Promise<{ monitor: Monitor; cleanup: () => Promise<void> }> {
  const temp = await makeTempDir(prefix);
  const { config } = parseMonitorConfig({ server: { address: 'tcp://127.0.0.1:0' }, data_dir: temp.dir });
  const monitor = await startMonitor(config, { logger: captureLogs().logger, argon2: { memory: 1024, iterations: 1, parallelism: 1 } });
  return { monitor, cleanup: temp.cleanup };
}

async function signIn(monitor: Monitor): Promise<string> {
  const setup = await request(`${monitor.url}/api/auth/setup`, { method: 'POST', json: { username: 'operator', password: PASSWORD, setup_code: monitor.setupCode() } });
  assert.equal(setup.status, 200, setup.body);
  return setup.json<{ token: string }>().token;
}

describe('every row of the route table, asked anonymously', () => {
  let monitor: Monitor;
  let cleanup: () => Promise<void>;
  before(async () => ({ monitor, cleanup } = await startFreshMonitor('gatehouse-route-table-')));
  after(async () => {
    await monitor?.close();
    await cleanup?.();
  });

  const rows = describeMonitorRoutes();
  for (const row of rows.filter((r) => r.guard !== 'PUBLIC' && r.method !== 'WS')) {
    it(`${row.method} ${row.path} (${row.guard}) → 401 or 403, and JSON`, async () => {
      const answer = await request(`${monitor.url}${samplePath(row)}`, { method: row.method, ...(row.method === 'GET' ? {} : { json: {} }) });
      assert.ok(answer.status === 401 || answer.status === 403, `${row.method} ${row.path}: ${answer.status} ${answer.body}`);
      assert.equal(answer.json<{ success: boolean }>().success, false);
    });
  }

  for (const row of rows.filter((r) => r.method === 'WS')) {
    it(`WS ${row.path} (${row.guard}) without a ticket, or with a made-up one → closed with 4401 Unauthorized`, async () => {
      const base = monitor.url.replace(/^http/, 'ws');
      for (const query of ['', '?ticket=', '?ticket=made-up']) {
        const outcome = await webSocketOutcome(`${base}${row.path}${query}`);
        assert.deepEqual({ code: outcome.code, reason: outcome.reason }, { code: 4401, reason: 'Unauthorized' }, `${row.path}${query}`);
      }
    });
  }

  for (const row of rows.filter((r) => r.guard === 'PUBLIC')) {
    it(`${row.method} ${row.path} (PUBLIC) never asks for credentials`, async () => {
      const answer = await request(`${monitor.url}${samplePath(row)}`, { method: row.method, ...(row.method === 'GET' ? {} : { json: {} }) });
      assert.ok(answer.status !== 401 && answer.status !== 403, `${row.method} ${row.path}: ${answer.status} ${answer.body}`);
    });
  }
});

describe('a path under /api or /ws that is no row is denied', () => {
  let monitor: Monitor;
  let cleanup: () => Promise<void>;
  let authorization: string;
  before(async () => {
    ({ monitor, cleanup } = await startFreshMonitor('gatehouse-route-table-unlisted-'));
    authorization = `Bearer ${await signIn(monitor)}`;
  });
  after(async () => {
    await monitor?.close();
    await cleanup?.();
  });

  // beside, below or above public rows, where a row mounted as a prefix, or a guard mounted after
  // the route instead of on it, would have answered
  const unlisted: [string, string][] = [
    ['GET', '/api/system-info/extra'],
    ['GET', '/api/health/'],
    ['GET', '/api/health/live'],
    ['GET', '/api/auth/status/x'],
    ['PUT', '/api/system-info'],
    ['DELETE', '/api/auth/status'],
    ['GET', '/api/auth/login'],
    ['POST', '/api/auth/login/x'],
    ['GET', '/api'],
    ['GET', '/api/'],
    ['GET', '/api/auth'],
    ['GET', '/api/auth/'],
    ['GET', '/api/ssl'],
    ['GET', '/api/terminal'],
    ['POST', '/api/terminal/ticket/x'],
    ['GET', '/api/auth/profile/avatar/x'],
    ['DELETE', '/api/auth/api-tokens/abc/def'],
    ['GET', '/api/index.html'],
    ['GET', '/api/nonexistent'],
    ['OPTIONS', '/api/auth/login'],
    ['OPTIONS', '/api/system'],
  ];

  it('anonymous: 401, as a guarded row answers, so nothing tells what exists', async () => {
    for (const [method, path] of unlisted) {
      const answer = await request(`${monitor.url}${path}`, { method, ...(method === 'GET' || method === 'OPTIONS' ? {} : { json: {} }) });
      assert.equal(answer.status, 401, `${method} ${path}: ${answer.body}`);
    }
  });

  it('signed in: 404 JSON, never another row\'s answer', async () => {
    for (const [method, path] of unlisted) {
      const answer = await request(`${monitor.url}${path}`, { method, headers: { authorization }, ...(method === 'GET' || method === 'OPTIONS' ? {} : { json: {} }) });
      assert.equal(answer.status, 404, `${method} ${path}: ${answer.body}`);
      assert.deepEqual(answer.json(), { success: false, message: 'Not found' }, `${method} ${path}`);
    }
  });

  it('under /ws: 404 over HTTP and for an upgrade; the terminal row itself is a WebSocket only (400 over HTTP)', async () => {
    for (const path of ['/ws', '/ws/', '/ws/terminal/', '/ws/terminal/x', '/ws/other', '/ws/index.html']) {
      const answer = await request(`${monitor.url}${path}`, { headers: { authorization } });
      assert.equal(answer.status, 404, `GET ${path}: ${answer.body}`);
      assert.equal(await upgradeStatus(monitor.port, `${path}?ticket=x`), 'HTTP/1.1 404 Not Found', `upgrade ${path}`);
    }
    assert.equal((await request(`${monitor.url}/ws/terminal`, { headers: { authorization } })).status, 400);
  });

  it('an upgrade on an API or dashboard path is no WebSocket row either: 404', async () => {
    for (const path of ['/api/system', '/api/terminal/ticket', '/', '/index.html']) {
      assert.equal(await upgradeStatus(monitor.port, path), 'HTTP/1.1 404 Not Found', path);
    }
  });
});

describe('every row with a rate limit answers 429 once the caller is over it', () => {
  let monitor: Monitor;
  let cleanup: () => Promise<void>;
  let authorization: string;
  before(async () => {
    ({ monitor, cleanup } = await startFreshMonitor('gatehouse-route-table-limits-'));
    authorization = `Bearer ${await signIn(monitor)}`;
    // this address has failed as often as the per-address window allows
    const limiter = monitor.auth.rateLimiter;
    for (let i = 0; i < 1_000 && !limiter.check({ ip: '127.0.0.1', user: null }).limited; i++) limiter.fail({ ip: '127.0.0.1', user: null });
    assert.ok(limiter.check({ ip: '127.0.0.1', user: null }).limited);
  });
  after(async () => {
    await monitor?.close();
    await cleanup?.();
  });

  it('each one, with a valid session where its guard needs one, before it checks or changes anything', async () => {
    const limited = describeMonitorRoutes().filter((row) => row.rateLimit !== null);
    assert.ok(limited.length >= 10);
    for (const row of limited) {
      const answer = await request(`${monitor.url}${samplePath(row)}`, { method: row.method, headers: { authorization }, json: {} });
      assert.equal(answer.status, 429, `${row.method} ${row.path}: ${answer.body}`);
      assert.ok(Number(answer.headers['retry-after']) > 0, `${row.method} ${row.path}: Retry-After`);
    }
    // nothing was changed: the session still works and the account is as it was
    assert.equal((await request(`${monitor.url}/api/system`, { headers: { authorization } })).status, 200);
    const state = await monitor.auth.store.read();
    assert.equal(state.enabled, true);
    assert.equal(state.totp_pending, null);
    assert.equal(state.api_tokens.length, 0);
  });
});
