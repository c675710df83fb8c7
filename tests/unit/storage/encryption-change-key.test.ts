import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deriveKeys } from '../../../gateway/storage/encryption.ts';
import { StorageError } from '../../../gateway/storage/errors.ts';
import { openStorage } from '../../../gateway/storage/open.ts';
import type { StorageOptions } from '../../../gateway/storage/options.ts';
import { BACKENDS, rawQuery, silentLogger } from './backends.ts';

const T0 = 1_750_000_000_000;
const NEW_KEY = 'the-new-encryption-key-for-this-test';
const CODE = { username: 'alice', intent: 'elevate', code: 'H7KM3QXP', issuedAt: T0, issuedIp: '192.0.2.1', expiresAt: T0 + 300_000 };
const totp = (username: string, fill: number) => ({ username, issuer: 'Gatehouse', algorithm: 'SHA1' as const, digits: 6, period: 30, secret: Buffer.alloc(20, fill), createdAt: T0 });

/** Two TOTP users, one one-time code, a set of recovery codes (which creates the lookup key). */
async function populate(options: StorageOptions): Promise<string> {
  const storage = await openStorage(options, { logger: silentLogger, migrate: true });
  try {
    await storage.totp.save(totp('alice', 1));
    await storage.totp.save(totp('bob', 2));
    await storage.recoveryCodes.replace('alice', ['AAAA-BBBB-CC', 'DDDD-EEEE-FF'], T0);
    return await storage.oneTimeCodes.create(CODE);
  } finally {
    await storage.close();
  }
}

const isMismatch = (error: unknown) => error instanceof StorageError && error.code === 'encryption_key_mismatch';

for (const backend of BACKENDS) {
  describe(`${backend.name}: storage encryption check decrypts every encrypted value`, () => {
    it('reports per column, and counts a value that does not decrypt', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      await populate(options);
      const storage = await openStorage(options, { logger: silentLogger, migrate: false });
      t.after(() => storage.close());
      assert.deepEqual(await storage.encryption.checkValues(), [
        { name: 'totp_configurations.secret', ok: 2, failed: 0 },
        { name: 'one_time_codes.code', ok: 1, failed: 0 },
        { name: 'encryption.lookup_key', ok: 1, failed: 0 },
        { name: 'user_sessions.session_id', ok: 0, failed: 0 },
        { name: 'oidc_payloads.payload', ok: 0, failed: 0 },
      ]);
      await rawQuery(options, backend.name === 'postgres'
        ? "update totp_configurations set secret = decode('01ff', 'hex') where username = 'bob'"
        : "update totp_configurations set secret = x'01ff' where username = 'bob'");
      assert.deepEqual((await storage.encryption.checkValues())[0], { name: 'totp_configurations.secret', ok: 1, failed: 1 });
    });
  });

  describe(`${backend.name}: storage encryption change-key re-encrypts everything in one transaction`, () => {
    it('after the change the new key opens and reads everything, and the old key is refused', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const publicId = await populate(options);
      const before = await rawQuery(options, "select secret from totp_configurations where username = 'alice'");

      const old = await openStorage(options, { logger: silentLogger, migrate: false });
      assert.deepEqual(await old.encryption.changeKey(deriveKeys(NEW_KEY)), [
        { name: 'totp_configurations.secret', ok: 2, failed: 0 },
        { name: 'one_time_codes.code', ok: 1, failed: 0 },
        { name: 'encryption.lookup_key', ok: 1, failed: 0 },
        { name: 'user_sessions.session_id', ok: 0, failed: 0 },
        { name: 'oidc_payloads.payload', ok: 0, failed: 0 },
      ]);
      await old.close();

      const after = await rawQuery(options, "select secret from totp_configurations where username = 'alice'");
      assert.notDeepEqual(after[0]?.['secret'], before[0]?.['secret'], 'the ciphertext changed');
      await assert.rejects(openStorage(options, { logger: silentLogger, migrate: false }), isMismatch, 'the old key is refused');

      const renewed = await openStorage({ ...options, encryption_key: NEW_KEY }, { logger: silentLogger, migrate: false });
      t.after(() => renewed.close());
      assert.deepEqual((await renewed.encryption.checkValues()).map((c) => c.failed), [0, 0, 0, 0, 0]);
      assert.deepEqual((await renewed.totp.load('bob'))?.secret, Buffer.alloc(20, 2));
      assert.equal((await renewed.oneTimeCodes.find(publicId))?.code, CODE.code);
      // the HMACs recovery codes are found by still match: the lookup key was re-encrypted, not replaced
      assert.equal(await renewed.recoveryCodes.consume('alice', 'DDDD-EEEE-FF', T0 + 1), true);
    });

    it('a failure midway changes nothing: everything stays under the old key', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      await populate(options);
      // bob's seed comes after alice's: alice's is re-encrypted before the failure
      await rawQuery(options, backend.name === 'postgres'
        ? "update totp_configurations set secret = decode('01ff', 'hex') where username = 'bob'"
        : "update totp_configurations set secret = x'01ff' where username = 'bob'");
      const before = await rawQuery(options, 'select name, value from encryption order by name');

      const old = await openStorage(options, { logger: silentLogger, migrate: false });
      await assert.rejects(old.encryption.changeKey(deriveKeys(NEW_KEY)), (error: unknown) => {
        assert.ok(error instanceof StorageError);
        assert.equal(error.code, 'decryption_failed');
        assert.equal(error.message, "storage: totp_configurations.secret of 'bob' does not decrypt under the current encryption_key; nothing was changed");
        return true;
      });
      await old.close();

      assert.deepEqual(await rawQuery(options, 'select name, value from encryption order by name'), before, 'check value and lookup key untouched');
      await assert.rejects(openStorage({ ...options, encryption_key: NEW_KEY }, { logger: silentLogger, migrate: false }), isMismatch);
      const reopened = await openStorage(options, { logger: silentLogger, migrate: false });
      t.after(() => reopened.close());
      assert.deepEqual((await reopened.totp.load('alice'))?.secret, Buffer.alloc(20, 1), "alice's seed is still under the old key");
      assert.deepEqual(await reopened.encryption.checkValues(), [
        { name: 'totp_configurations.secret', ok: 1, failed: 1 },
        { name: 'one_time_codes.code', ok: 1, failed: 0 },
        { name: 'encryption.lookup_key', ok: 1, failed: 0 },
        { name: 'user_sessions.session_id', ok: 0, failed: 0 },
        { name: 'oidc_payloads.payload', ok: 0, failed: 0 },
      ]);
    });
  });
}
