/**
 * The monitor's /api/auth/* and /api/ssl/* against a real HTTP server and real files: ProxMenux's
 * request/response shapes, and the holes it had, closed.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { issueToken } from '../../monitor/auth/jwt.ts';
import { samplePng } from '../helpers/images.ts';
import { makeCertificate, type TestCertificate } from '../helpers/tls.ts';
import { makeApiToken, PASSWORD, startAuthServer, startSignedIn, type AuthServer } from './monitor-auth-harness.ts';

async function authFile(server: AuthServer): Promise<Record<string, any>> {
  return JSON.parse(await readFile(join(server.config.data_dir, 'auth.json'), 'utf8'));
}

async function assertPrivate(path: string): Promise<void> {
  assert.equal((await stat(path)).mode & 0o777, 0o600, `${path} must be mode 0600`);
}

async function auditText(server: AuthServer): Promise<string> {
  await server.deps.audit.flush();
  return readFile(server.auditPath, 'utf8');
}

const PNG = samplePng();

describe('first run: status, setup, skip and decline', () => {
  let server: AuthServer;
  before(async () => (server = await startAuthServer()));
  after(() => server.close());

  it('reports an unconfigured monitor and creates auth.json (0600) with a 64-character jwt_secret', async () => {
    const reply = await server.send('/api/auth/status');
    assert.equal(reply.status, 200);
    assert.deepEqual(
      { ...reply.json },
      { auth_enabled: false, auth_configured: false, declined: false, authenticated: false, username: null, totp_enabled: null, scope: null, via: null, gateway_portal: null },
    );
    const file = await authFile(server);
    assert.ok(file.jwt_secret.length >= 64);
    await assertPrivate(join(server.config.data_dir, 'auth.json'));
  });

  it('refuses setup, skip and decline without the setup code the monitor logged (403, audited)', async () => {
    const code = await server.setupCode();
    assert.match(code ?? '', /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    const logged = server.logs.filter((r) => r.level === 40 && String(r.msg).includes(`the setup code is ${code} (shown once)`));
    assert.equal(logged.length, 1, 'logged once, at warn level');
    for (const [path, extra] of [['/api/auth/setup', {}], ['/api/auth/setup', { setup_code: 'AAAA-BBBB-CCCC' }], ['/api/auth/skip', {}], ['/api/auth/decline', { setup_code: '' }]] as const) {
      const reply = await server.send(path, { json: { username: 'mallory', password: 'Mallory-Owns-It-1', ...extra } });
      assert.equal(reply.status, 403, `${path}: ${reply.body}`);
      assert.deepEqual({ success: reply.json.success, error: reply.json.error }, { success: false, error: "Setup code required: see the monitor's log" });
    }
    assert.equal((await authFile(server)).configured, false);
    assert.match(await auditText(server), /authentication failure; rhost=127\.0\.0\.1 user=- reason=bad_setup_code method=setup/);
  });

  it('sets up the account and logs in at once', async () => {
    // the code is not case- or dash-sensitive, and is spent by the setup
    const code = (await server.setupCode())!.toLowerCase().replaceAll('-', ' ');
    const reply = await server.send('/api/auth/setup', { json: { username: 'admin', password: PASSWORD, setup_code: code } });
    assert.equal(reply.status, 200);
    assert.equal(await server.setupCode(), null, 'single use');
    assert.equal(reply.json.success, true);
    const me = await server.send('/api/system', { token: reply.json.token });
    assert.equal(me.status, 200);
    assert.deepEqual(
      { ...me.json.identity, jti: undefined, expiresAt: undefined, issuedAt: undefined },
      { username: 'admin', scope: 'full_admin', via: 'session', tokenUse: 'session', sessionGeneration: 1, jti: undefined, expiresAt: undefined, issuedAt: undefined },
    );
    assert.equal((await authFile(server)).session_generation, 1);
    const file = await authFile(server);
    assert.match(file.password_hash, /^\$argon2id\$/);
    assert.equal(file.enabled, true);
    await assertPrivate(join(server.config.data_dir, 'auth.json'));
    assert.match(await auditText(server), /gatehouse-monitor: authentication success; rhost=127\.0\.0\.1 user=admin method=setup/);
  });

  it('does not tell an anonymous caller the username or the 2FA state (ProxMenux did)', async () => {
    const reply = await server.send('/api/auth/status');
    assert.equal(reply.json.auth_enabled, true);
    assert.equal(reply.json.username, null);
    assert.equal(reply.json.totp_enabled, null);
    const token = (await server.login()).json.token;
    const mine = await server.send('/api/auth/status', { token });
    assert.equal(mine.json.username, 'admin');
    assert.equal(mine.json.totp_enabled, false);
    assert.equal(mine.json.authenticated, true);
  });

  it('refuses a second setup with ProxMenux\'s `error` key and keeps the credentials', async () => {
    const before = await authFile(server);
    const reply = await server.send('/api/auth/setup', { json: { username: 'mallory', password: 'Another-Pass-99' } });
    assert.equal(reply.status, 400);
    assert.equal(reply.json.error, 'Authentication is already configured');
    assert.deepEqual(await authFile(server), before);
  });

  it('refuses skip and decline once configured (403), so auth cannot be switched off anonymously', async () => {
    for (const path of ['/api/auth/skip', '/api/auth/decline']) {
      const reply = await server.send(path, { method: 'POST' });
      assert.equal(reply.status, 403);
      assert.match(reply.json.message, /already configured/);
    }
    assert.equal((await authFile(server)).enabled, true);
  });
});

describe('decline: no local login, and no anonymous way to add one later', () => {
  let server: AuthServer;
  before(async () => (server = await startAuthServer()));
  after(() => server.close());

  it('records the choice; skip answers auth_declined', async () => {
    const reply = await server.send('/api/auth/skip', { json: { setup_code: await server.setupCode() } });
    assert.equal(reply.status, 200);
    assert.equal(reply.json.auth_declined, true);
    const status = await server.send('/api/auth/status');
    assert.equal(status.json.declined, true);
    assert.equal(status.json.auth_configured, true);
  });

  it('refuses an anonymous setup afterwards', async () => {
    const reply = await server.send('/api/auth/setup', { json: { username: 'admin', password: PASSWORD } });
    assert.equal(reply.status, 400);
    assert.equal((await authFile(server)).password_hash, null);
  });

  it('still needs credentials for protected routes (declining opens nothing)', async () => {
    assert.equal((await server.send('/api/system')).status, 401);
  });
});

describe('password policy (setup and change-password)', () => {
  let server: AuthServer;
  before(async () => (server = await startAuthServer()));
  after(() => server.close());

  // Gatehouse's default policy (no password_policy): the gateway's setup and CLI give the same messages
  for (const [password, message] of [
    ['Short-1', 'Password must be at least 10 characters long'],
    [`Aa1${'x'.repeat(1024)}`, 'Password must be at most 1024 characters long'],
    ['Password123', 'Password is too common; choose a less predictable one'],
    ['Administrator1', 'Password must not be the username'],
  ] as const) {
    it(`refuses '${password}': ${message}`, async () => {
      const reply = await server.send('/api/auth/setup', { json: { username: 'Administrator1', password, setup_code: await server.setupCode() } });
      assert.equal(reply.status, 400);
      assert.equal(reply.json.error, message);
    });
  }

  it('accepts a passphrase of 10+ characters without a character-class rule', async () => {
    const fresh = await startAuthServer();
    try {
      const reply = await fresh.send('/api/auth/setup', { json: { username: 'admin', password: 'correct horse battery staple', setup_code: await fresh.setupCode() } });
      assert.equal(reply.status, 200, JSON.stringify(reply.json));
    } finally {
      await fresh.close();
    }
  });

  it('applies the policy to change-password too', async () => {
    const session = await server.setup();
    const reply = await server.send('/api/auth/change-password', { token: session, json: { old_password: PASSWORD, new_password: 'weakweak' } });
    assert.equal(reply.status, 400);
    assert.match(reply.json.message, /at least 10 characters/);
  });
});

describe('login', () => {
  let server: AuthServer;
  before(async () => {
    server = await startAuthServer();
    await server.setup();
  });
  after(() => server.close());

  it('answers a wrong password and an unknown user alike, and audits both', async () => {
    const wrong = await server.send('/api/auth/login', { json: { username: 'admin', password: 'Wrong-Pass-123' } });
    const unknown = await server.send('/api/auth/login', { json: { username: 'nobody', password: 'Wrong-Pass-123' } });
    for (const reply of [wrong, unknown]) {
      assert.equal(reply.status, 401);
      assert.deepEqual({ ...reply.json }, { success: false, message: 'Invalid username or password', requires_totp: false });
    }
    const audit = await auditText(server);
    assert.match(audit, /^\S+Z gatehouse-monitor: authentication failure; rhost=127\.0\.0\.1 user=admin reason=bad_password method=login$/m);
    assert.match(audit, /authentication failure; rhost=127\.0\.0\.1 user=nobody reason=unknown_user method=login$/m);
  });

  it('returns a session token that carries every claim', async () => {
    const reply = await server.login();
    assert.equal(reply.status, 200);
    assert.equal(reply.json.message, 'Authentication successful');
    const [, payload] = String(reply.json.token).split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString('utf8'));
    assert.deepEqual(Object.keys(claims).sort(), ['aud', 'exp', 'iat', 'iss', 'jti', 'scope', 'session_generation', 'sub', 'token_use', 'username']);
    assert.equal(claims.session_generation, 1, 'the generation of the login set up once');
    assert.equal(claims.iss, 'gatehouse-monitor');
    assert.equal(claims.aud, 'api');
    assert.equal(claims.exp - claims.iat, server.config.session_lifetime);
  });

  it('refuses an expired session', async () => {
    const token = (await server.login()).json.token;
    server.clock.advance((server.config.session_lifetime + 1) * 1000);
    try {
      const reply = await server.send('/api/system', { token });
      assert.equal(reply.status, 401);
      assert.equal(reply.json.message, 'Invalid or expired token');
    } finally {
      server.clock.advance(-(server.config.session_lifetime + 1) * 1000);
    }
  });

  it('refuses a token signed with another secret and one with alg none', async () => {
    const token = String((await server.login()).json.token);
    const [header, payload] = token.split('.');
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${payload}.`;
    const tampered = `${header}.${payload}.${Buffer.alloc(32).toString('base64url')}`;
    for (const bad of [none, tampered]) assert.equal((await server.send('/api/system', { token: bad })).status, 401);
  });

  it('refuses a well-signed session token without session_generation, or of another generation', async () => {
    const state = await server.deps.store.read();
    const base = { username: 'admin', scope: 'full_admin', use: 'session', lifetimeSeconds: 600, nowMs: server.clock.now() } as const;
    const without = await issueToken(state.jwt_secret, base);
    const stale = await issueToken(state.jwt_secret, { ...base, sessionGeneration: state.session_generation - 1 });
    const current = await issueToken(state.jwt_secret, { ...base, sessionGeneration: state.session_generation });
    assert.equal((await server.send('/api/system', { token: without.token })).status, 401);
    assert.equal((await server.send('/api/system', { token: stale.token })).status, 401);
    assert.equal((await server.send('/api/system', { token: current.token })).status, 200);
  });
});

describe('logout revokes the session token', () => {
  let server: AuthServer;
  before(async () => (server = await startAuthServer()));
  after(() => server.close());

  it('refuses the token after logout, keeps other sessions, and records the jti with its expiry', async () => {
    const session = await server.setup();
    const other = (await server.login()).json.token;
    const reply = await server.send('/api/auth/logout', { token: session, method: 'POST' });
    assert.equal(reply.status, 200);
    assert.equal(reply.json.message, 'Logged out');
    const refused = await server.send('/api/system', { token: session });
    assert.equal(refused.status, 401);
    assert.equal(refused.json.message, 'This token has been revoked');
    assert.equal((await server.send('/api/system', { token: other })).status, 200);
    const file = await authFile(server);
    assert.equal(file.revoked_jtis.length, 1);
    assert.ok(file.revoked_jtis[0].expires_at > Date.now() / 1000);
    await assertPrivate(join(server.config.data_dir, 'auth.json'));
  });
});

describe('ProxMenux pbkdf2_sha256 hashes', () => {
  let server: AuthServer;
  before(async () => {
    server = await startAuthServer();
    const salt = randomBytes(16);
    const key = pbkdf2Sync(PASSWORD, salt, 1000, 32, 'sha256');
    await mkdir(server.config.data_dir, { recursive: true });
    // as ProxMenux writes it: no jwt_secret yet, no `configured`, mode 0644
    await writeFile(
      join(server.config.data_dir, 'auth.json'),
      JSON.stringify({ enabled: true, username: 'admin', password_hash: `pbkdf2_sha256$1000$${salt.toString('base64')}$${key.toString('base64')}`, totp_enabled: false, totp_secret: null, backup_codes: [], api_tokens: [], revoked_tokens: [] }, null, 2),
      { mode: 0o644 },
    );
  });
  after(() => server.close());

  it('verifies it, then replaces it with argon2id on the first login (and the file becomes 0600)', async () => {
    const reply = await server.login();
    assert.equal(reply.status, 200, reply.body);
    const file = await authFile(server);
    assert.match(file.password_hash, /^\$argon2id\$v=19\$/);
    assert.ok(file.jwt_secret.length >= 64);
    await assertPrivate(join(server.config.data_dir, 'auth.json'));
    assert.equal((await server.login()).status, 200);
  });
});

describe('TOTP: enrolment, replay guard, backup codes', () => {
  let server: AuthServer;
  let session: string;
  let secret: string;
  let backupCodes: string[];
  before(async () => {
    server = await startAuthServer();
    session = await server.setup();
  });
  after(() => server.close());

  it('needs the password to start enrolment once the login is older than recent_login', async () => {
    server.clock.advance((server.config.recent_login + 1) * 1000);
    const none = await server.send('/api/auth/totp/setup', { token: session, json: {} });
    assert.equal(none.status, 401);
    assert.match(none.json.message, /sign in again/);
    const empty = await server.send('/api/auth/totp/setup', { token: session, json: { password: '' } });
    assert.equal(empty.status, 400);
    assert.equal(empty.json.message, 'Password required');
    const wrong = await server.send('/api/auth/totp/setup', { token: session, json: { password: 'Wrong-Pass-123' } });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.message, 'Invalid password');
  });

  it('returns the secret, a QR code data URL and 10 backup codes XXXX-XXXX from an unambiguous alphabet', async () => {
    const reply = await server.send('/api/auth/totp/setup', { token: session, json: { password: PASSWORD } });
    assert.equal(reply.status, 200);
    secret = reply.json.secret;
    backupCodes = reply.json.backup_codes;
    assert.match(reply.json.qr_code, /^data:image\/png;base64,/);
    assert.equal(backupCodes.length, 10);
    for (const code of backupCodes) assert.match(code, /^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$/);
    const file = await authFile(server);
    assert.equal(file.totp_enabled, false);
    assert.ok(file.totp_pending.backup_codes.every((c: { code: string }) => /^[0-9a-f]{64}$/.test(c.code)), 'backup codes are stored hashed');
    assert.ok(!JSON.stringify(file).includes(backupCodes[0]!));
  });

  it('enables 2FA with a valid code, and that code is spent', async () => {
    const bad = await server.send('/api/auth/totp/enable', { token: session, json: { token: '000000' } });
    assert.equal(bad.status, 400);
    const code = server.totp(secret);
    const reply = await server.send('/api/auth/totp/enable', { token: session, json: { token: code } });
    assert.equal(reply.status, 200);
    assert.equal((await authFile(server)).totp_enabled, true);
    const reuse = await server.login('admin', { totp_token: code });
    assert.equal(reuse.status, 401);
    assert.equal(reuse.json.message, '2FA code already used; wait for the next one');
  });

  it('asks for the code after a correct password (requires_totp), then accepts a fresh one once', async () => {
    const first = await server.login();
    assert.equal(first.status, 200);
    assert.deepEqual({ ...first.json }, { success: false, requires_totp: true, message: '2FA code required' });
    server.clock.advance(30_000);
    const code = server.totp(secret);
    const ok = await server.login('admin', { totp_token: code });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.success, true);
    const again = await server.login('admin', { totp_token: code });
    assert.equal(again.status, 401);
    assert.equal(again.json.requires_totp, true);
    assert.match(await auditText(server), /authentication failure; rhost=127\.0\.0\.1 user=admin reason=code_reused method=login/);
  });

  it('refuses a wrong code with requires_totp', async () => {
    const reply = await server.login('admin', { totp_token: '123456' === server.totp(secret) ? '654321' : '123456' });
    assert.equal(reply.status, 401);
    assert.deepEqual({ ...reply.json }, { success: false, message: 'Invalid 2FA code', requires_totp: true });
  });

  it('accepts each backup code once (any case, with or without the dash)', async () => {
    const code = backupCodes[0]!;
    const ok = await server.login('admin', { totp_token: code.toLowerCase().replace('-', '') });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.backup_codes_remaining, 9);
    const again = await server.login('admin', { totp_token: code });
    assert.equal(again.status, 401);
    const file = await authFile(server);
    assert.equal(file.backup_codes.filter((c: { used: boolean }) => c.used).length, 1);
  });

  it('does not silently re-enrol while 2FA is on: a current code is required, and the old secret stays until confirmed', async () => {
    const noCode = await server.send('/api/auth/totp/setup', { token: session, json: { password: PASSWORD } });
    assert.equal(noCode.status, 400);
    assert.match(noCode.json.message, /already enabled/);
    server.clock.advance(30_000);
    const reply = await server.send('/api/auth/totp/setup', { token: session, json: { password: PASSWORD, totp_code: server.totp(secret) } });
    assert.equal(reply.status, 200);
    const file = await authFile(server);
    assert.equal(file.totp_secret, secret, 'the active secret is unchanged until /totp/enable');
    assert.equal(file.totp_pending.secret, reply.json.secret);
  });

  it('needs the password and a code to disable 2FA', async () => {
    const noCode = await server.send('/api/auth/totp/disable', { token: session, json: { password: PASSWORD } });
    assert.equal(noCode.status, 400);
    assert.equal(noCode.json.message, '2FA code required to disable 2FA');
    server.clock.advance(30_000);
    const reply = await server.send('/api/auth/totp/disable', { token: session, json: { password: PASSWORD, totp_code: server.totp(secret) } });
    assert.equal(reply.status, 200);
    const file = await authFile(server);
    assert.equal(file.totp_enabled, false);
    assert.equal(file.totp_secret, null);
    await assertPrivate(join(server.config.data_dir, 'auth.json'));
  });
});

describe('change-password and disable need the password, and the 2FA code when 2FA is on', () => {
  let server: AuthServer;
  let session: string;
  let secret: string;
  before(async () => {
    server = await startAuthServer();
    session = await server.setup();
    secret = (await server.send('/api/auth/totp/setup', { token: session, json: { password: PASSWORD } })).json.secret;
    await server.send('/api/auth/totp/enable', { token: session, json: { token: server.totp(secret) } });
  });
  after(() => server.close());

  it('change-password: refuses a wrong current password, then a missing code', async () => {
    const wrong = await server.send('/api/auth/change-password', { token: session, json: { old_password: 'Wrong-Pass-123', new_password: 'New-Password-77' } });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.json.message, 'Current password is incorrect');
    const noCode = await server.send('/api/auth/change-password', { token: session, json: { old_password: PASSWORD, new_password: 'New-Password-77' } });
    assert.equal(noCode.status, 400);
    assert.equal(noCode.json.message, '2FA code required to change password');
  });

  it('change-password: ends every other session and hands the caller a new one', async () => {
    server.clock.advance(30_000);
    const other = (await server.login('admin', { totp_token: server.totp(secret) })).json.token;
    server.clock.advance(30_000);
    const reply = await server.send('/api/auth/change-password', {
      token: session,
      json: { old_password: PASSWORD, new_password: 'New-Password-77', totp_code: server.totp(secret) },
    });
    assert.equal(reply.status, 200, reply.body);
    assert.equal((await server.send('/api/system', { token: session })).status, 401);
    assert.equal((await server.send('/api/system', { token: other })).status, 401);
    session = reply.json.token;
    assert.equal((await server.send('/api/system', { token: session })).status, 200);
  });

  let older: string;
  it('disable: refuses without the code, then clears the login but keeps jwt_secret and tokens', async () => {
    server.clock.advance(30_000);
    older = (await server.login('admin', { password: 'New-Password-77', totp_token: server.totp(secret) })).json.token;
    assert.ok(older);
    const before = await authFile(server);
    const noCode = await server.send('/api/auth/disable', { token: session, json: { password: 'New-Password-77' } });
    assert.equal(noCode.status, 400);
    assert.deepEqual(await authFile(server), before);
    server.clock.advance(30_000);
    const reply = await server.send('/api/auth/disable', { token: session, json: { password: 'New-Password-77', totp_code: server.totp(secret) } });
    assert.equal(reply.status, 200, reply.body);
    const file = await authFile(server);
    assert.equal(file.enabled, false);
    assert.equal(file.password_hash, null);
    assert.equal(file.totp_secret, null);
    assert.equal(file.jwt_secret, before.jwt_secret);
    assert.equal((await server.send('/api/system', { token: session })).status, 401, 'the session ended with the login');
    assert.equal((await server.send('/api/system', { token: older })).status, 401);
    // unconfigured again: a new setup code is logged at once
    const code = server.deps.setupCode.current();
    assert.match(code ?? '', /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    assert.ok(server.logs.some((r) => r.level === 40 && String(r.msg).includes(`the setup code is ${code}`)));
  });

  it('setting the login up again (same username) does not revive the old sessions', async () => {
    server.clock.advance(2_000);
    const fresh = await server.setup('admin');
    assert.equal((await server.send('/api/system', { token: older })).status, 401);
    assert.equal((await server.send('/api/system', { token: fresh })).status, 200);
  });
});

describe('API tokens: Bearer and Basic, listing, revocation', () => {
  let server: AuthServer;
  let session: string;
  let readOnly: string;
  before(async () => {
    server = await startAuthServer();
    session = await server.setup();
    readOnly = await makeApiToken(server, session, 'read_only');
  });
  after(() => server.close());

  it('needs the password to generate one (401 when wrong) and rejects an unknown scope', async () => {
    const wrong = await server.send('/api/auth/generate-api-token', { token: session, json: { password: 'Wrong-Pass-123', scope: 'read_only' } });
    assert.equal(wrong.status, 401);
    const scope = await server.send('/api/auth/generate-api-token', { token: session, json: { password: PASSWORD, scope: 'root' } });
    assert.equal(scope.status, 400);
  });

  it('shows the token once, with its expiry (default and requested)', async () => {
    const reply = await server.send('/api/auth/generate-api-token', { token: session, json: { password: PASSWORD, token_name: 'ha', scope: 'read_only', expires_in_days: 30 } });
    assert.equal(reply.status, 200);
    assert.equal(reply.json.expires_in, '30 days');
    assert.equal(reply.json.token_name, 'ha');
    const file = await authFile(server);
    assert.ok(!JSON.stringify(file).includes(reply.json.token), 'the token itself is not stored');
    const entry = file.api_tokens.find((t: { id: string }) => t.id === reply.json.id);
    assert.equal(entry.scope, 'read_only');
    assert.match(entry.token_hash, /^[0-9a-f]{64}$/);
    const days = (Date.parse(entry.expires_at) - Date.parse(entry.created_at)) / 86_400_000;
    assert.equal(days, 30);
    await assertPrivate(join(server.config.data_dir, 'auth.json'));
  });

  it('authenticates with Bearer', async () => {
    const reply = await server.send('/api/system', { token: readOnly });
    assert.equal(reply.status, 200);
    assert.equal(reply.json.identity.via, 'api_token');
    assert.equal(reply.json.identity.scope, 'read_only');
  });

  it('authenticates with Basic username:<token>, and only under the token\'s username', async () => {
    const basic = (user: string, token: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${token}`).toString('base64')}` });
    const ok = await server.send('/api/system', { headers: basic('admin', readOnly) });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.identity.via, 'basic');
    const otherUser = await server.send('/api/system', { headers: basic('root', readOnly) });
    assert.equal(otherUser.status, 401);
    const garbage = await server.send('/api/system', { headers: basic('admin', 'not-a-token') });
    assert.equal(garbage.status, 401);
    assert.match(await auditText(server), /authentication failure; rhost=127\.0\.0\.1 user=root reason=username_mismatch method=basic/);
  });

  it('lists tokens without their values, and read_only may list', async () => {
    const reply = await server.send('/api/auth/api-tokens', { token: readOnly });
    assert.equal(reply.status, 200);
    assert.ok(reply.json.tokens.length >= 2);
    for (const t of reply.json.tokens) {
      assert.deepEqual(Object.keys(t).sort(), ['created_at', 'expires_at', 'id', 'name', 'revoked', 'scope', 'token_last4', 'token_prefix', 'valid']);
      assert.equal(t.valid, true);
    }
    assert.ok(!reply.body.includes(readOnly));
  });

  it('refuses a revoked token (Bearer and Basic), and says so once more for an unknown id', async () => {
    const admin = await makeApiToken(server, session, 'full_admin');
    const list = (await server.send('/api/auth/api-tokens', { token: session })).json.tokens;
    const id = list.find((t: { name: string }) => t.name === 'full_admin token').id;
    assert.equal((await server.send('/api/system', { token: admin })).status, 200);
    const revoke = await server.send(`/api/auth/api-tokens/${id}`, { token: session, method: 'DELETE' });
    assert.equal(revoke.status, 200);
    assert.equal(revoke.json.message, 'Token revoked successfully');
    const bearer = await server.send('/api/system', { token: admin });
    assert.equal(bearer.status, 401);
    assert.equal(bearer.json.message, 'This token has been revoked');
    const basic = await server.send('/api/system', { headers: { authorization: `Basic ${Buffer.from(`admin:${admin}`).toString('base64')}` } });
    assert.equal(basic.status, 401);
    const again = await server.send(`/api/auth/api-tokens/${id}`, { token: session, method: 'DELETE' });
    assert.equal(again.status, 400);
    assert.equal(again.json.message, 'Token not found');
    const file = await authFile(server);
    assert.equal(file.revoked_tokens.length, 1);
  });
});

describe('read_only is refused on every mutating route', () => {
  let server: AuthServer;
  let session: string;
  let readOnly: string;
  let cert: TestCertificate;
  before(async () => {
    server = await startAuthServer();
    session = await server.setup();
    readOnly = await makeApiToken(server, session, 'read_only');
    cert = await makeCertificate(['localhost']);
  });
  after(async () => {
    await server.close();
    await cert.cleanup();
  });

  const routes: [string, string, unknown][] = [
    ['POST', '/api/auth/setup', { username: 'x', password: PASSWORD }],
    ['POST', '/api/auth/skip', {}],
    ['POST', '/api/auth/decline', {}],
    ['POST', '/api/auth/login', { username: 'admin', password: PASSWORD }],
    ['POST', '/api/auth/logout', {}],
    ['POST', '/api/auth/change-password', { old_password: PASSWORD, new_password: 'New-Password-77' }],
    ['POST', '/api/auth/disable', { password: PASSWORD }],
    ['POST', '/api/auth/totp/setup', { password: PASSWORD }],
    ['POST', '/api/auth/totp/enable', { token: '123456' }],
    ['POST', '/api/auth/totp/disable', { password: PASSWORD, totp_code: '123456' }],
    ['POST', '/api/auth/generate-api-token', { password: PASSWORD, scope: 'full_admin' }],
    ['DELETE', '/api/auth/api-tokens/0123456789abcdef', undefined],
    ['PUT', '/api/auth/profile', { display_name: 'Pwned' }],
    ['DELETE', '/api/auth/profile/avatar', undefined],
    ['POST', '/api/ssl/validate', { cert_path: '/x', key_path: '/y' }],
    ['POST', '/api/ssl/configure', { source: 'custom', cert_path: '/x', key_path: '/y' }],
    ['POST', '/api/ssl/disable', {}],
    ['POST', '/api/terminal/ticket', {}],
  ];

  for (const via of ['Bearer', 'Basic'] as const) {
    it(`answers 403 with a JSON message and changes nothing (${via})`, async () => {
      const dataDir = server.config.data_dir;
      const before = await readFile(join(dataDir, 'auth.json'));
      const auth = via === 'Bearer' ? `Bearer ${readOnly}` : `Basic ${Buffer.from(`admin:${readOnly}`).toString('base64')}`;
      for (const [method, path, json] of routes) {
        const reply = await server.send(path, { method, headers: { authorization: auth }, ...(json === undefined ? {} : { json }) });
        assert.equal(reply.status, 403, `${method} ${path}: ${reply.body}`);
        assert.equal(reply.json.success, false);
        assert.equal(reply.json.message, 'This action requires a full_admin token (your token: read_only)', `${method} ${path}`);
      }
      const avatar = await server.send('/api/auth/profile/avatar', { method: 'POST', body: PNG, headers: { authorization: auth, 'content-type': 'image/png' } });
      assert.equal(avatar.status, 403);
      assert.deepEqual(await readFile(join(dataDir, 'auth.json')), before);
      await assert.rejects(stat(join(dataDir, 'avatar.bin')), { code: 'ENOENT' });
      await assert.rejects(stat(join(dataDir, 'ssl_config.json')), { code: 'ENOENT' });
    });
  }

  it('still lets read_only read', async () => {
    for (const path of ['/api/system', '/api/auth/status', '/api/auth/profile', '/api/auth/api-tokens', '/api/ssl/status']) {
      assert.equal((await server.send(path, { token: readOnly })).status, 200, path);
    }
  });
});

describe('rate limits on credential endpoints', () => {
  let server: AuthServer;
  let session: string;
  before(async () => {
    server = await startAuthServer({ rateLimits: { perIp: { max: 3, windowMs: 60_000 }, perUser: { max: 5, windowMs: 60_000 } } });
    session = await server.setup();
  });
  after(() => server.close());

  it('answers 429 with Retry-After and retry_after after too many failures, even for the right password', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await server.send('/api/auth/login', { json: { username: 'admin', password: `Wrong-Pass-${i}` } })).status, 401);
    const limited = await server.login();
    assert.equal(limited.status, 429);
    assert.equal(limited.json.success, false);
    assert.ok(Number(limited.headers['retry-after']) > 0 && Number(limited.headers['retry-after']) <= 60);
    assert.equal(limited.json.retry_after, Number(limited.headers['retry-after']));
    assert.match(await auditText(server), /rate limit exceeded; rhost=127\.0\.0\.1 user=admin retry_after=\d+ method=login/);
  });

  it('covers the other credential endpoints from the same address (change-password, totp, tokens, setup, Basic)', async () => {
    const checks = [
      server.send('/api/auth/change-password', { token: session, json: { old_password: PASSWORD, new_password: 'New-Password-77' } }),
      server.send('/api/auth/totp/setup', { token: session, json: { password: PASSWORD } }),
      server.send('/api/auth/totp/enable', { token: session, json: { token: '123456' } }),
      server.send('/api/auth/generate-api-token', { token: session, json: { password: PASSWORD } }),
      server.send('/api/auth/disable', { token: session, json: { password: PASSWORD } }),
      server.send('/api/auth/setup', { json: { username: 'x', password: PASSWORD } }),
      server.send('/api/system', { headers: { authorization: `Basic ${Buffer.from('admin:whatever').toString('base64')}` } }),
    ];
    for (const reply of await Promise.all(checks)) {
      assert.equal(reply.status, 429, reply.body);
      assert.ok(reply.headers['retry-after']);
    }
  });

  it('limits per user across addresses, and lifts once the window has passed', async () => {
    server.clock.advance(61_000);
    // two more failures from 127.0.0.2 bring admin to 5 inside the window
    for (let i = 0; i < 2; i++) await server.send('/api/auth/login', { from: '127.0.0.2', json: { username: 'admin', password: 'Wrong-Pass-9' } });
    for (let i = 0; i < 3; i++) await server.send('/api/auth/login', { from: '127.0.0.3', json: { username: 'admin', password: 'Wrong-Pass-9' } });
    const fresh = await server.send('/api/auth/login', { from: '127.0.0.4', json: { username: 'admin', password: PASSWORD } });
    assert.equal(fresh.status, 429);
    server.clock.advance(61_000);
    assert.equal((await server.login()).status, 200);
  });
});

describe('profile and avatar', () => {
  let server: AuthServer;
  let session: string;
  before(async () => ({ server, session } = await startSignedIn()));
  after(() => server.close());

  it('sets and clears the display name, refusing control characters and long names', async () => {
    assert.equal((await server.send('/api/auth/profile', { method: 'PUT', token: session, json: { display_name: 'Ada\u0007' } })).status, 400);
    assert.equal((await server.send('/api/auth/profile', { method: 'PUT', token: session, json: { display_name: 'x'.repeat(65) } })).status, 400);
    assert.equal((await server.send('/api/auth/profile', { method: 'PUT', token: session, json: {} })).status, 400);
    assert.equal((await server.send('/api/auth/profile', { method: 'PUT', token: session, json: { display_name: ' Ada ' } })).status, 200);
    const profile = await server.send('/api/auth/profile', { token: session });
    assert.equal(profile.json.display_name, 'Ada');
    assert.equal(profile.json.has_avatar, false);
    await server.send('/api/auth/profile', { method: 'PUT', token: session, json: { display_name: '' } });
    assert.equal((await server.send('/api/auth/profile', { token: session })).json.display_name, null);
  });

  it('stores a PNG sent as the raw body (0600) and serves it back with its sniffed type', async () => {
    const upload = await server.send('/api/auth/profile/avatar', { method: 'POST', token: session, body: PNG, headers: { 'content-type': 'image/jpeg' } });
    assert.equal(upload.status, 200, upload.body);
    assert.equal(upload.json.avatar_content_type, 'image/png');
    await assertPrivate(join(server.config.data_dir, 'avatar.bin'));
    const got = await new Promise<Buffer>((resolve, reject) => {
      import('node:http').then(({ get }) =>
        get(`${server.url}/api/auth/profile/avatar`, { headers: { authorization: `Bearer ${session}` } }, (res) => {
          assert.equal(res.headers['content-type'], 'image/png');
          assert.equal(res.headers['cache-control'], 'private, max-age=60');
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve(Buffer.concat(chunks)));
        }).on('error', reject),
      );
    });
    assert.deepEqual(got, PNG);
    assert.equal((await server.send('/api/auth/profile', { token: session })).json.avatar_content_type, 'image/png');
  });

  it('refuses what is not a png/jpeg/webp/gif by its bytes, and multipart', async () => {
    const svg = await server.send('/api/auth/profile/avatar', { method: 'POST', token: session, body: '<svg onload="alert(1)"/>', headers: { 'content-type': 'image/png' } });
    assert.equal(svg.status, 415);
    const multipart = await server.send('/api/auth/profile/avatar', { method: 'POST', token: session, body: '--x--', headers: { 'content-type': 'multipart/form-data; boundary=x' } });
    assert.equal(multipart.status, 415);
  });

  it('answers 413 with a JSON message above 2 MB', async () => {
    const big = Buffer.concat([PNG, Buffer.alloc(2 * 1024 * 1024)]);
    const reply = await server.send('/api/auth/profile/avatar', { method: 'POST', token: session, body: big, headers: { 'content-type': 'image/png' } });
    assert.equal(reply.status, 413);
    assert.deepEqual({ ...reply.json }, { success: false, message: 'The image is larger than 2 MB' });
  });

  it('deletes it', async () => {
    assert.equal((await server.send('/api/auth/profile/avatar', { method: 'DELETE', token: session })).status, 200);
    assert.equal((await server.send('/api/auth/profile/avatar', { token: session })).status, 404);
  });
});

describe('HTTPS settings', () => {
  let server: AuthServer;
  let session: string;
  let cert: TestCertificate;
  let other: TestCertificate;
  before(async () => {
    cert = await makeCertificate(['localhost']);
    other = await makeCertificate(['localhost']);
    server = await startAuthServer({ proxmoxCertDir: cert.dir });
    session = await server.setup();
  });
  after(async () => {
    await server.close();
    await cert.cleanup();
    await other.cleanup();
  });

  it('needs authentication for status (ProxMenux left it public)', async () => {
    assert.equal((await server.send('/api/ssl/status')).status, 401);
  });

  it('validates a matching pair and refuses a key of another certificate or a missing file', async () => {
    const ok = await server.send('/api/ssl/validate', { token: session, json: { cert_path: cert.certPath, key_path: cert.keyPath } });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.cert_info.is_self_signed, true);
    const mismatch = await server.send('/api/ssl/validate', { token: session, json: { cert_path: cert.certPath, key_path: other.keyPath } });
    assert.equal(mismatch.status, 400);
    assert.equal(mismatch.json.message, 'The private key does not match the certificate');
    const missing = await server.send('/api/ssl/validate', { token: session, json: { cert_path: join(cert.dir, 'nope.pem'), key_path: cert.keyPath } });
    assert.equal(missing.status, 400);
    assert.match(missing.json.message, /does not exist/);
    const notPem = await server.send('/api/ssl/validate', { token: session, json: { cert_path: join(server.config.data_dir, 'auth.json'), key_path: cert.keyPath } });
    assert.equal(notPem.status, 400);
    assert.doesNotMatch(notPem.body, /jwt_secret/);
  });

  it('refuses /proc, /sys and /dev (by name or through a symlinked directory), a symlink, a FIFO and a file over 1 MB', async () => {
    const validate = (certPath: string) => server.send('/api/ssl/validate', { token: session, json: { cert_path: certPath, key_path: cert.keyPath } });
    for (const path of ['/proc/self/environ', '/sys/kernel/notes', '/dev/zero', '/tmp/../proc/self/status']) {
      const reply = await validate(path);
      assert.equal(reply.status, 400, path);
      assert.match(reply.json.message, /must not be under \/proc, \/sys or \/dev/, path);
    }
    const dir = join(server.dir, 'paths');
    await mkdir(dir, { recursive: true });
    await symlink('/proc/self', join(dir, 'me'));
    assert.match((await validate(join(dir, 'me', 'environ'))).json.message, /must not be under/);
    await symlink(cert.certPath, join(dir, 'link.pem'));
    assert.match((await validate(join(dir, 'link.pem'))).json.message, /symbolic link/);
    execFileSync('mkfifo', [join(dir, 'fifo.pem')]);
    assert.match((await validate(join(dir, 'fifo.pem'))).json.message, /not a regular file/);
    await writeFile(join(dir, 'big.pem'), Buffer.alloc(1024 * 1024 + 1, 'A'));
    assert.match((await validate(join(dir, 'big.pem'))).json.message, /too large/);
  });

  it('configures a custom pair into ssl_config.json (0600) without restarting, and disables it', async () => {
    const reply = await server.send('/api/ssl/configure', { token: session, json: { source: 'custom', cert_path: cert.certPath, key_path: cert.keyPath } });
    assert.equal(reply.status, 200);
    assert.equal(reply.json.restarting, false);
    assert.equal(reply.json.new_protocol, 'https');
    const path = join(server.config.data_dir, 'ssl_config.json');
    await assertPrivate(path);
    assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), { enabled: true, source: 'custom', cert_path: cert.certPath, key_path: cert.keyPath });
    const status = await server.send('/api/ssl/status', { token: session });
    assert.equal(status.json.ssl_enabled, true);
    assert.equal(status.json.cert_info.subject, 'CN=localhost');
    const off = await server.send('/api/ssl/disable', { token: session, json: {} });
    assert.equal(off.json.new_protocol, 'http');
    assert.equal(JSON.parse(await readFile(path, 'utf8')).enabled, false);
  });

  it('finds the Proxmox certificate pair (pve-ssl.pem/.key)', async () => {
    await writeFile(join(cert.dir, 'pve-ssl.pem'), await readFile(cert.certPath));
    await writeFile(join(cert.dir, 'pve-ssl.key'), await readFile(cert.keyPath));
    const status = await server.send('/api/ssl/status', { token: session });
    assert.equal(status.json.proxmox_available, true);
    const reply = await server.send('/api/ssl/configure', { token: session, json: { source: 'proxmox' } });
    assert.equal(reply.status, 200, reply.body);
    assert.equal(JSON.parse(await readFile(join(server.config.data_dir, 'ssl_config.json'), 'utf8')).cert_path, join(cert.dir, 'pve-ssl.pem'));
  });
});

describe('request bodies and errors', () => {
  let server: AuthServer;
  let session: string;
  before(async () => ({ server, session } = await startSignedIn()));
  after(() => server.close());

  it('takes JSON only: a form post (what a cross-site page can send) gets 415', async () => {
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data; boundary=x']) {
      const reply = await server.send('/api/ssl/disable', { method: 'POST', token: session, body: 'a=b', headers: { 'content-type': type } });
      assert.equal(reply.status, 415, type);
    }
  });

  it('caps JSON bodies at 64 kB (413 JSON) and answers malformed JSON with 400', async () => {
    const big = await server.send('/api/auth/login', { json: { username: 'admin', password: 'x'.repeat(70_000) } });
    assert.equal(big.status, 413);
    assert.equal(big.json.success, false);
    const bad = await server.send('/api/auth/login', { body: '{"username":', headers: { 'content-type': 'application/json' } });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.message, 'The request body is not valid JSON');
  });

  it('answers 500 as {success:false, message:"Internal error"} without the exception text', async () => {
    await mkdir(join(server.config.data_dir, 'avatar.bin')); // reading a directory: EISDIR
    const reply = await server.send('/api/auth/profile/avatar', { token: session });
    assert.equal(reply.status, 500);
    assert.deepEqual({ ...reply.json }, { success: false, message: 'Internal error' });
    assert.doesNotMatch(reply.body, /EISDIR|illegal operation/);
  });
});

describe('auth.json is 0600 after every kind of write, even if someone loosened it', () => {
  let server: AuthServer;
  before(async () => (server = await startAuthServer()));
  after(() => server.close());

  it('rewrites it 0600 on setup, login, 2FA, tokens, profile, revocation and logout', async () => {
    const path = join(server.config.data_dir, 'auth.json');
    const loosen = () => import('node:fs/promises').then(({ chmod }) => chmod(path, 0o644));
    let session = '';
    let secret = '';
    let tokenId = '';
    const steps: [string, () => Promise<unknown>][] = [
      ['setup', async () => (session = await server.setup())],
      ['totp/setup', async () => (secret = (await server.send('/api/auth/totp/setup', { token: session, json: { password: PASSWORD } })).json.secret)],
      ['totp/enable', () => server.send('/api/auth/totp/enable', { token: session, json: { token: server.totp(secret) } })],
      ['login (code spent)', async () => {
        server.clock.advance(30_000);
        return server.login('admin', { totp_token: server.totp(secret) });
      }],
      ['generate-api-token', async () => {
        server.clock.advance(30_000);
        tokenId = (await server.send('/api/auth/generate-api-token', { token: session, json: { password: PASSWORD, totp_token: server.totp(secret) } })).json.id;
      }],
      ['revoke token', () => server.send(`/api/auth/api-tokens/${tokenId}`, { method: 'DELETE', token: session })],
      ['profile', () => server.send('/api/auth/profile', { method: 'PUT', token: session, json: { display_name: 'Ada' } })],
      ['logout', () => server.send('/api/auth/logout', { method: 'POST', token: session })],
    ];
    for (const [what, step] of steps) {
      if (what !== 'setup') await loosen();
      const before = what === 'setup' ? null : (await stat(path)).ino;
      await step();
      assert.notEqual((await stat(path)).ino, before, `${what} wrote the file`);
      await assertPrivate(path);
    }
  });
});
