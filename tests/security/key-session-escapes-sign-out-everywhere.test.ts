// A security key as the second factor gives the session a new id (completeSecondFactor), but the
// WebAuthn handler did not move the signed-in sessions index to it: the index kept the old id's row,
// and a session that is then only used through forward auth (the apps, never the portal) is never
// re-indexed. "Sign out everywhere" from another device ended the old, already gone, id and left the
// level-2 session working: the one session a user most wants to end (someone with their password and
// key) was neither listed nor ended.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStorage } from '../../gateway/storage/open.ts';
import type { Storage } from '../../gateway/storage/storage.ts';
import { askAuthz, PORTAL_ORIGIN, login, portal, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { assert as signAssertion, newCredential, type SoftwareCredential } from '../helpers/software-authenticator.ts';
import { silentLogger } from '../unit/storage/backends.ts';

const PASSWORD = 'Correct-Horse-Battery-9';
const JSON_HEADERS = { origin: PORTAL_ORIGIN, accept: 'application/json' };
const TARGET = 'https://secure.example.test/';

describe('a session that proved a security key is ended by "sign out everywhere"', () => {
  let gw: InProcessGateway;
  let storage: Storage;
  let key: SoftwareCredential;

  before(async () => {
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD, email: 'alice@example.test' } },
      config: { access_control: { default_policy: 'deny', rules: [{ domain: 'secure.example.test', policy: 'two_factor' }] } },
    });
    storage = await openStorage({ encryption_key: 'a-test-encryption-key-long-enough', local: { path: join(gw.dir, 'db.sqlite3') } }, { logger: silentLogger, migrate: false });
    key = newCredential(await storage.webauthn.userHandle('alice'));
    await storage.webauthn.add({
      username: 'alice', description: 'Desk key', kid: key.id.toString('base64url'), aaguid: null, attestationType: 'none',
      attachment: 'cross-platform', transports: ['usb'], signCount: 0, discoverable: false, present: true, verified: true,
      backupEligible: false, backupState: false, publicKey: key.cosePublicKey, createdAt: Date.now(),
    });
  });
  after(async () => {
    await storage?.close();
    await gw?.close();
  });

  it('the key-upgraded session, used only by forward auth afterwards, no longer passes', async () => {
    let cookie = await login(gw, 'alice', PASSWORD);
    const started = await portal(gw, '/api/secondfactor/webauthn', { headers: { cookie, accept: 'application/json' } });
    assert.equal(started.status, 200, started.body);
    const publicKey = started.json<{ data: { publicKey: { challenge: string; rpId: string } } }>().data.publicKey;
    const answer = await portal(gw, '/api/secondfactor/webauthn', { method: 'POST', json: { response: signAssertion(key, publicKey, { origin: PORTAL_ORIGIN }) }, headers: { ...JSON_HEADERS, cookie } });
    assert.equal(answer.status, 200, answer.body);
    cookie = `gatehouse_session=${answer.cookies.find((c) => c.name === 'gatehouse_session')!.value}`;
    assert.equal((await askAuthz(gw, 'forward-auth', TARGET, { cookie })).status, 200, 'level 2 at the app');

    // from another device: list the sessions, then sign out everywhere
    const other = await login(gw, 'alice', PASSWORD);
    // the list is read before the sign-out, as a person would look at it first
    const listed = await portal(gw, '/api/user/sessions', { headers: { cookie: other, accept: 'application/json' } });
    assert.equal(listed.json<{ data: { sessions: unknown[] } }>().data.sessions.length, 2, `both sessions are listed: ${listed.body}`);
    const everywhere = await portal(gw, '/api/user/sessions', { method: 'DELETE', json: {}, headers: { ...JSON_HEADERS, cookie: other } });
    assert.equal(everywhere.status, 200, everywhere.body);

    assert.notEqual((await askAuthz(gw, 'forward-auth', TARGET, { cookie })).status, 200, 'the key-upgraded session still reaches the app');
  });
});
