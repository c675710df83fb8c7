// Item 18: the ProxMenux frontend sends `Content-Type: application/json` with no body at all on
// DELETE /api/auth/api-tokens/:id and POST /api/auth/totp/setup, /totp/disable, /skip; the monitor
// answered 415 (and so never revoked the token). An empty JSON body is `{}`, whether the request says
// Content-Length: 0 or nothing at all; a body-less request of another type is still refused.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { startMonitor, type Monitor } from '../../monitor/app.ts';
import { parseMonitorConfig } from '../../monitor/config/load.ts';
import { request } from '../helpers/http.ts';
import { rawHttp } from '../helpers/raw-http.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const PASSWORD = 'Operator-pass-2026';

describe('a JSON request without a body is an empty JSON object', () => {
  let monitor: Monitor;
  let cleanup: () => Promise<void>;
  let session = '';

  before(async () => {
    const temp = await makeTempDir('gatehouse-bodiless-');
    cleanup = temp.cleanup;
    // recent_login 0: a password is always asked for, so the body-less requests below meet that question
    const { config } = parseMonitorConfig({ server: { address: 'tcp://127.0.0.1:0' }, data_dir: temp.dir, log: { level: 'warn' }, recent_login: 0 });
    monitor = await startMonitor(config, { logger: pino({ level: 'silent' }), argon2: { memory: 1024, iterations: 1, parallelism: 1 } });
    const setup = await request(`${monitor.url}/api/auth/setup`, { method: 'POST', json: { username: 'operator', password: PASSWORD, setup_code: monitor.setupCode() } });
    assert.equal(setup.status, 200, setup.body);
    session = setup.json<{ token: string }>().token;
  });
  after(async () => {
    await monitor?.close();
    await cleanup?.();
  });

  const newApiToken = async (name: string): Promise<string> => {
    const made = await request(`${monitor.url}/api/auth/generate-api-token`, {
      method: 'POST',
      json: { password: PASSWORD, token_name: name, scope: 'read_only' },
      headers: { authorization: `Bearer ${session}` },
    });
    assert.equal(made.status, 200, made.body);
    return made.json<{ id: string }>().id;
  };
  const listed = async (): Promise<string[]> => {
    const list = await request(`${monitor.url}/api/auth/api-tokens`, { headers: { authorization: `Bearer ${session}` } });
    return list.json<{ tokens: { id: string }[] }>().tokens.map((t) => t.id);
  };
  /** `method path` with Content-Type: application/json and no body; `length` adds Content-Length: 0. */
  const bodiless = (method: string, path: string, length: boolean, type = 'application/json') =>
    rawHttp(monitor.port, [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', `Authorization: Bearer ${session}`, `Content-Type: ${type}`, ...(length ? ['Content-Length: 0'] : [])].join('\r\n'));

  for (const length of [false, true]) {
    const how = length ? 'Content-Length: 0' : 'no Content-Length';
    it(`DELETE /api/auth/api-tokens/:id (${how}) revokes the token`, async () => {
      const id = await newApiToken(`script ${how}`);
      const answer = await bodiless('DELETE', `/api/auth/api-tokens/${id}`, length);
      assert.equal(answer.status, 200, answer.body);
      assert.equal(JSON.parse(answer.body).message, 'Token revoked successfully');
      assert.ok(!(await listed()).includes(id), 'the token is no longer listed');
    });

    it(`POST /api/auth/totp/setup, /totp/disable (${how}) reach the route, which asks for the password`, async () => {
      // totp/setup may go without a password for a recent sign-in; with recent_login 0, never: sign in again
      const setup = await bodiless('POST', '/api/auth/totp/setup', length);
      assert.equal(setup.status, 401, setup.body);
      assert.equal(JSON.parse(setup.body).reauth_required, true);
      const disable = await bodiless('POST', '/api/auth/totp/disable', length);
      assert.equal(disable.status, 400, disable.body);
      assert.equal(JSON.parse(disable.body).message, 'Password required');
    });

    it(`POST /api/auth/skip (${how}) reaches the route: configured already, nothing to skip`, async () => {
      const answer = await bodiless('POST', '/api/auth/skip', length);
      assert.equal(answer.status, 403, answer.body);
      assert.equal(JSON.parse(answer.body).message, 'Authentication is already configured; cannot skip.');
    });
  }

  it('a body-less request of a type a cross-site form can send is still refused (415)', async () => {
    const answer = await bodiless('POST', '/api/auth/totp/setup', true, 'text/plain');
    assert.equal(answer.status, 415, answer.body);
  });
});
