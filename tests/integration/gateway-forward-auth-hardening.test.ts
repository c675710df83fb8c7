// Forward auth fails closed: malformed or untrusted questions, odd paths and cookies, Basic
// credentials, users-file edits and session lifetimes. In-process gateways with the memory store.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request, type HttpResponse } from '../helpers/http.ts';
import {
  askAuthz,
  BROWSER_ACCEPT,
  eventually,
  firstFactor,
  forwardHeaders,
  login,
  portal,
  startInProcessGateway,
  writeUsersFile,
  type InProcessGateway,
  type TestUser,
} from '../helpers/inprocess-gateway.ts';

const PASSWORD = 'correct horse battery staple';
const MINUTE = 60_000;

const ACCESS_CONTROL = {
  default_policy: 'deny',
  rules: [
    { domain: 'public.example.test', policy: 'bypass' },
    { domain: 'app.example.test', resources: ['^/public/.*$'], policy: 'bypass' },
    { domain: 'app.example.test', policy: 'one_factor' },
    { domain: 'admin.example.test', subject: 'group:admins', policy: 'one_factor' },
    { domain: 'secure.example.test', policy: 'two_factor' },
  ],
};

const USERS: Record<string, TestUser> = {
  alice: { password: PASSWORD, displayname: 'Alice', email: 'alice@example.test', groups: ['dev'] },
  dave: { password: PASSWORD, displayname: 'Dave', email: 'dave@example.test', groups: ['dev'] },
  erin: { password: PASSWORD, displayname: 'Erin', email: 'erin@example.test', groups: ['dev'] },
};

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

function assertLogin(response: HttpResponse, what: string): void {
  assert.ok([401, 302].includes(response.status), `${what}: expected to be sent to log in, got ${response.status} ${response.body}`);
}

describe('forward auth (memory sessions)', () => {
  let gw: InProcessGateway;
  let alice: string;

  before(async () => {
    gw = await startInProcessGateway({
      users: USERS,
      config: {
        access_control: ACCESS_CONTROL,
        // wrong-password tests below must not ban anyone the other tests use
        regulation: { max_retries: 50, find_time: '2m', ban_time: '5m' },
        session: { cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/', expiration: '20m', inactivity: '5m', remember_me: '1d' }] },
      },
    });
    alice = await login(gw, 'alice', PASSWORD);
  });
  after(() => gw?.close());

  describe('a malformed question is answered 400 (legacy: 401), never 200', () => {
    const target = 'https://app.example.test/';

    it('nginx: X-Original-URL or X-Original-Method missing', async () => {
      for (const headers of [{ 'x-original-method': 'GET' }, { 'x-original-url': target }, {}]) {
        const response = await request(`${gw.url}/api/authz/auth-request`, { headers: { ...headers, cookie: alice } });
        assert.equal(response.status, 400, JSON.stringify(headers));
      }
    });

    it('forward-auth: any of X-Forwarded-Proto/-Host/-Uri/-Method missing', async () => {
      const all = forwardHeaders('forward-auth', target);
      for (const missing of Object.keys(all)) {
        const headers = { ...all, cookie: alice };
        delete (headers as Record<string, string>)[missing];
        const response = await request(`${gw.url}/api/authz/forward-auth`, { headers });
        assert.equal(response.status, 400, `without ${missing}`);
      }
    });

    it('legacy: nothing to go on is 401', async () => {
      const response = await request(`${gw.url}/api/verify`, { headers: { cookie: alice } });
      assert.equal(response.status, 401);
    });

    it('a target host outside every session.cookies domain (look-alikes included)', async () => {
      for (const url of ['https://app.other.test/', 'https://evilexample.test/', 'https://example.test.evil.test/']) {
        for (const dialect of ['auth-request', 'forward-auth'] as const) {
          assert.equal((await askAuthz(gw, dialect, url, { cookie: alice })).status, 400, `${dialect} ${url}`);
        }
      }
    });

    it('a plain http:// target on a host that is not loopback', async () => {
      for (const dialect of ['auth-request', 'forward-auth'] as const) {
        assert.equal((await askAuthz(gw, dialect, 'http://app.example.test/', { cookie: alice })).status, 400, dialect);
        assert.equal((await askAuthz(gw, dialect, 'http://public.example.test/', {})).status, 400, `${dialect} on a bypass host`);
      }
    });

    it('a method that is not a plain upper-case token', async () => {
      for (const method of ['get', 'G ET', 'GET\\', '']) {
        const response = await request(`${gw.url}/api/authz/auth-request`, { headers: { 'x-original-url': target, 'x-original-method': method, cookie: alice } });
        assert.equal(response.status, 400, JSON.stringify(method));
      }
    });

    it('a forwarding header sent twice', async () => {
      const headers = forwardHeaders('forward-auth', 'https://public.example.test/');
      const twice = await request(`${gw.url}/api/authz/forward-auth`, {
        headers: { ...headers, 'x-forwarded-host': ['public.example.test', 'app.example.test'], cookie: alice },
      });
      assert.equal(twice.status, 400);
    });

    it('POST (or any method but GET and HEAD) to auth-request and forward-auth is 405', async () => {
      for (const path of ['/api/authz/auth-request', '/api/authz/forward-auth']) {
        const response = await request(`${gw.url}${path}`, { method: 'POST', headers: { ...forwardHeaders('auth-request', target), cookie: alice }, body: '' });
        assert.equal(response.status, 405, path);
        assert.equal(response.headers.allow, 'GET, HEAD');
      }
    });
  });

  describe('a repeated X-Forwarded-Uri or X-Original-URL is refused, not joined into one path', () => {
    // Node joins a repeated header into one value with ", "; "/public/x, /admin" must not pass for a /public/ path
    it('forward-auth: two X-Forwarded-Uri headers → 400', async () => {
      const response = await request(`${gw.url}/api/authz/forward-auth`, {
        headers: { ...forwardHeaders('forward-auth', 'https://app.example.test/'), 'x-forwarded-uri': ['/public/x', '/admin'] },
      });
      assert.equal(response.status, 400, `${response.status} ${JSON.stringify(response.headers)}`);
    });

    it('nginx: two X-Original-URL headers → 400', async () => {
      const response = await request(`${gw.url}/api/authz/auth-request`, {
        headers: { 'x-original-url': ['https://app.example.test/public/x', 'https://app.example.test/admin'], 'x-original-method': 'GET' },
      });
      assert.equal(response.status, 400);
    });
  });

  describe('paths are normalised before rules see them: traversal out of a bypass prefix is denied', () => {
    it('the bypass prefix itself is open', async () => {
      assert.equal((await askAuthz(gw, 'auth-request', 'https://app.example.test/public/page.css')).status, 200);
    });

    for (const path of ['/public/../admin', '/public/%2e%2e/admin', '/public/%2E%2E/admin', '/public/.%2e/admin', '/public/..\\admin', '/public\\..\\admin', '/public/..%2fadmin', '/public/..%5cadmin', '/public/..;/admin']) {
      it(`anonymous ${path} is not let through`, async () => {
        for (const dialect of ['auth-request', 'forward-auth'] as const) {
          const response = await askAuthz(gw, dialect, `https://app.example.test${path}`, { headers: { accept: BROWSER_ACCEPT } });
          assert.notEqual(response.status, 200, `${dialect} ${path}`);
          assert.ok([400, 401, 302].includes(response.status), `${dialect} ${path}: ${response.status}`);
        }
      });
    }
  });

  describe('a broken, forged or foreign session cookie counts as no session', () => {
    const cookies = () => {
      const value = decodeURIComponent(alice.slice('gatehouse_session='.length));
      const sid = value.slice(2, value.lastIndexOf('.'));
      const signature = value.slice(value.lastIndexOf('.') + 1);
      const flipped = signature.startsWith('A') ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
      return {
        garbage: 'gatehouse_session=garbage',
        'bad signature': `gatehouse_session=${encodeURIComponent(`s:${sid}.${flipped}`)}`,
        'unsigned id': `gatehouse_session=${encodeURIComponent(sid)}`,
        'bad encoding': 'gatehouse_session=s%3A%E0%A4%A',
        'unknown id': `gatehouse_session=${encodeURIComponent(`s:nope.${signature}`)}`,
        empty: 'gatehouse_session=',
      };
    };

    it('anonymous answers on a protected site, never 400 or 500', async () => {
      for (const [what, cookie] of Object.entries(cookies())) {
        assertLogin(await askAuthz(gw, 'forward-auth', 'https://app.example.test/', { cookie, headers: { accept: BROWSER_ACCEPT } }), what);
      }
    });

    it('anonymous answers on a bypass site: 200 with empty identity', async () => {
      for (const [what, cookie] of Object.entries(cookies())) {
        const response = await askAuthz(gw, 'auth-request', 'https://public.example.test/', { cookie });
        assert.equal(response.status, 200, what);
        assert.equal(response.headers['remote-user'], '', what);
      }
    });

    it('the genuine cookie still works next to them', async () => {
      assert.equal((await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie: `other=1; ${alice}` })).status, 200);
    });
  });

  describe('Authorization: Basic is accepted as one factor, for API clients', () => {
    it('valid credentials → 200 with the identity, no session needed', async () => {
      const response = await askAuthz(gw, 'auth-request', 'https://app.example.test/api', { headers: { authorization: basic('alice', PASSWORD) } });
      assert.equal(response.status, 200);
      assert.equal(response.headers['remote-user'], 'alice');
      assert.equal(response.headers['remote-groups'], 'dev');
      assert.equal(response.headers['remote-email'], 'alice@example.test');
    });

    it('Proxy-Authorization works the same way', async () => {
      const response = await askAuthz(gw, 'forward-auth', 'https://app.example.test/api', { headers: { 'proxy-authorization': basic('alice', PASSWORD) } });
      assert.equal(response.status, 200);
      assert.equal(response.headers['remote-user'], 'alice');
    });

    it('wrong credentials → 401 with a Basic challenge, on every dialect', async () => {
      for (const dialect of ['auth-request', 'forward-auth', 'legacy'] as const) {
        for (const header of [basic('alice', 'wrong'), basic('nobody', PASSWORD), 'Basic !!!notbase64', basic('', PASSWORD)]) {
          const response = await askAuthz(gw, dialect, 'https://app.example.test/api', { headers: { authorization: header, accept: BROWSER_ACCEPT } });
          assert.equal(response.status, 401, `${dialect} ${header}`);
          assert.equal(response.headers['www-authenticate'], 'Basic realm="Authorization Required"');
          assert.equal(response.headers['remote-user'], undefined);
        }
      }
    });

    it('wrong Basic credentials are not rescued by a valid session cookie', async () => {
      const response = await askAuthz(gw, 'auth-request', 'https://app.example.test/api', { cookie: alice, headers: { authorization: basic('alice', 'wrong') } });
      assert.equal(response.status, 401);
    });

    it('valid Basic credentials on a two_factor site → 401 challenge (Basic never proves two factors)', async () => {
      const response = await askAuthz(gw, 'forward-auth', 'https://secure.example.test/', { headers: { authorization: basic('alice', PASSWORD), accept: BROWSER_ACCEPT } });
      assert.equal(response.status, 401);
      assert.equal(response.headers['www-authenticate'], 'Basic realm="Authorization Required"');
      assert.equal(response.headers.location, undefined);
    });

    it('valid Basic credentials of a user outside the rule subject → 403', async () => {
      const response = await askAuthz(gw, 'auth-request', 'https://admin.example.test/', { headers: { authorization: basic('alice', PASSWORD) } });
      assert.equal(response.status, 403);
    });

    it('Authorization: Bearer is not ours: the session decides', async () => {
      const withSession = await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie: alice, headers: { authorization: 'Bearer x' } });
      assert.equal(withSession.status, 200);
      assert.equal(withSession.headers['remote-user'], 'alice');
      const without = await askAuthz(gw, 'auth-request', 'https://app.example.test/', { headers: { authorization: 'Bearer x' } });
      assert.equal(without.status, 401);
      assert.equal(without.headers['www-authenticate'], undefined);
      assert.ok(without.headers.location, 'sent to the portal, not challenged for Basic');
    });
  });

  describe('edits to users.yml apply to existing sessions on their next request', () => {
    it('a group added to the user opens a group-restricted site without logging in again', async () => {
      const dave = await login(gw, 'dave', PASSWORD);
      assert.equal((await askAuthz(gw, 'auth-request', 'https://admin.example.test/', { cookie: dave })).status, 403);
      await writeUsersFile(gw.usersPath, { ...USERS, dave: { ...USERS.dave!, groups: ['dev', 'admins'] } });
      await eventually('the users file reload reached forward auth', async () => {
        return (await askAuthz(gw, 'auth-request', 'https://admin.example.test/', { cookie: dave })).status === 200;
      }, 5_000);
      const response = await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie: dave });
      assert.equal(response.headers['remote-groups'], 'dev,admins');
    });

    it('a deleted user’s session no longer authorises anything', async () => {
      const erin = await login(gw, 'erin', PASSWORD);
      assert.equal((await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie: erin })).status, 200);
      const { erin: _removed, ...rest } = USERS;
      await writeUsersFile(gw.usersPath, { ...rest, dave: { ...USERS.dave!, groups: ['dev', 'admins'] } });
      await eventually('the deleted user is refused', async () => {
        return (await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie: erin })).status === 401;
      }, 5_000);
      const bypass = await askAuthz(gw, 'auth-request', 'https://public.example.test/', { cookie: erin });
      assert.equal(bypass.headers['remote-user'], '', 'no identity is vouched for on a bypass site either');
      assert.equal((await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie: alice })).status, 200, 'others keep theirs');
    });
  });

  describe('the portal shows the user as users.yml now has them', () => {
    it('after a group change, /api/user/info lists the new groups', async () => {
      const cookie = await login(gw, 'alice', PASSWORD);
      await writeUsersFile(gw.usersPath, { ...USERS, alice: { ...USERS.alice!, groups: ['dev', 'ops'] }, dave: { ...USERS.dave!, groups: ['dev', 'admins'] } });
      await eventually('forward auth sees the new group', async () => {
        return (await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie })).headers['remote-groups'] === 'dev,ops';
      }, 5_000);
      const info = await portal(gw, '/api/user/info', { headers: { cookie } });
      assert.deepEqual(info.json<{ data: { groups: string[] } }>().data.groups, ['dev', 'ops']);
    });

    it('after the user is deleted, /api/state says not logged in', async () => {
      const cookie = await login(gw, 'erin', PASSWORD);
      const { erin: _removed, ...rest } = USERS;
      await writeUsersFile(gw.usersPath, { ...rest, dave: { ...USERS.dave!, groups: ['dev', 'admins'] } });
      await eventually('forward auth refuses the deleted user', async () => (await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie })).status === 401, 5_000);
      const state = await portal(gw, '/api/state', { headers: { cookie } });
      assert.deepEqual(state.json<{ data: { username: string; authentication_level: number } }>().data, { username: '', authentication_level: 0, default_redirection_url: '' });
    });
  });

  describe('sessions end after inactivity and after expiration (inactivity 5m, expiration 20m, remember_me 1d)', () => {
    const app = 'https://app.example.test/';
    const ask = (cookie: string) => askAuthz(gw, 'auth-request', app, { cookie });
    const level = async (cookie: string) => (await portal(gw, '/api/state', { headers: { cookie } })).json<{ data: { authentication_level: number } }>().data.authentication_level;

    it('requests every 4 minutes keep it alive; 6 minutes without one end it', async () => {
      const cookie = await login(gw, 'alice', PASSWORD);
      for (let i = 0; i < 2; i++) {
        gw.clock.advance(4 * MINUTE);
        assert.equal((await ask(cookie)).status, 200, `after ${(i + 1) * 4} min`);
      }
      gw.clock.advance(6 * MINUTE);
      assertLogin(await ask(cookie), 'after 6 idle minutes');
      assert.equal(await level(cookie), 0, 'the portal agrees: not logged in');
    });

    it('the portal counts as activity too, and also forgets an idle session', async () => {
      const cookie = await login(gw, 'alice', PASSWORD);
      assert.equal(await level(cookie), 1);
      gw.clock.advance(6 * MINUTE);
      assert.equal(await level(cookie), 0);
      assertLogin(await ask(cookie), 'forward auth after 6 idle minutes');
    });

    it('"keep me logged in" ignores inactivity and outlives expiration, until remember_me', async () => {
      const response = await firstFactor(gw, { username: 'alice', password: PASSWORD, keepMeLoggedIn: true });
      const set = response.cookies.find((c) => c.name === 'gatehouse_session');
      assert.ok(set);
      const maxAge = set.attributes['max-age'] !== undefined ? Number(set.attributes['max-age']) : (Date.parse(String(set.attributes['expires'])) - gw.clock.now()) / 1000;
      assert.ok(maxAge > 86_000 && maxAge <= 86_400, `the cookie lives for remember_me (1d), not the browser session: ${JSON.stringify(set.attributes)}`);
      const cookie = `gatehouse_session=${set.value}`;
      gw.clock.advance(30 * MINUTE);
      assert.equal((await ask(cookie)).status, 200, 'after 30 idle minutes');
      gw.clock.advance(24 * 60 * MINUTE);
      assertLogin(await ask(cookie), 'after a day');
    });

    it('after expiration the session ends even with steady activity', async () => {
      const cookie = await login(gw, 'alice', PASSWORD);
      const statuses: number[] = [];
      for (let minutes = 4; minutes <= 24; minutes += 4) {
        gw.clock.advance(4 * MINUTE);
        statuses.push((await ask(cookie)).status);
      }
      // 4, 8, 12, 16 min: alive; 20 min: expired (not before), 24: still gone
      assert.deepEqual(statuses, [200, 200, 200, 200, 401, 401]);
    });
  });
});

describe('forwarded headers from a peer outside server.trusted_proxies', () => {
  let gw: InProcessGateway;
  let cookie: string;

  before(async () => {
    gw = await startInProcessGateway({
      users: USERS,
      config: {
        server: { trusted_proxies: ['10.0.0.0/8'] },
        access_control: { default_policy: 'one_factor', rules: [{ domain: 'public.localhost', policy: 'bypass' }] },
        session: { cookies: [{ domain: 'localhost', authelia_url: 'http://localhost/' }] },
      },
    });
    const response = await request(`http://localhost:${gw.port}/api/firstfactor`, {
      method: 'POST',
      json: { username: 'alice', password: PASSWORD },
      headers: { origin: 'http://localhost' },
    });
    const set = response.cookies.find((c) => c.name === 'gatehouse_session');
    assert.ok(set, `login failed: ${response.status} ${response.body}`);
    cookie = `gatehouse_session=${set.value}`;
  });
  after(() => gw?.close());

  it('are not believed: 400 (legacy 401) even with a valid session, and even for a bypass host', async () => {
    for (const target of ['https://app.localhost/', 'https://public.localhost/']) {
      assert.equal((await askAuthz(gw, 'auth-request', target, { cookie })).status, 400, target);
      assert.equal((await askAuthz(gw, 'forward-auth', target, { cookie })).status, 400, target);
      assert.equal((await askAuthz(gw, 'legacy', target, { cookie })).status, 401, target);
    }
  });
});

describe('expiration is absolute: visiting the portal does not extend it (real clock, memory store)', () => {
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({
      users: USERS,
      config: {
        access_control: ACCESS_CONTROL,
        session: { cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/', expiration: 3, inactivity: 0 }] },
      },
    });
  });
  after(() => gw?.close());

  // 3 s, opened at 1 s: two seconds of margin for a busy machine before the portal visit
  it('a session of 3 s is over after 3 s even though the portal was opened at 1 s', async () => {
    const cookie = await login(gw, 'alice', PASSWORD);
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const state = await portal(gw, '/api/state', { headers: { cookie } });
    assert.equal(state.json<{ data: { authentication_level: number } }>().data.authentication_level, 1);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + 3_300 - Date.now())));
    assertLogin(await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie }), 'after 3.3 s');
  });
});
