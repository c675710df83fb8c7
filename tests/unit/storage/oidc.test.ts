// The OpenID Connect provider's storage on both engines: oidc-provider's Adapter semantics (upsert, find,
// findByUid, findByUserCode, consume, destroy, revokeByGrantId) with an injected clock, payloads sealed
// at rest and re-encrypted by change-key, stable subjects, remembered consents, and two instances
// sharing one database.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deriveKeys } from '../../../gateway/storage/encryption.ts';
import { StorageError } from '../../../gateway/storage/errors.ts';
import { openStorage } from '../../../gateway/storage/open.ts';
import { BACKENDS, rawQuery, silentLogger, twoInstances } from './backends.ts';

const T0 = 1_750_000_000_000;
const NEW_KEY = 'the-new-encryption-key-for-this-test';

for (const backend of BACKENDS) {
  const open = async (t: { after(fn: () => Promise<void>): void }) => {
    const { options, cleanup } = await backend.create();
    t.after(cleanup);
    const storage = await openStorage(options, { logger: silentLogger, migrate: true });
    t.after(() => storage.close());
    return { storage, options };
  };

  describe(`${backend.name}: oidc-provider payloads`, () => {
    it('upsert then find returns the payload until it expires, and upsert replaces', async (t) => {
      const { storage } = await open(t);
      const code = { accountId: 'sub-1', grantId: 'g1', scope: 'openid', nested: { a: [1, 2] } };
      await storage.oidc.upsert('AuthorizationCode', 'c1', code, 60, T0);
      assert.deepEqual(await storage.oidc.find('AuthorizationCode', 'c1', T0 + 59_999), code);
      assert.equal(await storage.oidc.find('AuthorizationCode', 'c1', T0 + 60_000), undefined, 'expired at expiresIn');
      assert.equal(await storage.oidc.find('RefreshToken', 'c1', T0), undefined, 'the model is part of the key');
      assert.equal(await storage.oidc.find('AuthorizationCode', 'nope', T0), undefined);

      await storage.oidc.upsert('AuthorizationCode', 'c1', { ...code, scope: 'openid email' }, 120, T0 + 30_000);
      assert.equal((await storage.oidc.find('AuthorizationCode', 'c1', T0 + 100_000))?.['scope'], 'openid email');

      await storage.oidc.upsert('Client', 'forever', { client_id: 'x' }, undefined, T0);
      assert.deepEqual(await storage.oidc.find('Client', 'forever', T0 + 10 * 365 * 86_400_000), { client_id: 'x' }, 'no expiresIn: no expiry');
    });

    it('findByUid and findByUserCode find by the payload fields, within the model, until expiry', async (t) => {
      const { storage } = await open(t);
      await storage.oidc.upsert('Session', 's1', { uid: 'u1', accountId: 'alice' }, 3600, T0);
      await storage.oidc.upsert('DeviceCode', 'd1', { userCode: 'ABCD-EFGH', grantId: 'g9' }, 600, T0);
      assert.deepEqual(await storage.oidc.findByUid('Session', 'u1', T0), { uid: 'u1', accountId: 'alice' });
      assert.equal(await storage.oidc.findByUid('Interaction', 'u1', T0), undefined);
      assert.equal(await storage.oidc.findByUid('Session', 'u2', T0), undefined);
      assert.equal(await storage.oidc.findByUid('Session', 'u1', T0 + 3_600_000), undefined, 'expired');
      assert.deepEqual(await storage.oidc.findByUserCode('DeviceCode', 'ABCD-EFGH', T0), { userCode: 'ABCD-EFGH', grantId: 'g9' });
      assert.equal(await storage.oidc.findByUserCode('DeviceCode', 'ABCD-EFGH', T0 + 600_000), undefined, 'expired');
    });

    it('consume sets `consumed` (epoch seconds) into the payload; destroy removes it', async (t) => {
      const { storage } = await open(t);
      await storage.oidc.upsert('AuthorizationCode', 'c1', { grantId: 'g1' }, 60, T0);
      await storage.oidc.consume('AuthorizationCode', 'c1', T0 + 5_500);
      assert.deepEqual(await storage.oidc.find('AuthorizationCode', 'c1', T0 + 6_000), { grantId: 'g1', consumed: Math.floor((T0 + 5_500) / 1000) });
      await storage.oidc.consume('AuthorizationCode', 'missing', T0);
      await storage.oidc.destroy('AuthorizationCode', 'c1');
      assert.equal(await storage.oidc.find('AuthorizationCode', 'c1', T0), undefined);
    });

    it('revokeByGrantId deletes every model carrying the grant, and nothing else', async (t) => {
      const { storage } = await open(t);
      await storage.oidc.upsert('AuthorizationCode', 'c1', { grantId: 'g1' }, 60, T0);
      await storage.oidc.upsert('AccessToken', 'a1', { grantId: 'g1' }, 3600, T0);
      await storage.oidc.upsert('RefreshToken', 'r1', { grantId: 'g1' }, 86_400, T0);
      await storage.oidc.upsert('RefreshToken', 'r2', { grantId: 'g2' }, 86_400, T0);
      await storage.oidc.upsert('Grant', 'g1', { accountId: 'alice' }, 86_400, T0);
      assert.equal(await storage.oidc.revokeByGrantId('g1'), 3);
      for (const [model, id] of [['AuthorizationCode', 'c1'], ['AccessToken', 'a1'], ['RefreshToken', 'r1']] as const) {
        assert.equal(await storage.oidc.find(model, id, T0), undefined, `${model} revoked`);
      }
      assert.ok(await storage.oidc.find('RefreshToken', 'r2', T0), 'another grant is untouched');
      assert.ok(await storage.oidc.find('Grant', 'g1', T0), 'the Grant itself is destroyed by the provider, not by its id here');
      assert.equal(await storage.oidc.revokeByGrantId('g1'), 0);
    });

    it('the payload is sealed in the table and bound to model:id', async (t) => {
      const { storage, options } = await open(t);
      await storage.oidc.upsert('RefreshToken', 'r1', { grantId: 'g1', secretish: 'plain-marker-value' }, 60, T0);
      await storage.oidc.upsert('RefreshToken', 'r2', { grantId: 'g1' }, 60, T0);
      const rows = await rawQuery(options, "select payload_id, payload, grant_id from oidc_payloads where model = 'RefreshToken' order by payload_id");
      assert.equal(rows[0]?.['grant_id'], 'g1');
      const raw = Buffer.from(rows[0]?.['payload'] as Uint8Array);
      assert.ok(!raw.toString('latin1').includes('plain-marker-value'), 'not stored in clear');
      assert.ok(!raw.toString('latin1').includes('grantId'));
      // r1's ciphertext moved onto r2: refused (bound to model:id), not read as r1's payload
      await rawQuery(options, backend.name === 'postgres'
        ? `update oidc_payloads set payload = decode('${raw.toString('hex')}', 'hex') where payload_id = 'r2'`
        : `update oidc_payloads set payload = x'${raw.toString('hex')}' where payload_id = 'r2'`);
      await assert.rejects(storage.oidc.find('RefreshToken', 'r2', T0), (error: unknown) => error instanceof StorageError && error.code === 'decryption_failed');
      assert.equal((await storage.oidc.find('RefreshToken', 'r1', T0))?.['secretish'], 'plain-marker-value', 'r1 still reads');
    });

    it('change-key re-encrypts the payloads; the new key reads them', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const old = await openStorage(options, { logger: silentLogger, migrate: true });
      await old.oidc.upsert('Session', 's1', { uid: 'u1', accountId: 'alice' }, 3600, T0);
      await old.oidc.upsert('Grant', 'g1', { accountId: 'alice' }, undefined, T0);
      const before = await rawQuery(options, "select payload from oidc_payloads where payload_id = 's1'");
      const report = await old.encryption.changeKey(deriveKeys(NEW_KEY));
      assert.deepEqual(report.find((c) => c.name === 'oidc_payloads.payload'), { name: 'oidc_payloads.payload', ok: 2, failed: 0 });
      await old.close();
      const after = await rawQuery(options, "select payload from oidc_payloads where payload_id = 's1'");
      assert.notDeepEqual(after[0]?.['payload'], before[0]?.['payload'], 'the ciphertext changed');
      const renewed = await openStorage({ ...options, encryption_key: NEW_KEY }, { logger: silentLogger, migrate: false });
      t.after(() => renewed.close());
      assert.deepEqual(await renewed.oidc.findByUid('Session', 'u1', T0), { uid: 'u1', accountId: 'alice' });
      assert.deepEqual(await renewed.oidc.find('Grant', 'g1', T0), { accountId: 'alice' });
    });

    it('housekeeping deletes expired payloads and keeps live ones', async (t) => {
      const { storage, options } = await open(t);
      await storage.oidc.upsert('AuthorizationCode', 'old', { grantId: 'g1' }, 60, T0);
      await storage.oidc.upsert('RefreshToken', 'live', { grantId: 'g1' }, 3600, T0);
      await storage.oidc.upsert('Grant', 'forever', {}, undefined, T0);
      const pruned = await storage.housekeeping.pruneExpired(T0 + 60_000, 30 * 86_400_000);
      assert.equal(pruned.oidcPayloads, 1);
      const left = await rawQuery(options, 'select payload_id from oidc_payloads order by payload_id');
      assert.deepEqual(left.map((r) => r['payload_id']), ['forever', 'live']);
    });

    it('two instances on one database see each other\'s payloads, consumption and revocation', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const [first, second] = await twoInstances(options, t);
      await first.oidc.upsert('AuthorizationCode', 'c1', { grantId: 'g1' }, 60, T0);
      await first.oidc.upsert('Session', 's1', { uid: 'u1' }, 3600, T0);
      assert.deepEqual(await second.oidc.find('AuthorizationCode', 'c1', T0), { grantId: 'g1' });
      assert.deepEqual(await second.oidc.findByUid('Session', 'u1', T0), { uid: 'u1' });
      await second.oidc.consume('AuthorizationCode', 'c1', T0 + 1_000);
      assert.equal((await first.oidc.find('AuthorizationCode', 'c1', T0 + 1_000))?.consumed, Math.floor((T0 + 1_000) / 1000));
      await second.oidc.revokeByGrantId('g1');
      assert.equal(await first.oidc.find('AuthorizationCode', 'c1', T0), undefined);
    });
  });

  describe(`${backend.name}: oidc subjects`, () => {
    it('one opaque subject per user, stable, unique, and mapped back', async (t) => {
      const { storage } = await open(t);
      const alice = await storage.oidc.subjectFor('alice', T0);
      assert.match(alice, /^[A-Za-z0-9_-]{43}$/);
      assert.ok(!alice.includes('alice'));
      assert.equal(await storage.oidc.subjectFor('alice', T0 + 1), alice, 'stable');
      const bob = await storage.oidc.subjectFor('bob', T0);
      assert.notEqual(bob, alice);
      assert.equal(await storage.oidc.usernameForSubject(alice), 'alice');
      assert.equal(await storage.oidc.usernameForSubject(bob), 'bob');
      assert.equal(await storage.oidc.usernameForSubject('unknown'), undefined);
    });

    it("a subject's username remembered by one instance is asked again once the users changed (a rename in another process)", async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const [first, second] = await twoInstances(options, t);
      const subject = await first.oidc.subjectFor('alice', T0);
      assert.equal(await first.oidc.usernameForSubject(subject), 'alice');
      // `gatehouse users rename alice alicia` in another process moves the subject
      await second.exclusively(['user:alice'], (tx) => tx.userRenames.move('alice', 'alicia', T0));
      assert.equal(await first.oidc.usernameForSubject(subject), 'alice', 'remembered until the users change');
      first.oidc.forgetRememberedUsernames();
      assert.equal(await first.oidc.usernameForSubject(subject), 'alicia');
    });

    it('two instances asking at once for a new user get the same subject', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const [first, second] = await twoInstances(options, t);
      for (const username of ['carol', 'dave', 'erin', 'frank']) {
        const [a, b, c, d] = await Promise.all([
          first.oidc.subjectFor(username, T0), second.oidc.subjectFor(username, T0),
          first.oidc.subjectFor(username, T0), second.oidc.subjectFor(username, T0),
        ]);
        assert.equal(a, b);
        assert.equal(a, c);
        assert.equal(a, d);
      }
      const rows = await rawQuery(options, 'select count(*) as n from oidc_subjects');
      assert.equal(Number(rows[0]?.['n']), 4);
    });
  });

  describe(`${backend.name}: oidc consents`, () => {
    const consent = (clientId: string, expiresAt: number | null, grantedAt = T0) =>
      ({ username: 'alice', clientId, scopes: ['openid', 'email'], claims: ['email'], grantedAt, expiresAt });

    it('records, finds while active, lists, and a new consent replaces the previous one', async (t) => {
      const { storage } = await open(t);
      await storage.oidc.recordConsent(consent('gitea', null));
      await storage.oidc.recordConsent(consent('nextcloud', T0 + 3_600_000));
      assert.deepEqual(await storage.oidc.findConsent('alice', 'gitea', T0 + 10 ** 12), consent('gitea', null), 'null: for ever');
      assert.deepEqual(await storage.oidc.findConsent('alice', 'nextcloud', T0 + 1), consent('nextcloud', T0 + 3_600_000));
      assert.equal(await storage.oidc.findConsent('alice', 'nextcloud', T0 + 3_600_000), undefined, 'expired');
      assert.equal(await storage.oidc.findConsent('bob', 'gitea', T0), undefined);
      assert.deepEqual((await storage.oidc.listConsents('alice', T0)).map((c) => c.clientId), ['gitea', 'nextcloud']);
      assert.deepEqual((await storage.oidc.listConsents('alice', T0 + 3_600_000)).map((c) => c.clientId), ['gitea']);

      const wider = { ...consent('gitea', null, T0 + 5), scopes: ['openid', 'email', 'groups'], claims: [] };
      await storage.oidc.recordConsent(wider);
      assert.deepEqual(await storage.oidc.findConsent('alice', 'gitea', T0 + 6), wider);
      assert.equal((await storage.oidc.listConsents('alice', T0 + 6)).length, 2, 'replaced, not added');
    });

    it('revoke ends one client\'s consent and says whether there was one', async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const [first, second] = await twoInstances(options, t);
      await first.oidc.recordConsent(consent('gitea', null));
      await first.oidc.recordConsent(consent('grafana', null));
      assert.equal(await second.oidc.revokeConsent('alice', 'gitea', T0 + 1), true);
      assert.equal(await first.oidc.findConsent('alice', 'gitea', T0 + 2), undefined, 'seen by the other instance');
      assert.ok(await first.oidc.findConsent('alice', 'grafana', T0 + 2), 'other clients untouched');
      assert.equal(await second.oidc.revokeConsent('alice', 'gitea', T0 + 3), false, 'nothing left to revoke');
      assert.equal(await second.oidc.revokeConsent('alice', 'portainer', T0 + 3), false);
    });

    it('works inside exclusively()', async (t) => {
      const { storage } = await open(t);
      const subject = await storage.exclusively(['oidc:alice'], async (tx) => {
        await tx.oidc.upsert('Grant', 'g1', { accountId: 'alice' }, 60, T0);
        return tx.oidc.subjectFor('alice', T0);
      });
      assert.equal(await storage.oidc.subjectFor('alice', T0), subject);
      assert.ok(await storage.oidc.find('Grant', 'g1', T0));
    });
  });
}
