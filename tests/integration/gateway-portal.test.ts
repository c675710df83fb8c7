// The portal as a browser (and the portal's own JavaScript) uses it: the JSON API, the HTML pages
// that work without JavaScript, and first-run setup. The portal is https://auth.example.test/ behind a
// TLS-terminating proxy on 127.0.0.1 (plain http to the gateway with X-Forwarded-Proto: https).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { parse } from 'yaml';
import { request } from '../helpers/http.ts';
import {
  askAuthz,
  BROWSER_ACCEPT,
  firstFactor,
  login,
  portal,
  PORTAL_ORIGIN,
  startInProcessGateway,
  type InProcessGateway,
} from '../helpers/inprocess-gateway.ts';

const PASSWORD = 'correct horse battery staple';
const MIN_FAILURE_DELAY_MS = 150;
const FORM = 'application/x-www-form-urlencoded';

const USERS = {
  alice: { password: PASSWORD, displayname: 'Alice Liddell', email: 'alice@example.test', groups: ['dev'] },
  mallory: { password: PASSWORD, displayname: 'Mallory', groups: [], disabled: true },
};

const ACCESS_CONTROL = {
  default_policy: 'deny',
  rules: [
    { domain: 'app.example.test', policy: 'one_factor' },
    { domain: 'admin.example.test', subject: 'group:admins', policy: 'one_factor' },
    { domain: 'secure.example.test', policy: 'two_factor' },
  ],
};

function form(fields: Record<string, string>): string {
  return new URLSearchParams(fields).toString();
}

describe('the portal', () => {
  let gw: InProcessGateway;

  before(async () => {
    gw = await startInProcessGateway({
      users: USERS,
      minFailureDelayMs: MIN_FAILURE_DELAY_MS,
      config: {
        access_control: ACCESS_CONTROL,
        session: { cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/', default_redirection_url: 'https://home.example.test/' }] },
      },
    });
  });
  after(() => gw?.close());

  describe('POST /api/firstfactor takes only same-origin JSON', () => {
    it('another content type (what a cross-site form can send) → 415', async () => {
      for (const type of ['text/plain', FORM, 'multipart/form-data; boundary=x']) {
        const response = await portal(gw, '/api/firstfactor', {
          method: 'POST',
          body: JSON.stringify({ username: 'alice', password: PASSWORD }),
          headers: { 'content-type': type, origin: PORTAL_ORIGIN },
        });
        assert.equal(response.status, 415, type);
        assert.equal(response.json<{ status: string }>().status, 'KO');
        assert.equal(response.cookies.length, 0);
      }
    });

    it('a foreign Origin or a cross-site Sec-Fetch-Site → 403, and no session', async () => {
      for (const headers of [{ origin: 'https://evil.test' }, { origin: 'https://app.example.test' }, { origin: 'http://auth.example.test' }, { 'sec-fetch-site': 'cross-site' }, { origin: 'null' }] as Record<string, string>[]) {
        const response = await firstFactor(gw, { username: 'alice', password: PASSWORD }, headers);
        assert.equal(response.status, 403, JSON.stringify(headers));
        assert.deepEqual(response.json(), { status: 'KO', message: 'Cross-origin request refused.' });
        assert.equal(response.cookies.length, 0);
      }
    });

    it('a script without Origin (curl) may log in', async () => {
      const response = await portal(gw, '/api/firstfactor', { method: 'POST', json: { username: 'alice', password: PASSWORD } });
      assert.equal(response.status, 200, response.body);
    });

    it('a body that is not the expected shape → 400 with a message and no parser text', async () => {
      for (const body of ['{"username":', '[]', '{"username":"alice"}', '{"username":1,"password":2}']) {
        const response = await portal(gw, '/api/firstfactor', { method: 'POST', body, headers: { 'content-type': 'application/json', origin: PORTAL_ORIGIN } });
        assert.equal(response.status, 400, body);
        const json = response.json<{ status: string; message: string }>();
        assert.equal(json.status, 'KO');
        assert.doesNotMatch(response.body, /SyntaxError|Unexpected|at \/|node_modules|zod/i);
      }
    });

    it('a body over 16 kB → 413 with a JSON message and no stack', async () => {
      const response = await portal(gw, '/api/firstfactor', {
        method: 'POST',
        json: { username: 'alice', password: 'x'.repeat(17 * 1024) },
        headers: { origin: PORTAL_ORIGIN },
      });
      assert.equal(response.status, 413);
      assert.deepEqual(response.json(), { status: 'KO', message: 'Request body too large.' });
      assert.doesNotMatch(response.body, /PayloadTooLargeError|at \/|node_modules/);
    });
  });

  describe('a failed login says nothing about whether the user exists', () => {
    it('wrong password, unknown user and disabled user: same status, same body, each ≥ minFailureDelayMs', async () => {
      const answers = [];
      for (const username of ['alice', 'nobody-here', 'mallory']) {
        const started = Date.now();
        const response = await firstFactor(gw, { username, password: username === 'mallory' ? PASSWORD : 'wrong password' });
        answers.push({ status: response.status, body: response.body, cookies: response.cookies.length, elapsed: Date.now() - started });
      }
      for (const answer of answers) {
        assert.equal(answer.status, 401);
        assert.equal(answer.body, answers[0]!.body);
        assert.equal(answer.cookies, 0);
        assert.ok(answer.elapsed >= MIN_FAILURE_DELAY_MS - 5, `answered after ${answer.elapsed} ms`);
      }
      assert.deepEqual(JSON.parse(answers[0]!.body), { status: 'KO', message: 'Authentication failed. Check your credentials.' });
    });
  });

  describe('a successful login sets the session cookie for the cookie domain', () => {
    it('gatehouse_session: HttpOnly, SameSite=Lax, Domain=example.test, Secure (https portal), Path=/', async () => {
      const response = await firstFactor(gw, { username: 'alice', password: PASSWORD });
      assert.equal(response.status, 200);
      assert.equal(response.json<{ status: string }>().status, 'OK');
      const cookie = response.cookies.find((c) => c.name === 'gatehouse_session');
      assert.ok(cookie, JSON.stringify(response.headers['set-cookie']));
      assert.equal(cookie.attributes['httponly'], true);
      assert.equal(String(cookie.attributes['samesite']).toLowerCase(), 'lax');
      assert.equal(String(cookie.attributes['domain']).replace(/^\./, ''), 'example.test');
      assert.equal(cookie.attributes['secure'], true);
      assert.equal(cookie.attributes['path'], '/');
      assert.equal(response.headers['cache-control'], 'no-store');
    });

    it('the session id changes at login, and the old one stops working (no fixation)', async () => {
      const before = await login(gw, 'alice', PASSWORD);
      const again = await firstFactor(gw, { username: 'alice', password: PASSWORD }, { cookie: before });
      const after = again.cookies.find((c) => c.name === 'gatehouse_session');
      assert.ok(after, 'a new cookie is set');
      assert.notEqual(`gatehouse_session=${after.value}`, before);
      assert.equal((await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie: `gatehouse_session=${after.value}` })).status, 200);
      assert.equal((await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie: before })).status, 401);
    });
  });

  describe('targetURL is followed only when safe and allowed', () => {
    const redirectFor = async (targetURL: string) =>
      (await firstFactor(gw, { username: 'alice', password: PASSWORD, targetURL })).json<{ status: string; data?: { redirect?: string } }>();

    it('a safe target the user may open → data.redirect is that target', async () => {
      assert.deepEqual(await redirectFor('https://app.example.test/page?x=1'), { status: 'OK', data: { redirect: 'https://app.example.test/page?x=1' } });
    });

    it('an unsafe target → never redirected there (the default URL instead)', async () => {
      for (const target of ['https://evil.test/', '//evil.test/', 'https://example.test.evil.test/', 'http://app.example.test/', 'javascript:alert(1)', 'https://app.example.test@evil.test/']) {
        const answer = await redirectFor(target);
        assert.equal(answer.status, 'OK');
        assert.equal(answer.data?.redirect, 'https://home.example.test/', target);
      }
    });

    it('a safe target the user may not open (403 rule) → the default URL', async () => {
      assert.equal((await redirectFor('https://admin.example.test/')).data?.redirect, 'https://home.example.test/');
    });

    it('a target that needs a second factor → no redirect (the portal continues to 2FA)', async () => {
      assert.deepEqual(await redirectFor('https://secure.example.test/'), { status: 'OK' });
    });
  });

  describe('/api/state, /api/user/info and /api/logout', () => {
    it('/api/state: level 0 anonymous, 1 after a password', async () => {
      const anonymous = await portal(gw, '/api/state');
      assert.deepEqual(anonymous.json(), { status: 'OK', data: { username: '', authentication_level: 0, default_redirection_url: 'https://home.example.test/' } });
      const cookie = await login(gw, 'alice', PASSWORD);
      const state = await portal(gw, '/api/state', { headers: { cookie } });
      assert.deepEqual(state.json(), { status: 'OK', data: { username: 'alice', authentication_level: 1, default_redirection_url: 'https://home.example.test/' } });
    });

    it('/api/user/info: 403 anonymous, the user’s details when logged in', async () => {
      const anonymous = await portal(gw, '/api/user/info');
      assert.equal(anonymous.status, 403);
      assert.equal(anonymous.json<{ status: string }>().status, 'KO');
      const cookie = await login(gw, 'alice', PASSWORD);
      const info = await portal(gw, '/api/user/info', { headers: { cookie } });
      assert.equal(info.status, 200);
      const data = info.json<{ data: Record<string, unknown> }>().data;
      assert.equal(data.display_name, 'Alice Liddell');
      assert.deepEqual(data.emails, ['alice@example.test']);
      assert.deepEqual(data.groups, ['dev']);
    });

    it('/api/logout destroys the session: the old cookie no longer authorises at forward auth', async () => {
      const cookie = await login(gw, 'alice', PASSWORD);
      assert.equal((await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie })).status, 200);
      const crossSite = await portal(gw, '/api/logout', { method: 'POST', json: {}, headers: { cookie, origin: 'https://evil.test' } });
      assert.equal(crossSite.status, 403, 'a cross-site page cannot log the user out');
      assert.equal((await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie })).status, 200);

      const response = await portal(gw, '/api/logout', { method: 'POST', json: {}, headers: { cookie, origin: PORTAL_ORIGIN } });
      assert.equal(response.status, 200);
      assert.deepEqual(response.json(), { status: 'OK' });
      const cleared = response.cookies.find((c) => c.name === 'gatehouse_session');
      assert.ok(cleared && cleared.value === '', 'the browser is told to drop the cookie');
      assert.equal((await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie })).status, 401);
      assert.equal((await portal(gw, '/api/state', { headers: { cookie } })).json<{ data: { authentication_level: number } }>().data.authentication_level, 0);
    });

    it('/api/health → 200 {status: OK} on any host', async () => {
      for (const url of [`${gw.url}/api/health`, `http://auth.example.test:${gw.port}/api/health`]) {
        const response = await request(url);
        assert.equal(response.status, 200);
        assert.deepEqual(response.json(), { status: 'OK' });
      }
    });

    it('a host outside every cookie domain gets a 400 from the portal, not a session', async () => {
      const response = await request(`http://portal.other.test:${gw.port}/api/state`);
      assert.equal(response.status, 400);
      assert.equal(response.cookies.length, 0);
    });
  });

  describe('the HTML portal works without JavaScript', () => {
    it('GET / shows a sign-in form with labelled username and password fields, carrying rd and rm', async () => {
      const rd = 'https://app.example.test/x?a=1&b="><script>';
      const response = await portal(gw, `/?rd=${encodeURIComponent(rd)}&rm=GET`, { headers: { accept: BROWSER_ACCEPT } });
      assert.equal(response.status, 200);
      assert.match(String(response.headers['content-type']), /^text\/html/);
      assert.match(response.body, /<form method="post" action="\/login"/);
      assert.match(response.body, /<label for="username">Username<\/label>/);
      assert.match(response.body, /<input id="username" name="username"/);
      assert.match(response.body, /<label for="password">Password<\/label>/);
      assert.match(response.body, /<input id="password" name="password" type="password"/);
      assert.match(response.body, /name="rm" value="GET"/);
      assert.ok(!response.body.includes('"><script>'), 'rd is escaped in the page');
      assert.match(String(response.headers['content-security-policy']), /default-src 'none'/);
      assert.equal(response.headers['x-frame-options'], 'DENY');
    });

    it('POST /login with the portal Origin → 303 to the safe rd, with the session cookie', async () => {
      const rd = 'https://app.example.test/after?x=1';
      const response = await portal(gw, '/login', {
        method: 'POST',
        body: form({ username: 'alice', password: PASSWORD, rd, rm: 'GET' }),
        headers: { 'content-type': FORM, origin: PORTAL_ORIGIN },
      });
      assert.equal(response.status, 303);
      assert.equal(response.headers.location, rd);
      const cookie = response.cookies.find((c) => c.name === 'gatehouse_session');
      assert.ok(cookie);
      assert.equal((await askAuthz(gw, 'auth-request', rd, { cookie: `gatehouse_session=${cookie.value}` })).status, 200);
    });

    it('a Referer from the portal is as good as Origin; an unsafe rd is not followed', async () => {
      const response = await portal(gw, '/login', {
        method: 'POST',
        body: form({ username: 'alice', password: PASSWORD, rd: 'https://evil.test/', rm: 'GET' }),
        headers: { 'content-type': FORM, referer: `${PORTAL_ORIGIN}/?rd=x` },
      });
      assert.equal(response.status, 303);
      assert.equal(response.headers.location, 'https://home.example.test/');
    });

    it('POST /login without Origin or Referer, or from another site → 403, no session', async () => {
      for (const headers of [{}, { origin: 'https://evil.test' }, { referer: 'https://evil.test/login' }]) {
        const response = await portal(gw, '/login', {
          method: 'POST',
          body: form({ username: 'alice', password: PASSWORD }),
          headers: { 'content-type': FORM, ...headers },
        });
        assert.equal(response.status, 403, JSON.stringify(headers));
        assert.equal(response.cookies.length, 0);
      }
    });

    it('a wrong password → 401 page with the error in role=alert and the username kept', async () => {
      const response = await portal(gw, '/login', {
        method: 'POST',
        body: form({ username: 'alice', password: 'nope', rd: '', rm: '' }),
        headers: { 'content-type': FORM, origin: PORTAL_ORIGIN },
      });
      assert.equal(response.status, 401);
      assert.match(response.body, /<p class="error" role="alert" id="login-error">Incorrect username or password\.<\/p>/);
      assert.match(response.body, /name="username"[^>]*value="alice"/);
      assert.equal(response.cookies.length, 0);
    });

    it('a logged-in visit to /?rd=<safe target> goes straight there', async () => {
      const cookie = await login(gw, 'alice', PASSWORD);
      const response = await portal(gw, `/?rd=${encodeURIComponent('https://app.example.test/back')}`, { headers: { cookie } });
      assert.equal(response.status, 302);
      assert.equal(response.headers.location, 'https://app.example.test/back');
    });
  });
});

describe('first run: the one-time setup link creates the administrator', () => {
  let gw: InProcessGateway;
  let token: string;

  before(async () => {
    gw = await startInProcessGateway({ config: { access_control: ACCESS_CONTROL } }); // no users file yet
    const setupUrl = gw.gateway.setupUrl();
    assert.ok(setupUrl, 'a setup URL while no user exists');
    const url = new URL(setupUrl);
    assert.equal(`${url.origin}${url.pathname}`, 'https://auth.example.test/setup');
    token = url.searchParams.get('token') ?? '';
    assert.ok(token.length >= 20);
  });
  after(() => gw?.close());

  it('before setup, the sign-in page says setup is required, and nobody can log in', async () => {
    const page = await portal(gw, '/');
    assert.equal(page.status, 200);
    assert.match(page.body, /Setup required/);
    assert.doesNotMatch(page.body, /name="password"/);
    assert.equal((await askAuthz(gw, 'auth-request', 'https://app.example.test/')).status, 401);
  });

  it('a wrong or missing token → 404', async () => {
    for (const query of ['?token=wrong', `?token=${token.slice(0, -1)}`, '', `?token=${token}x`]) {
      const response = await portal(gw, `/setup${query}`);
      assert.equal(response.status, 404, query);
      assert.doesNotMatch(response.body, /name="password"/);
    }
    const post = await portal(gw, '/setup', {
      method: 'POST',
      body: form({ token: 'wrong', username: 'root', password: 'long enough password', confirm: 'long enough password' }),
      headers: { 'content-type': FORM, origin: PORTAL_ORIGIN },
    });
    assert.equal(post.status, 404);
  });

  it('GET /setup?token=… shows the form; a too-short password is refused with role=alert', async () => {
    const page = await portal(gw, `/setup?token=${token}`);
    assert.equal(page.status, 200);
    assert.match(page.body, /<label for="username">Username<\/label>/);
    assert.match(page.body, /<label for="password">/);
    const short = await portal(gw, '/setup', {
      method: 'POST',
      body: form({ token, username: 'root', password: 'short', confirm: 'short' }),
      headers: { 'content-type': FORM, origin: PORTAL_ORIGIN },
    });
    assert.equal(short.status, 400);
    assert.match(short.body, /role="alert"[^>]*>Password must be at least 10 characters long\./);
  });

  it('POST /setup without Origin → 403', async () => {
    const response = await portal(gw, '/setup', {
      method: 'POST',
      body: form({ token, username: 'root', password: 'long enough password', confirm: 'long enough password' }),
      headers: { 'content-type': FORM },
    });
    assert.equal(response.status, 403);
  });

  it('POST /setup creates an admin in group admins in a 0600 users file; the admin can log in; the link is then dead', async () => {
    const response = await portal(gw, '/setup', {
      method: 'POST',
      body: form({ token, username: 'root', displayName: 'The Admin', email: 'root@example.test', password: 'long enough password', confirm: 'long enough password' }),
      headers: { 'content-type': FORM, origin: PORTAL_ORIGIN },
    });
    assert.equal(response.status, 200, response.body);
    assert.match(response.body, /Administrator created/);

    const file = parse(await readFile(gw.usersPath, 'utf8')) as { users: Record<string, { groups: string[]; displayname: string; password: string }> };
    assert.deepEqual(file.users.root?.groups, ['admins']);
    assert.equal(file.users.root?.displayname, 'The Admin');
    assert.match(file.users.root?.password ?? '', /^\$argon2id\$/);
    assert.equal((await stat(gw.usersPath)).mode & 0o777, 0o600);

    const cookie = await login(gw, 'root', 'long enough password');
    const authz = await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie });
    assert.equal(authz.status, 200);
    assert.equal(authz.headers['remote-groups'], 'admins');

    assert.equal(gw.gateway.setupUrl(), null);
    assert.equal((await portal(gw, `/setup?token=${token}`)).status, 404);
    const second = await portal(gw, '/setup', {
      method: 'POST',
      body: form({ token, username: 'intruder', password: 'long enough password', confirm: 'long enough password' }),
      headers: { 'content-type': FORM, origin: PORTAL_ORIGIN },
    });
    assert.equal(second.status, 404);
    const after = parse(await readFile(gw.usersPath, 'utf8')) as { users: Record<string, unknown> };
    assert.deepEqual(Object.keys(after.users), ['root']);
  });
});
