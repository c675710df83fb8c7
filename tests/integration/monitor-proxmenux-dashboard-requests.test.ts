/**
 * The requests ProxMenux's own dashboard sends, byte for byte in what matters (fetch with
 * `Content-Type: application/json` and no body; `current_password`; no password for 2FA setup and
 * disable), answered as it expects, and never with less checking than a typed password gets.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeApiToken, PASSWORD, startAuthServer, startSignedIn, type AuthServer } from './monitor-auth-harness.ts';

/** ProxMenux's frontend: fetch(url, { method, headers: { "Content-Type": "application/json", Authorization } }) without a body. */
async function bodyless(server: AuthServer, path: string, method: 'POST' | 'DELETE', token?: string): Promise<{ status: number; json: Record<string, any> }> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await fetch(`${server.url}${path}`, { method, headers });
  return { status: response.status, json: (await response.json()) as Record<string, any> };
}

describe("ProxMenux's dashboard: body-less JSON requests", () => {
  let server: AuthServer;
  let session: string;
  before(async () => ({ server, session } = await startSignedIn()));
  after(() => server.close());

  it('starts 2FA enrolment with no body on a fresh sign-in', async () => {
    const reply = await bodyless(server, '/api/auth/totp/setup', 'POST', session);
    assert.equal(reply.status, 200, JSON.stringify(reply.json));
    assert.equal(typeof reply.json.secret, 'string');
    assert.match(reply.json.qr_code, /^data:image\/png;base64,/);
  });

  it('revokes an API token with no body', async () => {
    await makeApiToken(server, session, 'read_only');
    const list = await server.send('/api/auth/api-tokens', { token: session });
    const id = list.json.tokens[0].id as string;
    const reply = await bodyless(server, `/api/auth/api-tokens/${id}`, 'DELETE', session);
    assert.equal(reply.status, 200);
    assert.equal(reply.json.success, true);
    assert.equal((await server.send('/api/auth/api-tokens', { token: session })).json.tokens.length, 0);
  });

  it('reads a body-less skip as {}: the setup code is still required', async () => {
    const fresh = await startAuthServer();
    try {
      const reply = await bodyless(fresh, '/api/auth/skip', 'POST');
      assert.equal(reply.status, 403);
      assert.equal(reply.json.success, false);
      assert.equal((await fresh.send('/api/auth/status')).json.auth_configured, false);
    } finally {
      await fresh.close();
    }
  });

  it('turns the login off with no body on a fresh sign-in', async () => {
    const login = await server.login();
    const reply = await bodyless(server, '/api/auth/disable', 'POST', login.json.token);
    assert.equal(reply.status, 200, JSON.stringify(reply.json));
    assert.equal(reply.json.success, true);
    assert.equal((await server.send('/api/auth/status')).json.auth_enabled, false);
  });
});

describe('2FA setup and disable without a password: only a recent password login', () => {
  let server: AuthServer;
  let session: string;
  before(async () => {
    server = await startAuthServer({ config: { recent_login: '2m' } });
    session = await server.setup();
  });
  after(() => server.close());

  it('asks an older session to sign in again (401), and changes nothing', async () => {
    server.clock.advance(121_000);
    for (const path of ['/api/auth/totp/setup', '/api/auth/disable']) {
      const reply = await bodyless(server, path, 'POST', session);
      assert.equal(reply.status, 401, path);
      assert.equal(reply.json.success, false);
      assert.match(reply.json.message, /sign in again/);
    }
    assert.equal((await server.send('/api/auth/status')).json.auth_enabled, true);
  });

  it('still takes the password from an older session, and checks it', async () => {
    const wrong = await server.send('/api/auth/totp/setup', { token: session, json: { password: 'Wrong-Pass-123' } });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.message, 'Invalid password');
    const right = await server.send('/api/auth/totp/setup', { token: session, json: { password: PASSWORD } });
    assert.equal(right.status, 200);
  });

  it('checks a password given by a fresh session too: a wrong one is refused', async () => {
    const fresh = (await server.login()).json.token as string;
    const wrong = await server.send('/api/auth/disable', { token: fresh, json: { password: 'Wrong-Pass-123' } });
    assert.equal(wrong.status, 400);
    assert.equal((await server.send('/api/auth/status')).json.auth_enabled, true);
  });

  it('never lets an API token, however new, leave the password out', async () => {
    const login = (await server.login()).json.token as string;
    const admin = await makeApiToken(server, login, 'full_admin');
    for (const path of ['/api/auth/totp/setup', '/api/auth/disable']) {
      const reply = await bodyless(server, path, 'POST', admin);
      assert.equal(reply.status, 401, path);
    }
    assert.equal((await server.send('/api/auth/status')).json.auth_enabled, true);
  });

  it('with 2FA on, disable without a password still needs the current code', async () => {
    const login = (await server.login()).json.token as string;
    const setup = await server.send('/api/auth/totp/setup', { token: login, json: { password: PASSWORD } });
    const secret = setup.json.secret as string;
    const enable = await server.send('/api/auth/totp/enable', { token: login, json: { token: server.totp(secret) } });
    assert.equal(enable.status, 200, enable.body);
    server.clock.advance(31_000);
    const fresh = (await server.login('admin', { totp_token: server.totp(secret) })).json.token as string;
    assert.ok(fresh, 'a 2FA login');
    const noCode = await bodyless(server, '/api/auth/disable', 'POST', fresh);
    assert.equal(noCode.status, 400);
    assert.match(noCode.json.message, /2FA code required/);
    assert.equal((await server.send('/api/auth/status')).json.auth_enabled, true);
  });
});

describe('recent_login: 0 always asks for the password', () => {
  let server: AuthServer;
  before(async () => (server = await startAuthServer({ config: { recent_login: 0 } })));
  after(() => server.close());

  it('refuses 2FA setup without a password from a session signed in this very second', async () => {
    const session = await server.setup();
    const reply = await bodyless(server, '/api/auth/totp/setup', 'POST', session);
    assert.equal(reply.status, 401);
    assert.match(reply.json.message, /sign in again/);
  });
});

describe("change-password takes ProxMenux UI's current_password", () => {
  let server: AuthServer;
  let session: string;
  before(async () => ({ server, session } = await startSignedIn()));
  after(() => server.close());

  it('refuses a wrong current_password', async () => {
    const reply = await server.send('/api/auth/change-password', { token: session, json: { current_password: 'Wrong-Pass-123', new_password: 'New-Password-77' } });
    assert.equal(reply.status, 400);
    assert.equal(reply.json.message, 'Current password is incorrect');
  });

  it('changes the password with the right current_password', async () => {
    const reply = await server.send('/api/auth/change-password', { token: session, json: { current_password: PASSWORD, new_password: 'New-Password-77' } });
    assert.equal(reply.status, 200, reply.body);
    assert.equal(reply.json.success, true);
    assert.equal((await server.send('/api/auth/login', { json: { username: 'admin', password: 'New-Password-77' } })).status, 200);
  });

  it('still needs one of the two fields', async () => {
    const login = (await server.send('/api/auth/login', { json: { username: 'admin', password: 'New-Password-77' } })).json.token as string;
    const reply = await server.send('/api/auth/change-password', { token: login, json: { new_password: 'Other-Password-88' } });
    assert.equal(reply.status, 400);
    assert.equal(reply.json.message, 'Password required');
  });
});
