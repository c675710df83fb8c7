// Item 10: the monitor answered 500 to `//api/system`, `/%61pi/system`, `/x/../api/system`, unknown
// paths outside /api and a plain GET /ws/terminal. Every path has one reading, decided before
// routing: a path not in its canonical form is refused with 400, an unknown one is 404, never 500,
// and the same holds for a WebSocket upgrade (no second spelling of /ws/terminal reaches a shell).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startMonitor, type Monitor } from '../../monitor/app.ts';
import { parseMonitorConfig } from '../../monitor/config/load.ts';
import { requestPathProblem } from '../../monitor/request-path.ts';
import { captureLogs, LEVEL } from '../helpers/logs.ts';
import { request } from '../helpers/http.ts';
import { rawHttp } from '../helpers/raw-http.ts';
import { makeTempDir } from '../helpers/tmp.ts';

describe('odd request paths are refused before routing (400) or unknown (404), never a 500', () => {
  let monitor: Monitor;
  let cleanup: () => Promise<void>;
  const logs = captureLogs();

  before(async () => {
    const temp = await makeTempDir('gatehouse-odd-paths-');
    cleanup = temp.cleanup;
    const { config } = parseMonitorConfig({ server: { address: 'tcp://127.0.0.1:0' }, data_dir: temp.dir });
    monitor = await startMonitor(config, { logger: logs.logger });
  });
  after(async () => {
    await monitor?.close();
    await cleanup?.();
  });

  const get = (target: string, extra: string[] = []) => rawHttp(monitor.port, [`GET ${target} HTTP/1.1`, 'Host: 127.0.0.1', ...extra].join('\r\n'));

  const refused: [string, string][] = [
    ['//api/system', 'doubled slash at the start'],
    ['/api//system', 'doubled slash inside'],
    ['/%61pi/system', 'an escaped unreserved letter'],
    ['/x/../api/system', 'a .. segment'],
    ['/./api/system', 'a . segment'],
    ['/..', 'a .. segment at the end'],
    ['/api/%2e%2e/system', 'an escaped .. segment'],
    ['/api%2fsystem', 'an escaped slash'],
    ['/api%2Fsystem', 'an escaped slash (upper case)'],
    ['/api%5csystem', 'an escaped backslash'],
    ['/api\\system', 'a backslash'],
    ['/a%00b', 'an escaped NUL'],
    ['/app.js%00', 'an escaped NUL after a real file'],
    ['/a%0d%0ab', 'escaped CR LF'],
    ['/a%zz', 'a malformed escape'],
    ['/a%', 'a cut escape'],
    [`/${'a'.repeat(5000)}`, 'an overlong path'],
    ['http://127.0.0.1/api/system', 'absolute-form target'],
  ];
  for (const [target, what] of refused) {
    it(`${what}: ${JSON.stringify(target.slice(0, 40))} → 400 with a JSON reason`, async () => {
      const answer = await get(target);
      assert.equal(answer.status, 400, answer.body);
      assert.match(JSON.parse(answer.body).message, /^Malformed request path: /);
    });
  }

  it('an unknown path outside /api → 404, inside /api (anonymous) → 401 as before, with JSON', async () => {
    for (const target of ['/nonexistent', '/nonexistent/deeper.js', '/vendor/nothing-here']) {
      const answer = await get(target);
      assert.equal(answer.status, 404, `${target}: ${answer.body}`);
    }
    assert.equal((await get('/api/nonexistent')).status, 401);
  });

  it('GET /ws/terminal without an Upgrade → 400 that says it is a WebSocket endpoint', async () => {
    const answer = await get('/ws/terminal');
    assert.equal(answer.status, 400, answer.body);
    assert.match(JSON.parse(answer.body).message, /WebSocket endpoint/);
    assert.equal((await get('/ws/terminal?ticket=x')).status, 400);
  });

  it('canonical paths keep working: the dashboard, the public API, escapes of reserved characters', async () => {
    assert.equal((await get('/')).status, 200);
    assert.equal((await get('/app.js')).status, 200);
    assert.equal((await get('/api/system-info')).status, 200);
    assert.equal((await get('/api/system')).status, 401);
    assert.equal((await get('/api/system/')).status, 401, 'anonymous: like any path under /api');
    assert.equal((await get('/no%20such%20page')).status, 404);
  });

  it('a WebSocket upgrade on a second spelling of /ws/terminal is refused with 400, never handed to the terminal', async () => {
    for (const target of ['/x/../ws/terminal?ticket=x', '//ws/terminal?ticket=x', '/ws/%74erminal?ticket=x']) {
      const head = await new Promise<string>((resolve, reject) => {
        const socket = connect(monitor.port, '127.0.0.1', () =>
          socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`),
        );
        let text = '';
        socket.setTimeout(5_000, () => socket.destroy(new Error('no answer')));
        socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
        socket.on('error', reject);
        socket.on('close', () => resolve(text.split('\r\n')[0] ?? ''));
      });
      assert.equal(head, 'HTTP/1.1 400 Bad Request', target);
    }
  });

  it('none of it was an unexpected error in the log', () => {
    const errors = logs.records.filter((r) => r.level >= LEVEL.error);
    assert.deepEqual(errors.map((r) => r.msg), []);
  });
});

describe('routing matches the one canonical spelling: another case or a trailing slash is another (unknown) path', () => {
  let monitor: Monitor;
  let cleanup: () => Promise<void>;
  let bearer: string;

  before(async () => {
    const temp = await makeTempDir('gatehouse-path-case-');
    cleanup = temp.cleanup;
    const { config } = parseMonitorConfig({ server: { address: 'tcp://127.0.0.1:0' }, data_dir: temp.dir });
    monitor = await startMonitor(config, { logger: captureLogs().logger, argon2: { memory: 1024, iterations: 1, parallelism: 1 } });
    const setup = await request(`${monitor.url}/api/auth/setup`, { method: 'POST', json: { username: 'operator', password: 'Operator-pass-2026', setup_code: monitor.setupCode() } });
    assert.equal(setup.status, 200, setup.body);
    bearer = `Authorization: Bearer ${setup.json<{ token: string }>().token}`;
  });
  after(async () => {
    await monitor?.close();
    await cleanup?.();
  });

  const send = (method: string, target: string, extra: string[] = [], body = '') =>
    rawHttp(monitor.port, [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', bearer, ...extra].join('\r\n'), body);

  it('the canonical paths answer (signed in)', async () => {
    assert.equal((await send('GET', '/api/system')).status, 200);
    assert.equal((await send('GET', '/api/auth/status')).status, 200);
  });

  for (const target of ['/API/system', '/Api/System', '/api/SYSTEM', '/api/system/', '/API/AUTH/STATUS', '/api/auth/status/', '/WS/terminal', '/ws/terminal/']) {
    it(`GET ${target} → 404, not the route it resembles`, async () => {
      const answer = await send('GET', target);
      assert.equal(answer.status, 404, answer.body);
    });
  }

  it('POST /API/terminal/ticket (past a gateway rule on ^/api/terminal) → 404, no ticket', async () => {
    for (const target of ['/API/terminal/ticket', '/api/Terminal/ticket', '/api/terminal/ticket/']) {
      const answer = await send('POST', target, ['Content-Type: application/json', 'Content-Length: 2'], '{}');
      assert.equal(answer.status, 404, `${target}: ${answer.body}`);
      assert.doesNotMatch(answer.body, /ticket"/);
    }
  });

  it('a WebSocket upgrade on /WS/terminal or /ws/terminal/ → 404, never handed to the terminal', async () => {
    for (const target of ['/WS/terminal?ticket=x', '/Ws/Terminal?ticket=x', '/ws/terminal/?ticket=x']) {
      const head = await new Promise<string>((resolve, reject) => {
        const socket = connect(monitor.port, '127.0.0.1', () =>
          socket.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`),
        );
        let text = '';
        socket.setTimeout(5_000, () => socket.destroy(new Error('no answer')));
        socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
        socket.on('error', reject);
        socket.on('close', () => resolve(text.split('\r\n')[0] ?? ''));
      });
      assert.equal(head, 'HTTP/1.1 404 Not Found', target);
    }
  });
});

describe('requestPathProblem: the canonical form, directly', () => {
  it('accepts what the dashboard and the API use', () => {
    for (const path of ['/', '/api/system', '/api/auth/api-tokens/0123abcd', '/vendor/xterm/lib/xterm.mjs', '/ws/terminal?ticket=a-b_c', '/api/system/', '/a%20b', '/a%25b']) {
      assert.equal(requestPathProblem(path), null, path);
    }
  });
  it('refuses a missing or empty target, and a fragment character in the path', () => {
    assert.notEqual(requestPathProblem(undefined), null);
    assert.notEqual(requestPathProblem(''), null);
    assert.notEqual(requestPathProblem('/a#b'), null);
    assert.notEqual(requestPathProblem('*'), null);
  });
});
