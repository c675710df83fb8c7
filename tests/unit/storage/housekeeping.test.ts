// Expired one-time codes and reset links are forgotten a week after they expired, and the session
// index forgets sessions older than the longest a session can live, OpenID Connect payloads go once
// expired; anything younger stays. Both engines.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStorage } from '../../../gateway/storage/open.ts';
import { EXPIRED_KEPT_MS } from '../../../gateway/storage/housekeeping.ts';
import { BACKENDS, silentLogger } from './backends.ts';

const T0 = 1_750_000_000_000;
const DAY = 86_400_000;

for (const backend of BACKENDS) {
  describe(`${backend.name}: housekeeping`, () => {
    it('forgets codes and links a week past their expiry and index rows older than the longest session, keeps the rest', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());
      const code = (expiresAt: number) => storage.oneTimeCodes.create({ username: 'alice', intent: 'elevate', code: 'ABCDEFGH', issuedAt: expiresAt - 300_000, issuedIp: '192.0.2.1', expiresAt });
      const oldCode = await code(T0 - EXPIRED_KEPT_MS - 1);
      const recentCode = await code(T0 - EXPIRED_KEPT_MS + 1);
      const link = (jti: string, expiresAt: number) => storage.identityVerification.create({ jti, username: 'alice', action: 'reset_password', issuedAt: expiresAt - 300_000, issuedIp: '192.0.2.1', expiresAt });
      await link('old', T0 - EXPIRED_KEPT_MS - 1);
      await link('recent', T0 - DAY);
      const session = (sessionId: string, nowMs: number) => storage.userSessions.add({ sessionId, username: 'alice', nowMs, remoteIp: '192.0.2.1', userAgent: 'test' });
      await session('s-dead', T0 - 31 * DAY);
      await session('s-alive', T0 - 29 * DAY);
      await storage.oidc.upsert('AuthorizationCode', 'expired', { grantId: 'g1' }, 60, T0 - 60_001);
      await storage.oidc.upsert('RefreshToken', 'live', { grantId: 'g1' }, 60, T0 - 59_999);
      await storage.oidc.linkSession('key-old', 'uid-old', 'alice', T0 - 31 * DAY);
      await storage.oidc.linkSession('key-new', 'uid-new', 'alice', T0 - 29 * DAY);

      assert.deepEqual(await storage.housekeeping.pruneExpired(T0, 30 * DAY), { oneTimeCodes: 1, resetLinks: 1, sessions: 1, oidcPayloads: 1, oidcSessionLinks: 1 });
      assert.equal(await storage.oneTimeCodes.find(oldCode), undefined);
      assert.ok(await storage.oneTimeCodes.find(recentCode), 'an expired code is kept a week for the audit');
      assert.equal(await storage.identityVerification.find('old'), undefined);
      assert.ok(await storage.identityVerification.find('recent'));
      assert.deepEqual((await storage.userSessions.listByUser('alice')).length, 1);
      assert.ok(await storage.oidc.find('RefreshToken', 'live', T0), 'an OpenID Connect payload is kept until it expires');
      assert.deepEqual(await storage.oidc.linkedSessions({ username: 'alice' }), ['uid-new'], 'a provider session tie lives as long as the longest gateway session');
      assert.deepEqual(await storage.housekeeping.pruneExpired(T0, 30 * DAY), { oneTimeCodes: 0, resetLinks: 0, sessions: 0, oidcPayloads: 0, oidcSessionLinks: 0 }, 'nothing twice');
    });
  });
}
