// Usernames and ids are compared byte for byte on every database: MySQL's default collations would take
// `Alice` for `alice` and `é` for `e`, so one user could see another's ban, method or OpenID subject.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStorage } from '../../../gateway/storage/open.ts';
import { BACKENDS, silentLogger } from './backends.ts';

const T0 = 1_700_000_000_000;

for (const backend of BACKENDS) {
  describe(`${backend.name}: usernames that differ only in case or accents are different users`, () => {
    it('keeps their preferences, bans and OpenID Connect subjects apart', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());

      await storage.preferences.setSecondFactorMethod('alice', 'totp');
      await storage.preferences.setSecondFactorMethod('Alice', 'webauthn');
      assert.equal(await storage.preferences.getSecondFactorMethod('alice'), 'totp');
      assert.equal(await storage.preferences.getSecondFactorMethod('Alice'), 'webauthn');
      assert.equal(await storage.preferences.getSecondFactorMethod('ALICE'), undefined);

      await storage.bans.banUser({ username: 'rene', time: T0, expires: null, source: 'cli' });
      assert.equal((await storage.bans.activeUserBan('rene', T0 + 1))?.username, 'rene');
      assert.equal(await storage.bans.activeUserBan('René', T0 + 1), undefined);
      assert.equal(await storage.bans.activeUserBan('RENE', T0 + 1), undefined);

      const lower = await storage.oidc.subjectFor('bob', T0);
      const upper = await storage.oidc.subjectFor('Bob', T0);
      assert.notEqual(lower, upper);
      assert.equal(await storage.oidc.usernameForSubject(upper, { fresh: true }), 'Bob');
      assert.equal(await storage.oidc.existingSubject('BOB'), undefined);
    });
  });
}
