// "Remember me": unticked the session cookie is a browser-session cookie (no Expires, no Max-Age), the
// server still ends the session after expiration/inactivity; ticked the cookie lasts remember_me, as
// the server-side session does; remember_me: -1 offers no checkbox and ignores a forged one.
import { after, before, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { pino } from 'pino';
import { parseGatewayConfig } from '../../gateway/config/load.ts';
import { establishSession } from '../../gateway/portal/login.ts';
import { portalSessions, save } from '../../gateway/portal/session-middleware.ts';
import { resolveCookieDomains } from '../../gateway/session/cookie-domains.ts';
import { openSessionStore, type SessionStore } from '../../gateway/session/store.ts';
import { request, type SetCookie } from '../helpers/http.ts';
import { askAuthz, firstFactor, portal, startInProcessGateway, type InProcessGateway, type TestUser } from '../helpers/inprocess-gateway.ts';

const PASSWORD = 'correct horse battery staple';
const MINUTE = 60_000;
const DAY_S = 86_400;
const USERS: Record<string, TestUser> = { alice: { password: PASSWORD, displayname: 'Alice', email: 'alice@example.test', groups: ['dev'] } };
const FORM = 'application/x-www-form-urlencoded';
const ORIGIN = 'https://auth.example.test';

function sessionCookie(response: { cookies: SetCookie[]; status: number; body: string }): SetCookie {
  const set = response.cookies.find((c) => c.name === 'gatehouse_session');
  assert.ok(set, `a session cookie is set: ${response.status} ${response.body}`);
  return set;
}

function assertBrowserSessionCookie(set: SetCookie, what: string): void {
  assert.equal(set.attributes['expires'], undefined, `${what}: no Expires: ${JSON.stringify(set.attributes)}`);
  assert.equal(set.attributes['max-age'], undefined, `${what}: no Max-Age: ${JSON.stringify(set.attributes)}`);
}

/** Seconds the cookie lives for, from Max-Age or else Expires. */
function lifetime(set: SetCookie, now: number): number {
  if (set.attributes['max-age'] !== undefined) return Number(set.attributes['max-age']);
  assert.equal(typeof set.attributes['expires'], 'string', `the cookie has Max-Age or Expires: ${JSON.stringify(set.attributes)}`);
  return (Date.parse(String(set.attributes['expires'])) - now) / 1000;
}

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

describe('"remember me" (expiration 20m, inactivity 5m, remember_me 1d)', () => {
  let gw: InProcessGateway;
  const app = 'https://app.example.test/';

  before(async () => {
    gw = await startInProcessGateway({
      users: USERS,
      config: {
        access_control: { default_policy: 'one_factor' },
        regulation: { max_retries: 50, find_time: '2m', ban_time: '5m' },
        session: { cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/', expiration: '20m', inactivity: '5m', remember_me: '1d' }] },
      },
    });
  });
  after(() => gw.close());

  it('the login page offers the checkbox', async () => {
    const page = await portal(gw, '/');
    assert.equal(page.status, 200);
    assert.match(page.body, /name="keepMeLoggedIn"/);
  });

  it('unticked: a browser-session cookie, and the server still ends the session after expiration', async () => {
    const set = sessionCookie(await firstFactor(gw, { username: 'alice', password: PASSWORD, keepMeLoggedIn: false }));
    assertBrowserSessionCookie(set, 'unticked');
    assert.equal(set.attributes['httponly'], true);
    const cookie = `gatehouse_session=${set.value}`;
    for (let minutes = 4; minutes <= 16; minutes += 4) {
      gw.clock.advance(4 * MINUTE);
      assert.equal((await askAuthz(gw, 'auth-request', app, { cookie })).status, 200, `after ${minutes} min`);
    }
    gw.clock.advance(4 * MINUTE);
    assert.notEqual((await askAuthz(gw, 'auth-request', app, { cookie })).status, 200, 'after 20 min: expired server-side');
  });

  it('unticked (field left out, and on the form): a browser-session cookie', async () => {
    assertBrowserSessionCookie(sessionCookie(await firstFactor(gw, { username: 'alice', password: PASSWORD })), 'API without the field');
    const response = await portal(gw, '/login', { method: 'POST', body: form({ username: 'alice', password: PASSWORD, rd: '', rm: '' }), headers: { 'content-type': FORM, origin: ORIGIN } });
    assert.equal(response.status, 303);
    assertBrowserSessionCookie(sessionCookie(response), 'form without the checkbox');
  });

  it('unticked: inactivity still ends the session server-side', async () => {
    const cookie = `gatehouse_session=${sessionCookie(await firstFactor(gw, { username: 'alice', password: PASSWORD })).value}`;
    gw.clock.advance(6 * MINUTE);
    assert.notEqual((await askAuthz(gw, 'auth-request', app, { cookie })).status, 200, 'after 6 idle minutes');
  });

  it('ticked: the cookie lasts remember_me, as the server-side session does', async () => {
    const response = await firstFactor(gw, { username: 'alice', password: PASSWORD, keepMeLoggedIn: true });
    const set = sessionCookie(response);
    const seconds = lifetime(set, gw.clock.now());
    assert.ok(seconds > DAY_S - 60 && seconds <= DAY_S, `the cookie lives for remember_me (1d): ${JSON.stringify(set.attributes)}`);
    const cookie = `gatehouse_session=${set.value}`;
    gw.clock.advance(DAY_S * 1000 - 2 * MINUTE);
    assert.equal((await askAuthz(gw, 'auth-request', app, { cookie })).status, 200, 'just before a day');
    gw.clock.advance(3 * MINUTE);
    assert.notEqual((await askAuthz(gw, 'auth-request', app, { cookie })).status, 200, 'a day later: expired server-side');
  });

  it('ticked on the form: the same persistent cookie', async () => {
    const response = await portal(gw, '/login', {
      method: 'POST',
      body: form({ username: 'alice', password: PASSWORD, rd: '', rm: '', keepMeLoggedIn: 'true' }),
      headers: { 'content-type': FORM, origin: ORIGIN },
    });
    assert.equal(response.status, 303);
    const seconds = lifetime(sessionCookie(response), gw.clock.now());
    assert.ok(seconds > DAY_S - 60 && seconds <= DAY_S, `remember_me (1d): ${seconds}`);
  });

  it('a session used later keeps its kind of cookie: never a persistent one for an unticked login, never past remember_me for a ticked one', async () => {
    const unticked = `gatehouse_session=${sessionCookie(await firstFactor(gw, { username: 'alice', password: PASSWORD })).value}`;
    const ticked = `gatehouse_session=${sessionCookie(await firstFactor(gw, { username: 'alice', password: PASSWORD, keepMeLoggedIn: true })).value}`;
    const loggedInAt = gw.clock.now();
    gw.clock.advance(4 * MINUTE);
    for (const [cookie, keep] of [[unticked, false], [ticked, true]] as const) {
      for (const path of ['/', '/api/state', '/api/user/info']) {
        const response = await portal(gw, path, { headers: { cookie, accept: 'application/json' } });
        for (const set of response.cookies.filter((c) => c.name === 'gatehouse_session')) {
          if (!keep) assertBrowserSessionCookie(set, `unticked, GET ${path}`);
          else assert.ok(lifetime(set, gw.clock.now()) <= DAY_S - (gw.clock.now() - loggedInAt) / 1000 + 1, `ticked, GET ${path}: not past remember_me: ${JSON.stringify(set.attributes)}`);
        }
      }
      assert.equal((await askAuthz(gw, 'auth-request', app, { cookie })).status, 200);
    }
  });
});

describe('"remember me" disabled (remember_me: -1)', () => {
  let gw: InProcessGateway;

  before(async () => {
    gw = await startInProcessGateway({
      users: USERS,
      config: {
        access_control: { default_policy: 'one_factor' },
        session: { cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/', expiration: '20m', inactivity: '5m', remember_me: -1 }] },
      },
    });
  });
  after(() => gw.close());

  it('the login page offers no checkbox', async () => {
    const page = await portal(gw, '/');
    assert.equal(page.status, 200);
    assert.match(page.body, /name="password"/);
    assert.doesNotMatch(page.body, /keepMeLoggedIn/);
  });

  it('a forged keepMeLoggedIn (API or form) is ignored: a browser-session cookie, inactivity applies', async () => {
    const set = sessionCookie(await firstFactor(gw, { username: 'alice', password: PASSWORD, keepMeLoggedIn: true }));
    assertBrowserSessionCookie(set, 'forged on the API');
    const response = await portal(gw, '/login', {
      method: 'POST',
      body: form({ username: 'alice', password: PASSWORD, rd: '', rm: '', keepMeLoggedIn: 'true' }),
      headers: { 'content-type': FORM, origin: ORIGIN },
    });
    assert.equal(response.status, 303);
    assertBrowserSessionCookie(sessionCookie(response), 'forged on the form');
    const cookie = `gatehouse_session=${set.value}`;
    gw.clock.advance(6 * MINUTE);
    assert.notEqual((await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie })).status, 200, 'inactivity ended it');
  });
});

// express-session re-sends a persistent cookie whenever the session changes, and by itself slides its
// expiry by the time elapsed since the login; a browser-session cookie must never become persistent.
describe('a session that changes after the login keeps its kind of cookie (express-session, clock moved on)', () => {
  let server: ReturnType<ReturnType<typeof express>['listen']>;
  let store: SessionStore;
  let base: string;

  before(async () => {
    const { config } = parseGatewayConfig({
      session: { secret: 'Zq8vN2kLp4Rt7Wx1Yb5Hc9Jm3Fd6Gs0A', cookies: [{ domain: 'localhost', authelia_url: 'http://localhost/', remember_me: '1d' }] },
      authentication_backend: { file: { path: '/nonexistent/users.yml' } },
      storage: { encryption_key: 'a-test-encryption-key-long-enough', local: { path: '/nonexistent/db.sqlite3' } },
      access_control: { default_policy: 'one_factor' },
    });
    store = await openSessionStore(undefined, config.session.secret!, pino({ level: 'silent' }));
    const audit = { success() {}, failure() {}, refused() {}, notSaved() {}, account() {} };
    const user = { username: 'alice', displayName: 'Alice', emails: [], groups: [], credentialStamp: 'stamp' };
    const app = express();
    app.use(portalSessions(resolveCookieDomains(config), store, config.session.secret!, () => false));
    app.post('/login/:keep', async (req, res) => {
      await establishSession(req, user, req.params.keep === 'keep', Date.now(), audit, '127.0.0.1');
      res.json({ expiresAt: req.session.expiresAt });
    });
    app.post('/touch', async (req, res) => {
      req.session.lastActivity = Date.now();
      await save(req);
      res.json({ expiresAt: req.session.expiresAt });
    });
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://localhost:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    mock.timers.reset();
    await new Promise((resolve) => server.close(resolve));
    await store.close();
  });

  const post = (path: string, cookie?: string) => request(`${base}${path}`, { method: 'POST', headers: cookie ? { cookie } : {} });

  it('ticked: a change an hour later sends the cookie with the same expiry, the session\'s', async () => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      const login = await post('/login/keep');
      const set = sessionCookie(login);
      const expiresAt = login.json<{ expiresAt: number }>().expiresAt;
      assert.ok(Math.abs(Date.parse(String(set.attributes['expires'])) - expiresAt) < 1_000, `the cookie expires with the session: ${JSON.stringify(set.attributes)}`);
      mock.timers.setTime(Date.now() + 60 * MINUTE);
      const touched = await post('/touch', `gatehouse_session=${set.value}`);
      assert.equal(touched.json<{ expiresAt: number }>().expiresAt, expiresAt, 'the server-side expiry did not move');
      const again = sessionCookie(touched);
      assert.equal(again.value, set.value);
      assert.ok(Math.abs(Date.parse(String(again.attributes['expires'])) - expiresAt) < 1_000, `still the session's expiry, not slid by an hour: ${JSON.stringify(again.attributes)}`);
    } finally {
      mock.timers.reset();
    }
  });

  it('unticked: a change an hour later never turns the cookie into a persistent one', async () => {
    mock.timers.enable({ apis: ['Date'], now: Date.now() });
    try {
      const set = sessionCookie(await post('/login/no'));
      assertBrowserSessionCookie(set, 'at login');
      mock.timers.setTime(Date.now() + 60 * MINUTE);
      const touched = await post('/touch', `gatehouse_session=${set.value}`);
      assert.equal(touched.status, 200);
      for (const c of touched.cookies.filter((c) => c.name === 'gatehouse_session')) assertBrowserSessionCookie(c, 'after a change');
    } finally {
      mock.timers.reset();
    }
  });
});
