// Signed-in sessions, as their user sees and ends them: each login is listed (IP, browser, when), the
// list follows the clock (last seen at most once a minute, expired sessions drop out), and signing a
// session out from another device ends it for real: its cookie opens nothing any more.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { askAuthz, portal, PORTAL_ORIGIN, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { openStorage } from '../../gateway/storage/open.ts';
import { silentLogger } from '../unit/storage/backends.ts';
import type { HttpResponse } from '../helpers/http.ts';

const PASSWORD = 'correct horse battery staple';
const FORM = 'application/x-www-form-urlencoded';
const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const SAFARI = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';

interface SessionJson { id: string; created_at: string; last_seen_at: string; ip: string; user_agent: string; current: boolean }

async function loginFrom(gw: InProcessGateway, username: string, agent: string, ip: string): Promise<string> {
  const response = await portal(gw, '/api/firstfactor', {
    method: 'POST',
    json: { username, password: PASSWORD },
    headers: { origin: PORTAL_ORIGIN, 'user-agent': agent, 'x-forwarded-for': ip },
  });
  const cookie = response.cookies.find((c) => c.name === 'gatehouse_session');
  assert.equal(response.status, 200, response.body);
  assert.ok(cookie);
  return `gatehouse_session=${cookie.value}`;
}

async function listSessions(gw: InProcessGateway, cookie: string): Promise<SessionJson[]> {
  const response = await portal(gw, '/api/user/sessions', { headers: { cookie } });
  assert.equal(response.status, 200, response.body);
  return response.json<{ status: string; data: { sessions: SessionJson[] } }>().data.sessions;
}

const signedIn = async (gw: InProcessGateway, cookie: string) => (await portal(gw, '/api/user/info', { headers: { cookie } })).status === 200;

function deleteSession(gw: InProcessGateway, cookie: string, id: string, headers: Record<string, string> = {}): Promise<HttpResponse> {
  return portal(gw, `/api/user/sessions/${id}`, { method: 'DELETE', json: {}, headers: { cookie, origin: PORTAL_ORIGIN, ...headers } });
}

describe('signed-in sessions: listed, kept current, and ended from another device', () => {
  let gw: InProcessGateway;

  before(async () => {
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD, displayname: 'Alice', email: 'alice@example.test' }, bob: { password: PASSWORD } },
      config: { access_control: { default_policy: 'one_factor' }, server: { address: 'tcp://127.0.0.1:0' } },
    });
  });
  after(() => gw?.close());

  it('lists each login with its address, browser and times, and marks the one asking', async () => {
    const laptop = await loginFrom(gw, 'alice', FIREFOX, '198.51.100.7');
    const phone = await loginFrom(gw, 'alice', SAFARI, '203.0.113.9');
    await loginFrom(gw, 'bob', FIREFOX, '192.0.2.1');
    const seen = await listSessions(gw, laptop);
    assert.equal(seen.length, 2, "bob's session is not alice's");
    const mine = seen.find((s) => s.current)!;
    const other = seen.find((s) => !s.current)!;
    assert.deepEqual([mine.ip, mine.user_agent], ['198.51.100.7', FIREFOX]);
    assert.deepEqual([other.ip, other.user_agent], ['203.0.113.9', SAFARI]);
    assert.match(mine.id, /^[0-9a-f]{64}$/);
    assert.ok(!Number.isNaN(Date.parse(mine.created_at)) && !Number.isNaN(Date.parse(mine.last_seen_at)));
    assert.ok(!laptop.includes(mine.id) && !phone.includes(other.id), 'the id names the session without being its cookie');
    assert.equal((await listSessions(gw, phone)).find((s) => s.current)?.id, other.id);
  });

  it('signing out another device ends that session: its cookie opens nothing; the asker stays signed in', async () => {
    const laptop = await loginFrom(gw, 'alice', FIREFOX, '198.51.100.7');
    const phone = await loginFrom(gw, 'alice', SAFARI, '203.0.113.9');
    const phoneId = (await listSessions(gw, phone)).find((s) => s.current)!.id;
    assert.equal(await signedIn(gw, phone), true);
    const answer = await deleteSession(gw, laptop, phoneId);
    assert.deepEqual(answer.json(), { status: 'OK' });
    assert.equal(await signedIn(gw, phone), false, 'the phone is signed out');
    assert.equal(await signedIn(gw, laptop), true);
    assert.ok(!(await listSessions(gw, laptop)).some((s) => s.id === phoneId));
    assert.equal((await deleteSession(gw, laptop, phoneId)).status, 404, 'already gone');
  });

  it("another user's session, a malformed id, a cross-site or non-JSON DELETE are refused", async () => {
    const bob = await loginFrom(gw, 'bob', FIREFOX, '192.0.2.1');
    const bobId = (await listSessions(gw, bob)).find((s) => s.current)!.id;
    const alice = await loginFrom(gw, 'alice', FIREFOX, '198.51.100.7');
    assert.equal((await deleteSession(gw, alice, bobId)).status, 404);
    assert.equal(await signedIn(gw, bob), true, "bob's session is untouched");
    assert.equal((await deleteSession(gw, alice, 'not-a-session')).status, 404);
    assert.equal((await deleteSession(gw, bob, bobId, { origin: 'https://evil.example' })).status, 403);
    const form = await portal(gw, `/api/user/sessions/${bobId}`, { method: 'DELETE', headers: { cookie: bob, origin: PORTAL_ORIGIN, 'content-type': 'application/x-www-form-urlencoded' }, body: 'x=1' });
    assert.equal(form.status, 415, 'a body that is not JSON');
    assert.equal(await signedIn(gw, bob), true);
    assert.equal((await portal(gw, '/api/user/sessions')).status, 403, 'no session, no list');
  });

  it('a same-origin DELETE without any body (as Authelia\'s web client sends its DELETEs) is answered', async () => {
    const phone = await loginFrom(gw, 'bob', FIREFOX, '192.0.2.9');
    const laptop = await loginFrom(gw, 'bob', FIREFOX, '192.0.2.10');
    const phoneId = (await listSessions(gw, phone)).find((s) => s.current)!.id;
    const bare = await portal(gw, `/api/user/sessions/${phoneId}`, { method: 'DELETE', headers: { cookie: laptop, origin: PORTAL_ORIGIN } });
    assert.equal(bare.status, 200, bare.body);
    assert.equal(await signedIn(gw, phone), false);
    assert.equal(await signedIn(gw, laptop), true);
  });

  it('last seen moves at most once a minute, from portal requests', async () => {
    const laptop = await loginFrom(gw, 'alice', FIREFOX, '198.51.100.7');
    const first = (await listSessions(gw, laptop)).find((s) => s.current)!;
    gw.clock.advance(30_000);
    assert.equal((await listSessions(gw, laptop)).find((s) => s.current)!.last_seen_at, first.last_seen_at, 'not within the minute');
    gw.clock.advance(31_000);
    await listSessions(gw, laptop); // this request writes last seen
    const later = (await listSessions(gw, laptop)).find((s) => s.current)!;
    assert.ok(Date.parse(later.last_seen_at) >= Date.parse(first.last_seen_at) + 60_000, `${first.last_seen_at} → ${later.last_seen_at}`);
    assert.equal(later.created_at, first.created_at);
  });

  it('forward auth never writes last seen: only portal requests do', async () => {
    const laptop = await loginFrom(gw, 'alice', FIREFOX, '198.51.100.7');
    const id = (await listSessions(gw, laptop)).find((s) => s.current)!.id;
    const storage = await openStorage(gw.config.storage as never, { logger: silentLogger, migrate: false });
    try {
      const lastSeen = async () => (await storage.userSessions.listByUser('alice')).find((s) => s.sessionHash === id)!.lastSeenAt;
      const before = await lastSeen();
      gw.clock.advance(2 * 60_000);
      const authz = await askAuthz(gw, 'forward-auth', 'https://app.example.test/', { cookie: laptop });
      assert.equal(authz.status, 200);
      assert.equal(await lastSeen(), before, 'forward auth left the database alone');
      assert.equal(await signedIn(gw, laptop), true); // a portal request
      assert.ok((await lastSeen()) >= before + 2 * 60_000, 'the portal request wrote it');
    } finally {
      await storage.close();
    }
  });

  it('an expired session drops out of the list', async () => {
    const old = await loginFrom(gw, 'alice', SAFARI, '203.0.113.50');
    const oldId = (await listSessions(gw, old)).find((s) => s.current)!.id;
    gw.clock.advance(2 * 3_600_000); // past session.expiration (1h)
    const fresh = await loginFrom(gw, 'alice', FIREFOX, '198.51.100.7');
    const listed = await listSessions(gw, fresh);
    assert.ok(!listed.some((s) => s.id === oldId), 'expired');
    assert.ok(listed.every((s) => Date.parse(s.last_seen_at) > gw.clock.now() - 3_600_000 - 60_000));
  });

  it('signing out (the portal form) removes the session from the list', async () => {
    const laptop = await loginFrom(gw, 'alice', FIREFOX, '198.51.100.7');
    const phone = await loginFrom(gw, 'alice', SAFARI, '203.0.113.9');
    const phoneId = (await listSessions(gw, phone)).find((s) => s.current)!.id;
    const out = await portal(gw, '/logout', { method: 'POST', body: '', headers: { cookie: phone, origin: PORTAL_ORIGIN, 'content-type': FORM } });
    assert.equal(out.status, 303);
    assert.ok(!(await listSessions(gw, laptop)).some((s) => s.id === phoneId));
  });

  it('"sign out everywhere" (the settings form) ends every session of the user, this one included, and no one else\'s', async () => {
    const laptop = await loginFrom(gw, 'alice', FIREFOX, '198.51.100.7');
    const phone = await loginFrom(gw, 'alice', SAFARI, '203.0.113.9');
    const bob = await loginFrom(gw, 'bob', FIREFOX, '192.0.2.1');
    const answer = await portal(gw, '/settings/sessions/delete-all', { method: 'POST', body: '', headers: { cookie: laptop, origin: PORTAL_ORIGIN, 'content-type': FORM } });
    assert.equal(answer.status, 303);
    assert.equal(answer.headers.location, '/');
    assert.equal(await signedIn(gw, laptop), false);
    assert.equal(await signedIn(gw, phone), false);
    assert.equal(await signedIn(gw, bob), true);
    assert.match(gw.logText(), /gatehouse-account: every session signed out; rhost=\S+ user=alice/);
  });

  it('the settings form signs out one device and comes back to the list', async () => {
    const laptop = await loginFrom(gw, 'alice', FIREFOX, '198.51.100.7');
    const phone = await loginFrom(gw, 'alice', SAFARI, '203.0.113.9');
    const phoneId = (await listSessions(gw, phone)).find((s) => s.current)!.id;
    const page = await portal(gw, '/settings', { headers: { cookie: laptop } });
    assert.match(page.body, new RegExp(`action="/settings/sessions/${phoneId}/delete"`));
    assert.match(page.body, /Safari on iOS/);
    const answer = await portal(gw, `/settings/sessions/${phoneId}/delete`, { method: 'POST', body: '', headers: { cookie: laptop, origin: PORTAL_ORIGIN, 'content-type': FORM } });
    assert.equal(answer.status, 303);
    assert.equal(answer.headers.location, '/settings?sessions=ended#sessions');
    assert.equal(await signedIn(gw, phone), false);
    const crossSite = await portal(gw, `/settings/sessions/${phoneId}/delete`, { method: 'POST', body: '', headers: { cookie: laptop, origin: 'https://evil.example', 'content-type': FORM } });
    assert.equal(crossSite.status, 403);
  });
});
