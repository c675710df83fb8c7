import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStorage } from '../../../gateway/storage/open.ts';
import type { AuthenticationAttempt } from '../../../gateway/storage/types.ts';
import { BACKENDS, silentLogger } from './backends.ts';

const T0 = 1_750_000_000_000; // past 2^32 ms: catches a time squeezed into a 32-bit column

function attempt(overrides: Partial<AuthenticationAttempt>): AuthenticationAttempt {
  return {
    time: T0,
    successful: false,
    banned: false,
    username: 'alice',
    authType: '1fa',
    remoteIp: '192.0.2.10',
    requestUri: 'https://app.example.com/',
    requestMethod: 'GET',
    ...overrides,
  };
}

for (const backend of BACKENDS) {
  describe(`${backend.name}: every authentication attempt is stored and read back as written`, () => {
    it('records an over-long username typed at the login form (cut to 512 characters on MySQL)', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());

      const typed = '\u{1F600}'.repeat(600); // a character outside the BMP: cut between characters, not UTF-16 units
      await storage.authenticationLogs.append(attempt({ username: typed }));
      const kept = backend.name === 'mysql' ? '\u{1F600}'.repeat(512) : typed;
      const [log] = await storage.authenticationLogs.loadByUsername(kept, T0, 10);
      assert.equal(log?.username, kept);
    });

    it('round-trips all fields with their JS types, newest first', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());

      await storage.authenticationLogs.append(attempt({ time: T0, successful: true }));
      await storage.authenticationLogs.append(attempt({ time: T0 + 1000, authType: 'totp', banned: true, requestMethod: 'POST' }));
      await storage.authenticationLogs.append(attempt({ time: T0 + 2000, username: 'bob', remoteIp: '2001:db8::1' }));

      const logs = await storage.authenticationLogs.loadByUsername('alice', T0, 10);
      assert.equal(logs.length, 2);
      const [newest, oldest] = logs;
      assert.equal(typeof newest?.id, 'number');
      assert.deepEqual({ ...newest, id: 0 }, { ...attempt({ time: T0 + 1000, authType: 'totp', banned: true, requestMethod: 'POST' }), id: 0 });
      assert.deepEqual({ ...oldest, id: 0 }, { ...attempt({ time: T0, successful: true }), id: 0 });
      assert.strictEqual(newest?.time, T0 + 1000);
      assert.strictEqual(newest?.banned, true);
      assert.strictEqual(oldest?.successful, true);

      const byIp = await storage.authenticationLogs.loadByIp('2001:db8::1', T0, 10);
      assert.deepEqual(byIp.map((log) => log.username), ['bob']);
    });

    it('filters by time (inclusive), limit, auth type and banned flag', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());

      for (let i = 0; i < 5; i++) await storage.authenticationLogs.append(attempt({ time: T0 + i * 1000, requestUri: `/${i}` }));
      await storage.authenticationLogs.append(attempt({ time: T0 + 5000, authType: 'totp', requestUri: '/totp' }));
      await storage.authenticationLogs.append(attempt({ time: T0 + 6000, banned: true, requestUri: '/banned' }));

      const uris = async (...args: Parameters<typeof storage.authenticationLogs.loadByUsername>) =>
        (await storage.authenticationLogs.loadByUsername(...args)).map((log) => log.requestUri);
      assert.deepEqual(await uris('alice', T0 + 3000, 10), ['/banned', '/totp', '/4', '/3']);
      assert.deepEqual(await uris('alice', T0, 2), ['/banned', '/totp']);
      assert.deepEqual(await uris('alice', T0, 10, { authTypes: ['1fa', 'basic'], banned: false }), ['/4', '/3', '/2', '/1', '/0']);
      assert.deepEqual(await uris('alice', T0, 10, { authTypes: [] }), []);
      assert.deepEqual(await uris('Alice', T0, 10), [], 'the storage layer matches names exactly; the regulator normalises');
    });
  });
}
