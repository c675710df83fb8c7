import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStorage } from '../../../gateway/storage/open.ts';
import { BACKENDS, rawQuery, silentLogger, twoInstances } from './backends.ts';

const T0 = 1_750_000_000_000;
const MINUTE = 60_000;
const CODES = ['K7QX-M2PD-9R', 'WJ4N-TC8H-3F', 'B6YV-QE5K-2M'];

for (const backend of BACKENDS) {
  describe(`${backend.name}: recovery codes are single use, hashed at rest, and replaced as a set`, () => {
    it('consumes each code once, counts what is left, and a new set voids the old one', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());

      await storage.recoveryCodes.replace('alice', CODES, T0);
      assert.equal(await storage.recoveryCodes.remaining('alice'), 3);
      assert.equal(await storage.recoveryCodes.consume('alice', CODES[0]!, T0 + 1), true);
      assert.equal(await storage.recoveryCodes.consume('alice', CODES[0]!, T0 + 2), false, 'used up');
      assert.equal(await storage.recoveryCodes.consume('bob', CODES[1]!, T0 + 2), false, "another user's code");
      assert.equal(await storage.recoveryCodes.consume('alice', 'not-a-code', T0 + 2), false);
      assert.equal(await storage.recoveryCodes.remaining('alice'), 2);

      const raw = await rawQuery(options, 'select code_hash from recovery_codes');
      for (const row of raw) {
        const stored = Buffer.from(row['code_hash'] as Uint8Array).toString('latin1');
        for (const code of CODES) assert.ok(!stored.includes(code), 'no code in clear');
      }

      await storage.recoveryCodes.replace('alice', ['NEW1-NEW1-NE'], T0 + 3);
      assert.equal(await storage.recoveryCodes.remaining('alice'), 1);
      assert.equal(await storage.recoveryCodes.consume('alice', CODES[1]!, T0 + 4), false, 'the old set no longer works');
      assert.equal(await storage.recoveryCodes.consume('alice', 'NEW1-NEW1-NE', T0 + 4), true);
    });

    it('two instances using the same code at once: exactly one succeeds', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const [first, second] = await twoInstances(options, t);
      await first.recoveryCodes.replace('alice', CODES, T0);
      const results = await Promise.all([first, second, first, second].map((s) => s.recoveryCodes.consume('alice', CODES[2]!, T0 + 1)));
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await second.recoveryCodes.remaining('alice'), 2);
    });
  });

  describe(`${backend.name}: identity-verification tokens are used once, until they expire or are revoked`, () => {
    const token = { jti: 'b1f1c1d2-0000-4000-8000-000000000001', username: 'alice', action: 'reset_password', issuedAt: T0, issuedIp: '192.0.2.1', expiresAt: T0 + 5 * MINUTE };

    it('consume returns the token once; expired and revoked tokens are refused', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());

      await storage.identityVerification.create(token);
      assert.deepEqual(await storage.identityVerification.find(token.jti), { ...token, consumedAt: null, consumedIp: null, revokedAt: null, revokedIp: null });
      assert.deepEqual(await storage.identityVerification.consume(token.jti, T0 + MINUTE, '192.0.2.2'), {
        ...token, consumedAt: T0 + MINUTE, consumedIp: '192.0.2.2', revokedAt: null, revokedIp: null,
      });
      assert.equal(await storage.identityVerification.consume(token.jti, T0 + MINUTE, '192.0.2.2'), undefined, 'used once');
      assert.equal(await storage.identityVerification.revoke(token.jti, T0 + MINUTE, '192.0.2.2'), false, 'nothing left to revoke');

      const late = { ...token, jti: 'late' };
      await storage.identityVerification.create(late);
      assert.equal(await storage.identityVerification.consume('late', T0 + 5 * MINUTE, '192.0.2.2'), undefined, 'expired at expiresAt');

      const revoked = { ...token, jti: 'revoked' };
      await storage.identityVerification.create(revoked);
      assert.equal(await storage.identityVerification.revoke('revoked', T0 + 1, '198.51.100.9'), true);
      assert.equal(await storage.identityVerification.consume('revoked', T0 + 2, '192.0.2.2'), undefined);
      assert.equal((await storage.identityVerification.find('revoked'))?.revokedIp, '198.51.100.9');
    });

    it('concurrent uses from two instances: exactly one gets the token', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const [first, second] = await twoInstances(options, t);
      await first.identityVerification.create(token);
      const results = await Promise.all([first, second, first, second].map((s) => s.identityVerification.consume(token.jti, T0 + 1, '192.0.2.3')));
      assert.equal(results.filter((r) => r !== undefined).length, 1);
    });

    it("revokeAllForUser revokes that user's unused tokens of that action only", async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());
      for (const jti of ['a1', 'a2', 'used']) await storage.identityVerification.create({ ...token, jti });
      await storage.identityVerification.create({ ...token, jti: 'bob', username: 'bob' });
      await storage.identityVerification.create({ ...token, jti: 'other', action: 'something_else' });
      await storage.identityVerification.consume('used', T0 + 1, '192.0.2.2');
      assert.equal(await storage.identityVerification.revokeAllForUser('alice', 'reset_password', T0 + 2, '192.0.2.4'), 2);
      for (const jti of ['a1', 'a2']) assert.equal(await storage.identityVerification.consume(jti, T0 + 3, '192.0.2.2'), undefined, jti);
      assert.equal((await storage.identityVerification.find('used'))?.revokedAt, null, 'a used token stays as it was');
      assert.ok(await storage.identityVerification.consume('bob', T0 + 3, '192.0.2.2'), "another user's token");
      assert.ok(await storage.identityVerification.consume('other', T0 + 3, '192.0.2.2'), 'another action');
    });
  });

  describe(`${backend.name}: one-time codes are encrypted at rest and used once`, () => {
    const code = { username: 'alice', intent: 'elevate', code: 'H7KM3QXP', issuedAt: T0, issuedIp: '192.0.2.1', expiresAt: T0 + 5 * MINUTE };

    it('stores the code encrypted, checks it by value, and refuses reuse, another intent, expiry and revocation', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());

      const publicId = await storage.oneTimeCodes.create(code);
      assert.deepEqual(await storage.oneTimeCodes.find(publicId), { ...code, publicId, consumedAt: null, consumedIp: null, revokedAt: null, revokedIp: null });
      const [row] = await rawQuery(options, 'select code, signature from one_time_codes');
      assert.ok(!Buffer.from(row!['code'] as Uint8Array).toString('latin1').includes(code.code), 'not in clear');
      assert.ok(!Buffer.from(row!['signature'] as Uint8Array).toString('latin1').includes(code.code));

      const attempt = { publicId, username: 'alice', intent: 'elevate', code: code.code, nowMs: T0 + MINUTE, ip: '192.0.2.1' };
      assert.equal(await storage.oneTimeCodes.consume({ ...attempt, code: 'WRONG000' }), false);
      assert.equal(await storage.oneTimeCodes.consume({ ...attempt, intent: 'reset_password' }), false);
      assert.equal(await storage.oneTimeCodes.consume({ ...attempt, username: 'bob' }), false);
      assert.equal(await storage.oneTimeCodes.consume(attempt), true);
      assert.equal(await storage.oneTimeCodes.consume(attempt), false, 'used once');
      assert.equal((await storage.oneTimeCodes.find(publicId))?.consumedAt, T0 + MINUTE);

      const expiring = await storage.oneTimeCodes.create(code);
      assert.equal(await storage.oneTimeCodes.consume({ ...attempt, publicId: expiring, nowMs: T0 + 5 * MINUTE }), false, 'expired at expiresAt');
      const revoked = await storage.oneTimeCodes.create(code);
      assert.equal(await storage.oneTimeCodes.revoke(revoked, T0 + 1, '192.0.2.9'), true);
      assert.equal(await storage.oneTimeCodes.revoke(revoked, T0 + 2, '192.0.2.9'), false);
      assert.equal(await storage.oneTimeCodes.consume({ ...attempt, publicId: revoked }), false);
    });

    it('concurrent uses from two instances: exactly one succeeds', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const [first, second] = await twoInstances(options, t);
      const publicId = await first.oneTimeCodes.create(code);
      const attempt = { publicId, username: 'alice', intent: 'elevate', code: code.code, nowMs: T0 + 1, ip: '192.0.2.1' };
      const results = await Promise.all([first, second, first, second].map((s) => s.oneTimeCodes.consume(attempt)));
      assert.equal(results.filter(Boolean).length, 1);
    });
  });
}
