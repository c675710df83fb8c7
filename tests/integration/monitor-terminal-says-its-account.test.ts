// The terminal says which OS account it runs as: POST /api/terminal/ticket answers `run_as` (the page
// shows "Shell as <user>"), and it is the account the shell really is; null when terminals are refused.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import pino from 'pino';
import { startMonitor, type Monitor } from '../../monitor/app.ts';
import { parseMonitorConfig } from '../../monitor/config/load.ts';
import { createTerminalServer } from '../../monitor/terminal/server.ts';
import { request } from '../helpers/http.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const PASSWORD = 'Operator-pass-2026';
const silent = pino({ level: 'silent' });
const asRoot = process.getuid?.() === 0;

describe('the ticket answer names the shell\'s OS account', () => {
  let monitor: Monitor;
  let cleanup: () => Promise<void>;
  let token: string;
  before(async () => {
    const temp = await makeTempDir('gatehouse-terminal-account-');
    cleanup = temp.cleanup;
    const { config } = parseMonitorConfig({ server: { address: 'tcp://127.0.0.1:0' }, data_dir: temp.dir, terminal: { shell: '/bin/bash', user: 'nobody' } });
    monitor = await startMonitor(config, { logger: silent, argon2: { memory: 1024, iterations: 1, parallelism: 1 } });
    const setup = await request(`${monitor.url}/api/auth/setup`, { method: 'POST', json: { username: 'operator', password: PASSWORD, setup_code: monitor.setupCode() } });
    assert.equal(setup.status, 200, setup.body);
    token = setup.json<{ token: string }>().token;
  });
  after(async () => {
    await monitor?.close();
    await cleanup?.();
  });

  it('run_as is the account `id -un` prints in that shell', async () => {
    const reply = await request(`${monitor.url}/api/terminal/ticket`, { method: 'POST', json: {}, headers: { authorization: `Bearer ${token}` } });
    assert.equal(reply.status, 200, reply.body);
    const { ticket, run_as: runAs } = reply.json<{ ticket: string; run_as: string | null }>();
    assert.equal(runAs, asRoot ? 'nobody' : userInfo().username);
    const ws = new WebSocket(`${monitor.url.replace(/^http/, 'ws')}/ws/terminal?ticket=${ticket}`);
    try {
      const printed = await new Promise<string>((resolve, reject) => {
        let output = '';
        const timer = setTimeout(() => reject(new Error(`no answer from the shell: ${output}`)), 10_000);
        ws.addEventListener('message', (e) => {
          output += String(e.data);
          const found = /account=\[([^\]\s]+)\]/.exec(output);
          if (found) {
            clearTimeout(timer);
            resolve(found[1]!);
          }
        });
        ws.addEventListener('open', () => ws.send('echo "account=[$(id -un)]"\r'));
      });
      assert.equal(printed, runAs);
    } finally {
      ws.close();
    }
  });
});

describe('runAs() says null when terminals would be refused, never another account', () => {
  it('an account that does not exist: null', { skip: !asRoot && 'only a monitor running as root switches account' }, async () => {
    const server = createTerminalServer({ config: { terminal: { shell: '/bin/bash', max_sessions: 1, user: 'no-such-user-here', allow_root: false } }, logger: silent });
    try {
      assert.equal(server.runAs(), null);
    } finally {
      await server.close();
    }
  });

  it('allow_root: root, said plainly', { skip: !asRoot && 'only as root' }, async () => {
    const server = createTerminalServer({ config: { terminal: { shell: '/bin/bash', max_sessions: 1, user: 'nobody', allow_root: true } }, logger: silent });
    try {
      assert.equal(server.runAs(), 'root');
    } finally {
      await server.close();
    }
  });
});
