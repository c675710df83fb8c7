import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStorage } from '../../../gateway/storage/open.ts';
import { StorageError } from '../../../gateway/storage/errors.ts';
import { BACKENDS, rawQuery, silentLogger, twoInstances } from './backends.ts';

const T0 = 1_750_000_000_000;
const SECRET = Buffer.from('12345678901234567890', 'ascii'); // RFC 6238's test seed

for (const backend of BACKENDS) {
  describe(`${backend.name}: a TOTP configuration is saved, replaced and deleted per user`, () => {
    it('round-trips every field and replaces on save', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());

      assert.equal(await storage.totp.load('alice'), undefined);
      await storage.totp.save({ username: 'alice', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret: SECRET, createdAt: T0 });
      assert.deepEqual(await storage.totp.load('alice'), {
        username: 'alice', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret: SECRET, createdAt: T0, lastUsedAt: null,
      });
      const other = Buffer.alloc(32, 7);
      await storage.totp.save({ username: 'alice', issuer: 'Home', algorithm: 'SHA512', digits: 8, period: 60, secret: other, createdAt: T0 + 1 });
      const replaced = await storage.totp.load('alice');
      assert.equal(replaced?.algorithm, 'SHA512');
      assert.deepEqual(replaced?.secret, other);
      assert.equal((await rawQuery(options, 'select * from totp_configurations')).length, 1, 'one configuration per user');

      assert.equal(await storage.totp.delete('alice'), true);
      assert.equal(await storage.totp.load('alice'), undefined);
      assert.equal(await storage.totp.delete('alice'), false);
    });

    it('keeps the seed encrypted at rest, bound to its user', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());
      await storage.totp.save({ username: 'alice', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret: SECRET, createdAt: T0 });
      await storage.totp.save({ username: 'bob', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret: SECRET, createdAt: T0 });

      const rows = await rawQuery(options, "select username, secret from totp_configurations order by username");
      const stored = rows.map((row) => Buffer.from(row['secret'] as Uint8Array));
      for (const raw of stored) {
        assert.equal(raw.indexOf(SECRET), -1, 'the seed is not in the column');
        assert.ok(!raw.toString('latin1').includes('12345678901234567890'));
      }
      assert.notDeepEqual(stored[0], stored[1], 'a fresh nonce per value');

      // alice's ciphertext moved onto bob's row does not decrypt as bob's
      const hex = stored[0]!.toString('hex');
      await rawQuery(options, backend.name === 'postgres'
        ? `update totp_configurations set secret = decode('${hex}', 'hex') where username = 'bob'`
        : `update totp_configurations set secret = x'${hex}' where username = 'bob'`);
      await assert.rejects(storage.totp.load('bob'), (error: unknown) => error instanceof StorageError && error.code === 'decryption_failed');
    });
  });

  describe(`${backend.name}: a TOTP step is accepted once per user, across instances`, () => {
    it('markStepUsed is true the first time only, per user and step, and records last use', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());
      await storage.totp.save({ username: 'alice', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret: SECRET, createdAt: T0 });

      assert.equal(await storage.totp.markStepUsed('alice', 58_333_333, T0 + 5), true);
      assert.equal(await storage.totp.markStepUsed('alice', 58_333_333, T0 + 6), false, 'replay refused');
      assert.equal(await storage.totp.markStepUsed('alice', 58_333_334, T0 + 7), true, 'the next step is fresh');
      assert.equal(await storage.totp.markStepUsed('bob', 58_333_333, T0 + 8), true, 'steps are per user');
      assert.equal((await storage.totp.load('alice'))?.lastUsedAt, T0 + 7);

      assert.equal(await storage.totp.pruneHistory(T0 + 7), 1, 'only the step recorded before the cut');
      assert.equal(await storage.totp.markStepUsed('alice', 58_333_334, T0 + 9), false, 'a step recorded after the cut stays');
    });

    it('two instances racing on the same step: exactly one wins', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const [first, second] = await twoInstances(options, t);

      for (let step = 1; step <= 5; step += 1) {
        const attempts = [first, second, first, second, first, second].map((storage) => storage.totp.markStepUsed('alice', step, T0));
        const results = await Promise.all(attempts);
        assert.equal(results.filter(Boolean).length, 1, `step ${step}: ${results.join(',')}`);
      }
    });
  });
}
