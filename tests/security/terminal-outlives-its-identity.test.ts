// Item 3: a monitor terminal kept running after gateway logout, after its user was deleted or disabled,
// and after its token ended. Every terminal is bound to the identity that opened it and checked again
// (terminal.refresh_interval, driven here by an injected clock and the monitor's injected schedule,
// never by sleeping): a gateway sign-in must be re-confirmed through the gateway, tokens are re-checked
// against auth.json, and an ended identity closes the socket with 4401 "Your sign-in ended: …".
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pino from 'pino';
import { WebSocket } from 'ws';
import { startMonitor, type Monitor } from '../../monitor/app.ts';
import { parseMonitorConfig } from '../../monitor/config/load.ts';
import { GATEWAY_OTHER_USER, GATEWAY_STOPPED } from '../../monitor/terminal/identity-check.ts';
import { writeFileAtomic } from '../../lib/fs-atomic.ts';
import { request, type HttpResponse } from '../helpers/http.ts';
import { makeClock, startInProcessGateway, writeUsersFile, type InProcessGateway, type TestClock, type TestUser } from '../helpers/inprocess-gateway.ts';
import { freePort } from '../helpers/ports.ts';
import { rawHttp } from '../helpers/raw-http.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const PASSWORD = 'Operator-pass-2026';
const REFRESH_S = 30;
const FAST_ARGON2 = { memory: 1024, iterations: 1, parallelism: 1 };

interface Shell {
  closed: Promise<{ code: number; reason: string }>;
  isOpen(): boolean;
  session: string;
}

/** The monitor's periodic task, run by the test after moving the clock. */
function manualSchedule() {
  const tasks: (() => Promise<void>)[] = [];
  return {
    schedule: (task: () => Promise<void>) => {
      tasks.push(task);
      return () => void tasks.splice(tasks.indexOf(task), 1);
    },
    tick: async () => {
      for (const task of tasks) await task();
    },
  };
}

/** Opens `url` (a ws:// URL with its ticket) and resolves once the shell has answered. */
async function openShell(url: string, session: string, headers: Record<string, string> = {}): Promise<Shell & { ws: WebSocket }> {
  const ws = new WebSocket(url, { headers });
  let output = '';
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString('utf8') })));
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (data) => {
      output += data.toString();
      if (output.includes('ready=[2]')) resolve();
    });
    ws.on('open', () => ws.send('echo "ready=[$((1+1))]"\r'));
    ws.on('error', reject);
    void closed.then(({ code, reason }) => reject(new Error(`closed (${code} ${reason}) before the shell answered: ${output}`)));
  });
  return { ws, closed, session, isOpen: () => ws.readyState === WebSocket.OPEN };
}

/** The close the test expects now; bounded, so a terminal left open fails instead of hanging. */
async function closedWith(shell: Shell, reason: string | RegExp, what: string): Promise<void> {
  const result = await Promise.race([shell.closed, new Promise<null>((resolve) => setTimeout(() => resolve(null), 5_000).unref())]);
  assert.ok(result !== null, `${what}: the terminal is still open`);
  assert.equal(result.code, 4401, what);
  if (typeof reason === 'string') assert.equal(result.reason, reason, what);
  else assert.match(result.reason, reason, what);
}

describe('a terminal opened through the gateway ends when the gateway stops vouching for its user', () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  let gw: InProcessGateway;
  let monitor: Monitor;
  let base: string;
  let port: number;
  const clock = makeClock();
  const timer = manualSchedule();
  const shells: WebSocket[] = [];
  const users: Record<string, TestUser> = {
    alice: { password: PASSWORD, groups: ['admins'] },
    bob: { password: PASSWORD, groups: ['admins'] },
  };

  before(async () => {
    temp = await makeTempDir('gatehouse-terminal-gateway-');
    port = await freePort();
    base = `http://localhost:${port}`;
    const { config } = parseMonitorConfig({
      server: { address: 'tcp://127.0.0.1:0' },
      data_dir: join(temp.dir, 'monitor'),
      remote_user: { group_scopes: { admins: 'full_admin' }, assertion: { jwks_url: `http://127.0.0.1:${port}/jwks.json`, audience: 'monitor' } },
      terminal: { shell: '/bin/bash', user: 'nobody', max_sessions: 8, refresh_interval: `${REFRESH_S}s` },
    });
    monitor = await startMonitor(config, { logger: pino({ level: 'silent' }), now: clock.now, schedule: timer.schedule, argon2: FAST_ARGON2 });
    gw = await startInProcessGateway({
      dir: temp.dir,
      clock,
      users,
      config: {
        server: { address: `tcp://127.0.0.1:${port}`, upstreams: { default: monitor.url } },
        session: { cookies: [{ domain: 'localhost', authelia_url: `${base}/auth/` }] },
        access_control: { default_policy: 'one_factor' },
        identity_assertion: { audiences: { localhost: 'monitor' }, key_path: join(temp.dir, 'assertion.pem') },
      },
    });
  });
  after(async () => {
    for (const ws of shells) ws.terminate();
    await monitor?.close();
    await gw?.close();
    await temp?.cleanup();
  });

  const signIn = async (user: string): Promise<string> => {
    const answer = await request(`${base}/auth/api/firstfactor`, { method: 'POST', json: { username: user, password: PASSWORD }, headers: { origin: base } });
    assert.equal(answer.status, 200, answer.body);
    return `gatehouse_session=${answer.cookies.find((c) => c.name === 'gatehouse_session')!.value}`;
  };
  /** What the dashboard's fetch sends through the gateway. */
  const post = (cookie: string, path: string, json: unknown): Promise<HttpResponse> =>
    request(`${base}${path}`, { method: 'POST', json, headers: { cookie, accept: 'application/json', 'sec-fetch-site': 'same-origin' } });
  const open = async (cookie: string): Promise<Shell> => {
    const answer = await post(cookie, '/api/terminal/ticket', {});
    assert.equal(answer.status, 200, answer.body);
    const { ticket, session, renew_seconds: renew } = answer.json<{ ticket: string; session: string; renew_seconds: number }>();
    assert.equal(renew, REFRESH_S / 3, 'the page renews every third of the interval');
    const shell = await openShell(`ws://localhost:${port}/ws/terminal?ticket=${ticket}`, session, { cookie });
    shells.push(shell.ws);
    return shell;
  };
  const renew = (cookie: string, shell: Shell) => post(cookie, '/api/terminal/renew', { session: shell.session });
  /** The operator edits the users file; the gateway reads it now (as its watcher or SIGHUP would). */
  const setUsers = async (next: Record<string, TestUser>): Promise<void> => {
    await writeUsersFile(gw.usersPath, next);
    await gw.gateway.users.reload!();
  };

  /** Renewals stop arriving (the gateway refuses them): the next check past the interval closes the terminal. */
  const endsOnceUnconfirmed = async (cookie: string, shell: Shell, what: string): Promise<void> => {
    const refused = await renew(cookie, shell);
    assert.notEqual(refused.status, 200, `${what}: the gateway still let the renewal through`);
    clock.advance((REFRESH_S - 10) * 1000);
    await timer.tick();
    assert.ok(shell.isOpen(), `${what}: within the interval the terminal runs on`);
    clock.advance(11_000);
    await timer.tick();
    await closedWith(shell, GATEWAY_STOPPED, what);
  };

  it('while signed in, renewals through the gateway keep the terminal open past the interval', async () => {
    const cookie = await signIn('alice');
    const shell = await open(cookie);
    for (let i = 0; i < 3; i++) {
      clock.advance(20_000);
      const renewed = await renew(cookie, shell);
      assert.equal(renewed.status, 200, renewed.body);
      await timer.tick();
      assert.ok(shell.isOpen(), `after ${20 * (i + 1)} s with renewals`);
    }
  });

  it('gateway logout: renewals stop, the terminal closes with "Your sign-in ended"', async () => {
    const cookie = await signIn('alice');
    const shell = await open(cookie);
    const logout = await request(`${base}/auth/api/logout`, { method: 'POST', json: {}, headers: { cookie, origin: base } });
    assert.equal(logout.status, 200, logout.body);
    await endsOnceUnconfirmed(cookie, shell, 'gateway logout');
  });

  it('the user deleted from the gateway\'s users file: the terminal closes', async () => {
    const cookie = await signIn('alice');
    const shell = await open(cookie);
    const { alice: _gone, ...rest } = users;
    await setUsers(rest);
    await endsOnceUnconfirmed(cookie, shell, 'user deleted');
    await setUsers(users);
  });

  it('the user disabled at the gateway: the terminal closes', async () => {
    const cookie = await signIn('alice');
    const shell = await open(cookie);
    await setUsers({ ...users, alice: { ...users.alice!, disabled: true } });
    await endsOnceUnconfirmed(cookie, shell, 'user disabled');
    await setUsers(users);
  });

  it('a renewal that the gateway now sends for another user closes the terminal at once', async () => {
    const shell = await open(await signIn('alice'));
    const asBob = await renew(await signIn('bob'), shell);
    assert.equal(asBob.status, 403, asBob.body);
    await closedWith(shell, GATEWAY_OTHER_USER, 'another user');
  });

  it('a renewal for no open terminal is 404; a ticket without renewals closes after the interval', async () => {
    const cookie = await signIn('bob');
    assert.equal((await post(cookie, '/api/terminal/renew', { session: 'no-such-terminal' })).status, 404);
    const shell = await open(cookie);
    clock.advance((REFRESH_S + 1) * 1000);
    await timer.tick();
    await closedWith(shell, GATEWAY_STOPPED, 'never renewed');
  });
});

describe("a terminal opened with the monitor's own sign-in ends when its token does", () => {
  let monitor: Monitor;
  let cleanup: () => Promise<void>;
  let authPath: string;
  let session: string;
  const clock: TestClock = makeClock();
  const timer = manualSchedule();
  const shells: WebSocket[] = [];

  before(async () => {
    const temp = await makeTempDir('gatehouse-terminal-tokens-');
    cleanup = temp.cleanup;
    authPath = join(temp.dir, 'auth.json');
    const { config } = parseMonitorConfig({
      server: { address: 'tcp://127.0.0.1:0' },
      data_dir: temp.dir,
      terminal: { shell: '/bin/bash', user: 'nobody', max_sessions: 8, refresh_interval: `${REFRESH_S}s` },
    });
    monitor = await startMonitor(config, { logger: pino({ level: 'silent' }), now: clock.now, schedule: timer.schedule, argon2: FAST_ARGON2 });
    const setup = await request(`${monitor.url}/api/auth/setup`, { method: 'POST', json: { username: 'operator', password: PASSWORD, setup_code: monitor.setupCode() } });
    assert.equal(setup.status, 200, setup.body);
    session = setup.json<{ token: string }>().token;
  });
  after(async () => {
    for (const ws of shells) ws.terminate();
    await monitor?.close();
    await cleanup?.();
  });

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const login = async (): Promise<string> => {
    const answer = await request(`${monitor.url}/api/auth/login`, { method: 'POST', json: { username: 'operator', password: PASSWORD } });
    assert.equal(answer.status, 200, answer.body);
    return answer.json<{ token: string }>().token;
  };
  const apiToken = async (extra: Record<string, unknown> = {}): Promise<{ id: string; token: string }> => {
    const made = await request(`${monitor.url}/api/auth/generate-api-token`, { method: 'POST', json: { password: PASSWORD, token_name: 'script', scope: 'full_admin', ...extra }, headers: bearer(session) });
    assert.equal(made.status, 200, made.body);
    return made.json<{ id: string; token: string }>();
  };
  const open = async (token: string): Promise<Shell> => {
    const answer = await request(`${monitor.url}/api/terminal/ticket`, { method: 'POST', json: {}, headers: bearer(token) });
    assert.equal(answer.status, 200, answer.body);
    const { ticket, session: binding } = answer.json<{ ticket: string; session: string }>();
    const shell = await openShell(`${monitor.url.replace(/^http/, 'ws')}/ws/terminal?ticket=${ticket}`, binding);
    shells.push(shell.ws);
    return shell;
  };
  /** Another process (a second monitor, an operator's editor, ProxMenux's reset script) edits auth.json. */
  const editAuthFile = async (edit: (file: Record<string, any>) => void): Promise<void> => {
    const file = JSON.parse(await readFile(authPath, 'utf8')) as Record<string, any>;
    edit(file);
    await writeFileAtomic(authPath, JSON.stringify(file, null, 2), 0o600);
  };

  it('an API token revoked as ProxMenux\'s frontend sends it (DELETE, JSON type, no body) closes its terminal', async () => {
    const made = await apiToken();
    const shell = await open(made.token);
    const answer = await rawHttp(monitor.port, [`DELETE /api/auth/api-tokens/${made.id} HTTP/1.1`, 'Host: 127.0.0.1', `Authorization: Bearer ${session}`, 'Content-Type: application/json'].join('\r\n'));
    assert.equal(answer.status, 200, answer.body);
    await closedWith(shell, /^Your sign-in ended: its token was revoked/, 'API token revoked');
  });

  it('an API token deleted from auth.json by another process closes its terminal at the next check', async () => {
    const made = await apiToken();
    const shell = await open(made.token);
    await editAuthFile((file) => (file.api_tokens = file.api_tokens.filter((t: { id: string }) => t.id !== made.id)));
    await timer.tick();
    await closedWith(shell, 'Your sign-in ended: its API token was deleted', 'API token deleted');
  });

  it('an API token that expires while its terminal runs: closed at the first check after', async () => {
    const made = await apiToken({ expires_in_days: 1 });
    const shell = await open(made.token);
    await timer.tick();
    assert.ok(shell.isOpen(), 'still valid');
    clock.advance(86_400_000 + 1_000);
    await timer.tick();
    await closedWith(shell, 'Your sign-in ended: its token expired or is no longer valid', 'API token expired');
    session = await login(); // the setup session expired with the clock too
  });

  it('the local login disabled by another process (enabled: false, no user) closes the terminals of its sessions', async () => {
    const shell = await open(await login());
    await timer.tick();
    assert.ok(shell.isOpen());
    await editAuthFile((file) => Object.assign(file, { enabled: false, configured: false, username: null, password_hash: null }));
    await timer.tick();
    await closedWith(shell, 'Your sign-in ended: signed out, password changed or login disabled', 'login disabled');
  });
});
