import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStorage } from '../../../gateway/storage/open.ts';
import { StorageError } from '../../../gateway/storage/errors.ts';
import { sessionHash } from '../../../gateway/storage/user-sessions.ts';
import { BACKENDS, rawQuery, silentLogger } from './backends.ts';

const T0 = 1_750_000_000_000;

const KEY = {
  username: 'alice',
  description: 'YubiKey 5',
  kid: 'AQIDBAUGBwgJCgsMDQ4PEA',
  aaguid: 'cb69481e-8ff7-4039-93ec-0a2729a154a8',
  attestationType: 'none',
  attachment: 'cross-platform',
  transports: ['usb', 'nfc'],
  signCount: 7,
  discoverable: false,
  present: true,
  verified: false,
  backupEligible: false,
  backupState: false,
  publicKey: Buffer.from('a50102032620012158', 'hex'),
  createdAt: T0,
};

for (const backend of BACKENDS) {
  describe(`${backend.name}: WebAuthn users get one random handle; credentials are listed, renamed, counted and deleted`, () => {
    it('gives each user one stable 64-byte handle and finds the user by it', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());
      const handle = await storage.webauthn.userHandle('alice');
      assert.equal(handle.length, 64);
      assert.deepEqual(await storage.webauthn.userHandle('alice'), handle, 'stable');
      assert.notDeepEqual(await storage.webauthn.userHandle('bob'), handle);
      assert.equal(await storage.webauthn.usernameByHandle(handle), 'alice');
      assert.equal(await storage.webauthn.usernameByHandle(Buffer.alloc(64)), undefined);
    });

    it('round-trips a credential and manages it by owner', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());

      const added = await storage.webauthn.add(KEY);
      assert.deepEqual({ ...added, id: 0 }, { ...KEY, id: 0, lastUsedAt: null, cloneWarning: false });
      const passkey = await storage.webauthn.add({ ...KEY, description: 'Phone', kid: 'passkey-1', transports: [], discoverable: true, verified: true, createdAt: T0 + 1 });
      assert.deepEqual((await storage.webauthn.list('alice')).map((c) => c.description), ['YubiKey 5', 'Phone']);
      assert.deepEqual(await storage.webauthn.list('bob'), []);
      assert.deepEqual((await storage.webauthn.byKid('passkey-1'))?.transports, []);

      await assert.rejects(storage.webauthn.add({ ...KEY, description: 'Other' }), (error: unknown) => error instanceof StorageError, 'a credential id is registered once');
      await assert.rejects(storage.webauthn.add({ ...KEY, kid: 'other' }), (error: unknown) => error instanceof StorageError, 'names are unique per user');

      assert.equal(await storage.webauthn.rename('bob', added.id, 'Mine now'), false, "another user's credential");
      assert.equal(await storage.webauthn.rename('alice', added.id, 'Desk key'), true);
      await storage.webauthn.markUsed(added.id, { signCount: 9, backupState: false, cloneWarning: true, nowMs: T0 + 5 });
      const used = await storage.webauthn.byKid(KEY.kid);
      assert.deepEqual([used?.description, used?.signCount, used?.cloneWarning, used?.lastUsedAt], ['Desk key', 9, true, T0 + 5]);

      assert.equal(await storage.webauthn.delete('bob', passkey.id), false);
      assert.equal(await storage.webauthn.delete('alice', passkey.id), true);
      assert.deepEqual((await storage.webauthn.list('alice')).map((c) => c.kid), [KEY.kid]);
    });
  });

  describe(`${backend.name}: the preferred second-factor method is kept per user`, () => {
    it('is undefined until set, then the last value set', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());
      assert.equal(await storage.preferences.getSecondFactorMethod('alice'), undefined);
      await storage.preferences.setSecondFactorMethod('alice', 'totp');
      await storage.preferences.setSecondFactorMethod('alice', 'webauthn');
      await storage.preferences.setSecondFactorMethod('bob', 'totp');
      assert.equal(await storage.preferences.getSecondFactorMethod('alice'), 'webauthn');
      assert.equal(await storage.preferences.getSecondFactorMethod('bob'), 'totp');
    });
  });

  describe(`${backend.name}: each user's sessions are indexed by a hash of their id`, () => {
    it('adds, touches, lists newest first, removes one and removes the rest', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());
      const sessions = storage.userSessions;
      await sessions.add({ sessionId: 'laptop-session-id', username: 'alice', nowMs: T0, remoteIp: '192.0.2.1', userAgent: 'Firefox' });
      await sessions.add({ sessionId: 'phone-session-id', username: 'alice', nowMs: T0 + 1, remoteIp: '192.0.2.2', userAgent: 'Safari' });
      await sessions.add({ sessionId: 'tablet-session-id', username: 'alice', nowMs: T0 + 2, remoteIp: '192.0.2.3', userAgent: 'Chrome' });
      await sessions.add({ sessionId: 'bob-session-id', username: 'bob', nowMs: T0, remoteIp: '192.0.2.9', userAgent: 'curl' });
      await sessions.touch('laptop-session-id', T0 + 10, '192.0.2.4');

      const listed = await sessions.listByUser('alice');
      assert.deepEqual(listed.map((s) => s.userAgent), ['Firefox', 'Chrome', 'Safari']);
      assert.deepEqual(listed[0], { sessionHash: sessionHash('laptop-session-id'), username: 'alice', createdAt: T0, lastSeenAt: T0 + 10, remoteIp: '192.0.2.4', userAgent: 'Firefox' });
      assert.ok(listed.every((s) => !s.sessionHash.includes('session-id')), 'the id itself is never stored');

      assert.equal(await sessions.remove('bob', sessionHash('phone-session-id')), false, "not bob's");
      assert.equal(await sessions.remove('alice', sessionHash('phone-session-id')), true);
      assert.deepEqual(await sessions.removeAllForUser('alice', sessionHash('laptop-session-id')), [sessionHash('tablet-session-id')]);
      assert.deepEqual((await sessions.listByUser('alice')).map((s) => s.userAgent), ['Firefox']);
      assert.deepEqual(await sessions.removeAllForUser('alice'), [sessionHash('laptop-session-id')]);
      assert.equal((await sessions.listByUser('bob')).length, 1, "bob's sessions untouched");
    });
  });

  describe(`${backend.name}: a session's id is kept sealed, so another device can end it`, () => {
    it('reads the id back for its own user only, stores no plaintext, and moves it when the id changes', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());
      const sessions = storage.userSessions;
      await sessions.add({ sessionId: 'laptop-session-id', username: 'alice', nowMs: T0, remoteIp: '192.0.2.1', userAgent: 'Firefox' });
      assert.equal(await sessions.sessionId('alice', sessionHash('laptop-session-id')), 'laptop-session-id');
      assert.equal(await sessions.sessionId('bob', sessionHash('laptop-session-id')), undefined, "not bob's");
      const raw = await rawQuery(options, 'select session_id from user_sessions');
      assert.ok(!Buffer.from(raw[0]!['session_id'] as Uint8Array).toString('latin1').includes('laptop-session-id'), 'sealed, not plaintext');

      // a second factor gives the session a new id: the same row, under the new hash
      assert.equal(await sessions.move('alice', sessionHash('laptop-session-id'), 'upgraded-session-id', T0 + 5, '192.0.2.7'), true);
      assert.equal(await sessions.move('bob', sessionHash('upgraded-session-id'), 'other-id', T0 + 6, '192.0.2.7'), false, "bob cannot move alice's");
      const listed = await sessions.listByUser('alice');
      assert.deepEqual(listed, [{ sessionHash: sessionHash('upgraded-session-id'), username: 'alice', createdAt: T0, lastSeenAt: T0 + 5, remoteIp: '192.0.2.7', userAgent: 'Firefox' }]);
      assert.equal(await sessions.sessionId('alice', sessionHash('upgraded-session-id')), 'upgraded-session-id');
      assert.equal(await sessions.sessionId('alice', sessionHash('laptop-session-id')), undefined);
      assert.deepEqual((await storage.encryption.checkValues()).find((c) => c.name === 'user_sessions.session_id'), { name: 'user_sessions.session_id', ok: 1, failed: 0 });
    });
  });
}
