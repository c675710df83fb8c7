/**
 * A security key as the second factor gives the session a new id. The session index must follow it, or
 * the index still names the old, destroyed id: "sign out everywhere" (and "sign out" on that row) then
 * destroys nothing, the listed row vanishes, and the level-2 session on the lost laptop stays signed in
 * (forward auth never touches the index, so it never comes back to be ended).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openStorage } from '../../gateway/storage/open.ts';
import type { Storage } from '../../gateway/storage/storage.ts';
import { askAuthz, login, PORTAL_ORIGIN, portal, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import type { HttpResponse } from '../helpers/http.ts';
import { assert as signAssertion, newCredential, type SoftwareCredential } from '../helpers/software-authenticator.ts';
import { silentLogger } from '../unit/storage/backends.ts';

const PASSWORD = 'Correct-Horse-Battery-9';
const JSON_HEADERS = { origin: PORTAL_ORIGIN, accept: 'application/json' };
const APP = 'https://secure.example.test/admin';

const cookieOf = (response: HttpResponse, previous: string) => {
  const set = response.cookies.find((c) => c.name === 'gatehouse_session');
  return set ? `gatehouse_session=${set.value}` : previous;
};

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
      username: 'alice', description: 'Desk key', kid: key.id.toString('base64url'), aaguid: null, attestationType: 'none', attachment: 'cross-platform',
      transports: ['usb'], signCount: 0, discoverable: false, present: true, verified: true, backupEligible: false, backupState: false,
      publicKey: key.cosePublicKey, createdAt: Date.now(),
    });
  });
  after(async () => {
    await storage?.close();
    await gw?.close();
  });

  /** Password, then the key: the laptop's level-2 cookie. */
  async function laptopSignIn(): Promise<string> {
    let cookie = await login(gw, 'alice', PASSWORD);
    const started = await portal(gw, '/api/secondfactor/webauthn', { headers: { cookie, accept: 'application/json' } });
    cookie = cookieOf(started, cookie);
    const publicKey = started.json<{ data: { publicKey: { challenge: string; rpId: string } } }>().data.publicKey;
    const response = signAssertion(key, publicKey, { origin: PORTAL_ORIGIN });
    const answer = await portal(gw, '/api/secondfactor/webauthn', { method: 'POST', json: { response }, headers: { ...JSON_HEADERS, cookie } });
    assert.equal(answer.status, 200, answer.body);
    cookie = cookieOf(answer, cookie);
    assert.equal((await askAuthz(gw, 'forward-auth', APP, { cookie })).status, 200, 'level 2 reaches the two_factor app');
    return cookie;
  }

  it('from the phone, DELETE /api/user/sessions ends the laptop', async () => {
    const laptop = await laptopSignIn();
    const phone = await login(gw, 'alice', PASSWORD);
    const listed = await portal(gw, '/api/user/sessions', { headers: { cookie: phone } });
    assert.equal(listed.json<{ data: { sessions: unknown[] } }>().data.sessions.length, 2, 'the laptop is listed');
    assert.equal((await portal(gw, '/api/user/sessions', { method: 'DELETE', json: {}, headers: { ...JSON_HEADERS, cookie: phone } })).status, 200);
    assert.notEqual((await askAuthz(gw, 'forward-auth', APP, { cookie: laptop })).status, 200, 'the laptop is signed out');
  });

  it('from the phone, signing the listed laptop row out ends the laptop', async () => {
    const laptop = await laptopSignIn();
    const phone = await login(gw, 'alice', PASSWORD);
    const sessions = (await portal(gw, '/api/user/sessions', { headers: { cookie: phone } })).json<{ data: { sessions: { id: string; current: boolean }[] } }>().data.sessions;
    const other = sessions.filter((s) => !s.current);
    assert.ok(other.length >= 1, 'the laptop is listed');
    for (const s of other) assert.equal((await portal(gw, `/api/user/sessions/${s.id}`, { method: 'DELETE', json: {}, headers: { ...JSON_HEADERS, cookie: phone } })).status, 200);
    assert.notEqual((await askAuthz(gw, 'forward-auth', APP, { cookie: laptop })).status, 200, 'the laptop is signed out');
  });
});
