import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { openStorage } from '../../../gateway/storage/open.ts';
import { StorageError } from '../../../gateway/storage/errors.ts';
import { BACKENDS, TEST_KEY, rawQuery, silentLogger } from './backends.ts';

for (const backend of BACKENDS) {
  describe(`${backend.name}: the database remembers which encryption_key created it`, () => {
    it('reopens with the same key and refuses another one with a clear message', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      await (await openStorage(options, { logger: silentLogger, migrate: true })).close();
      await (await openStorage(options, { logger: silentLogger, migrate: true })).close();

      const other = { ...options, encryption_key: 'another-encryption-key-of-length' };
      await assert.rejects(openStorage(other, { logger: silentLogger, migrate: true }), (error: unknown) => {
        assert.ok(error instanceof StorageError);
        assert.equal(error.code, 'encryption_key_mismatch');
        assert.equal(error.message, 'storage: the encryption_key does not match the one this database was created with');
        return true;
      });
    });

    it('stores a check value, not the key', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());
      const rows = await rawQuery(options, 'select name, value from encryption');
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.['name'], 'check');
      assert.equal(rows[0]?.['value'], storage.encryption.keys.checkValue);
      assert.ok(!String(rows[0]?.['value']).includes(TEST_KEY));
    });
  });

  describe(`${backend.name}: an encryption_key shorter than 20 characters is refused`, () => {
    it('fails before touching the database', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      await assert.rejects(
        openStorage({ ...options, encryption_key: '0123456789012345678' }, { logger: silentLogger, migrate: true }),
        (error: unknown) => {
          assert.ok(error instanceof StorageError);
          assert.equal(error.code, 'encryption_key_too_short');
          assert.equal(error.message, "storage: option 'encryption_key' must be at least 20 characters long");
          return true;
        },
      );
      if (options.local) await assert.rejects(access(options.local.path), { code: 'ENOENT' });
    });
  });
}
