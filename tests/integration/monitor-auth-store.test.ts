/**
 * auth.json fails closed: a corrupt, invalid, unreadable or vanished file makes every protected
 * endpoint answer 503 naming the file, offers no setup, and is never written over (ProxMenux read
 * such a file as "auth disabled" and saved defaults over it).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PASSWORD, makeApiToken, startAuthServer, type AuthServer } from './monitor-auth-harness.ts';

const PROTECTED: [string, string, unknown][] = [
  ['GET', '/api/system', undefined],
  ['GET', '/api/auth/status', undefined],
  ['POST', '/api/auth/setup', { username: 'mallory', password: 'Mallory-Pass-1' }],
  ['POST', '/api/auth/login', { username: 'admin', password: PASSWORD }],
  ['POST', '/api/auth/skip', {}],
  ['POST', '/api/auth/generate-api-token', { password: PASSWORD }],
  ['GET', '/api/auth/api-tokens', undefined],
  ['GET', '/api/auth/profile', undefined],
  ['POST', '/api/terminal/ticket', {}],
];

describe('a corrupt auth.json fails closed and is left untouched', () => {
  let server: AuthServer;
  let session: string;
  let apiToken: string;
  let path: string;
  let original: Buffer;
  const corrupt = Buffer.from('{"enabled": true, "username": "admin", "password_hash": "$argon2id$v=19$m=1024,t=1,p=1$trunc');

  before(async () => {
    server = await startAuthServer();
    session = await server.setup();
    apiToken = await makeApiToken(server, session, 'full_admin');
    path = join(server.config.data_dir, 'auth.json');
    original = await readFile(path);
    await writeFile(path, corrupt);
  });
  after(() => server.close());

  for (const [method, route, json] of PROTECTED) {
    it(`${method} ${route} answers 503 naming the file, with a valid token or none`, async () => {
      for (const token of [session, apiToken, undefined]) {
        const reply = await server.send(route, { method, ...(token ? { token } : {}), ...(json === undefined ? {} : { json }) });
        assert.equal(reply.status, 503, `${method} ${route}: ${reply.body}`);
        assert.equal(reply.json.success, false);
        assert.ok(reply.json.message.includes(path), reply.json.message);
        assert.match(reply.json.message, /is unreadable; fix or restore it \(it is not valid JSON\)/);
        assert.doesNotMatch(reply.body, /argon2id/, 'no file content in the answer');
      }
    });
  }

  it('did not offer setup, and the file is byte-identical', async () => {
    assert.deepEqual(await readFile(path), corrupt);
  });

  it('serves again once the operator restores the file, with the same tokens', async () => {
    await writeFile(path, original, { mode: 0o600 });
    assert.equal((await server.send('/api/system', { token: apiToken })).status, 200);
    assert.equal((await server.send('/api/auth/status')).json.auth_enabled, true);
  });
});

describe('auth.json that parses but does not validate', () => {
  let server: AuthServer;
  let path: string;
  before(async () => {
    server = await startAuthServer();
    await server.setup();
    path = join(server.config.data_dir, 'auth.json');
  });
  after(() => server.close());

  for (const [what, edit, detail] of [
    ['a field of the wrong type', (f: Record<string, unknown>) => ({ ...f, totp_enabled: 'yes' }), /totp_enabled: expected boolean/],
    ['enabled without credentials', (f: Record<string, unknown>) => ({ ...f, password_hash: null }), /enabled is true but username or password_hash is empty/],
    ['an unknown password hash format', (f: Record<string, unknown>) => ({ ...f, password_hash: 'md5$abc' }), /password_hash: unsupported password hash format/],
    ['2FA on without a secret', (f: Record<string, unknown>) => ({ ...f, totp_enabled: true, totp_secret: null }), /totp_enabled is true but totp_secret is empty/],
    ['a JSON array', () => [], /it must hold a JSON object/],
  ] as const) {
    it(`refuses ${what} (503, detail in the message) and keeps the file`, async () => {
      const good = await readFile(path, 'utf8');
      const bad = JSON.stringify(edit(JSON.parse(good)), null, 2);
      await writeFile(path, bad);
      try {
        const reply = await server.send('/api/auth/status');
        assert.equal(reply.status, 503);
        assert.match(reply.json.message, detail);
        assert.equal((await server.send('/api/auth/setup', { json: { username: 'x', password: PASSWORD } })).status, 503);
        assert.equal(await readFile(path, 'utf8'), bad);
      } finally {
        await writeFile(path, good);
      }
    });
  }
});

describe('auth.json that cannot be read, or vanishes while the monitor runs', () => {
  let server: AuthServer;
  let session: string;
  let path: string;
  before(async () => {
    server = await startAuthServer();
    session = await server.setup();
    path = join(server.config.data_dir, 'auth.json');
  });
  after(() => server.close());

  it('answers 503 when it is not a readable file (EISDIR), and creates nothing', async () => {
    await rename(path, `${path}.bak`);
    await mkdir(path);
    try {
      const reply = await server.send('/api/system', { token: session });
      assert.equal(reply.status, 503);
      assert.match(reply.json.message, /cannot read it: EISDIR/);
      assert.ok((await stat(path)).isDirectory());
    } finally {
      await rm(path, { recursive: true });
      await rename(`${path}.bak`, path);
    }
    assert.equal((await server.send('/api/system', { token: session })).status, 200);
  });

  it('does not start over unconfigured when the file is deleted: 503, and setup is not offered', async () => {
    const saved = await readFile(path);
    await rm(path);
    const status = await server.send('/api/auth/status');
    assert.equal(status.status, 503);
    assert.match(status.json.message, /removed while the monitor was running/);
    assert.equal((await server.send('/api/auth/setup', { json: { username: 'mallory', password: 'Mallory-Pass-1' } })).status, 503);
    await assert.rejects(stat(path), { code: 'ENOENT' });
    await writeFile(path, saved, { mode: 0o600 });
    assert.equal((await server.send('/api/system', { token: session })).status, 200);
  });
});

describe('a trusted Remote-User still gets 503 while auth.json is broken', () => {
  let server: AuthServer;
  before(async () => {
    server = await startAuthServer({ config: { trusted_proxies: ['127.0.0.1/32'] } });
    await server.setup();
    await writeFile(join(server.config.data_dir, 'auth.json'), 'not json');
  });
  after(() => server.close());

  it('answers 503 on a protected route', async () => {
    const reply = await server.send('/api/system', { headers: { 'remote-user': 'alice' } });
    assert.equal(reply.status, 503);
  });
});
