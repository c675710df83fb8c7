// A web terminal lives no longer than the credential that opened it: logout ends that session's
// terminals, revoking an API token ends its terminals, a password change ends every terminal of the
// local login. Real monitor (startMonitor), real WebSocket and shell.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { startMonitor, type Monitor } from '../../monitor/app.ts';
import { parseMonitorConfig } from '../../monitor/config/load.ts';
import { request } from '../helpers/http.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const PASSWORD = 'Operator-pass-2026';

interface Shell {
  closed: Promise<{ code: number; reason: string }>;
  isOpen(): boolean;
}

describe('terminal sessions end with their credential', () => {
  let monitor: Monitor;
  let cleanup: () => Promise<void>;
  const shells: WebSocket[] = [];

  before(async () => {
    const temp = await makeTempDir('gatehouse-terminal-credentials-');
    cleanup = temp.cleanup;
    const { config } = parseMonitorConfig({
      server: { address: 'tcp://127.0.0.1:0' },
      data_dir: temp.dir,
      log: { level: 'warn' },
      terminal: { shell: '/bin/bash', user: 'nobody', max_sessions: 8 },
    });
    monitor = await startMonitor(config, { logger: pino({ level: 'silent' }), argon2: { memory: 1024, iterations: 1, parallelism: 1 } });
  });
  after(async () => {
    for (const ws of shells) ws.close();
    await monitor?.close();
    await cleanup?.();
  });

  const api = async (path: string, token: string, json: unknown = {}) => {
    const reply = await request(`${monitor.url}${path}`, { method: path.includes('api-tokens/') ? 'DELETE' : 'POST', json, headers: { authorization: `Bearer ${token}` } });
    assert.equal(reply.status, 200, `${path}: ${reply.body}`);
    return reply.json<Record<string, any>>();
  };

  /** A ticket for `token`, redeemed: resolves once the shell answers. */
  const openShell = async (token: string): Promise<Shell> => {
    const { ticket } = await api('/api/terminal/ticket', token);
    const ws = new WebSocket(`${monitor.url.replace(/^http/, 'ws')}/ws/terminal?ticket=${ticket}`);
    shells.push(ws);
    let output = '';
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.addEventListener('close', (e) => resolve({ code: e.code, reason: e.reason })));
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener('message', (e) => {
        output += String(e.data);
        if (output.includes('ready=[2]')) resolve();
      });
      ws.addEventListener('open', () => ws.send('echo "ready=[$((1+1))]"\r'));
      void closed.then(() => reject(new Error(`closed before the shell answered: ${output}`)));
    });
    return { closed, isOpen: () => ws.readyState === WebSocket.OPEN };
  };

  const ended = async (shell: Shell, what: string) => {
    const result = await Promise.race([shell.closed, new Promise<null>((resolve) => setTimeout(() => resolve(null), 5_000))]);
    assert.ok(result !== null, `${what}: the terminal is still open`);
    assert.equal(result.code, 4401, what);
  };

  it('logout, token revocation and a password change each close the terminals opened with what they end', async () => {
    const setup = await request(`${monitor.url}/api/auth/setup`, { method: 'POST', json: { username: 'operator', password: PASSWORD, setup_code: monitor.setupCode() } });
    assert.equal(setup.status, 200, setup.body);
    const first = setup.json<{ token: string }>().token;
    const login = await request(`${monitor.url}/api/auth/login`, { method: 'POST', json: { username: 'operator', password: PASSWORD } });
    const second = login.json<{ token: string }>().token;
    const made = await api('/api/auth/generate-api-token', second, { password: PASSWORD, token_name: 'script', scope: 'full_admin' });

    const ofFirst = await openShell(first);
    const ofSecond = await openShell(second);
    const ofToken = await openShell(made.token);

    await api('/api/auth/logout', first);
    await ended(ofFirst, 'logout');
    assert.ok(ofSecond.isOpen() && ofToken.isOpen(), 'only the terminals of the session that logged out');

    await api(`/api/auth/api-tokens/${made.id}`, second, undefined);
    await ended(ofToken, 'token revocation');
    assert.ok(ofSecond.isOpen());

    await api('/api/auth/change-password', second, { old_password: PASSWORD, new_password: 'Operator-pass-2027' });
    await ended(ofSecond, 'password change');
  });
});
