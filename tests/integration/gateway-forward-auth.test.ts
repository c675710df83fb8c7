// Forward auth as nginx, Traefik/Caddy and legacy clients ask it, against a gateway whose sessions
// live in a real Redis: who is sent to log in, who gets through with which identity, and what
// happens when Redis goes away.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { createSessionCodec } from '../../gateway/session/codec.ts';
import { CACHE_TTL_MS, SESSION_KEY_PREFIX } from '../../gateway/session/store.ts';
import type { HttpResponse } from '../helpers/http.ts';
import {
  askAuthz,
  BROWSER_ACCEPT,
  eventually,
  firstFactor,
  login,
  portal,
  startInProcessGateway,
  type AuthzDialect,
  type InProcessGateway,
} from '../helpers/inprocess-gateway.ts';
import { startRedis, type RedisServer } from '../helpers/redis.ts';

const PASSWORD = 'correct horse battery staple';
const PORTAL = 'https://auth.example.test/';
const DIALECTS: AuthzDialect[] = ['auth-request', 'forward-auth', 'legacy'];

const ACCESS_CONTROL = {
  default_policy: 'deny',
  rules: [
    { domain: 'public.example.test', policy: 'bypass' },
    { domain: 'app.example.test', policy: 'one_factor' },
    { domain: 'admin.example.test', subject: 'group:admins', policy: 'one_factor' },
    { domain: 'secure.example.test', policy: 'two_factor' },
    { domain: 'staff.example.test', subject: 'user:bob', policy: 'deny' },
    { domain: 'staff.example.test', policy: 'one_factor' },
  ],
};

const USERS = {
  alice: { password: PASSWORD, displayname: 'Alice Liddell', email: 'alice@example.test', groups: ['dev', 'ops'] },
  bob: { password: PASSWORD, displayname: 'Bob', email: 'bob@example.test', groups: ['admins'] },
};

/** Asserts a redirect (or nginx's 401 with Location) to the portal carrying the target and method. */
function assertToPortal(response: HttpResponse, status: number, target: string, method = 'GET', portalUrl = PORTAL): void {
  assert.equal(response.status, status, `expected ${status}, got ${response.status}: ${response.body}`);
  const location = new URL(response.headers.location ?? 'missing:');
  assert.equal(`${location.origin}${location.pathname}`, portalUrl);
  assert.equal(location.searchParams.get('rd'), target);
  assert.equal(location.searchParams.get('rm'), method);
}

function assertIdentity(response: HttpResponse, expected: { user: string; groups: string; name: string; email: string }): void {
  assert.equal(response.status, 200, response.body);
  assert.equal(response.headers['remote-user'], expected.user);
  assert.equal(response.headers['remote-groups'], expected.groups);
  assert.equal(response.headers['remote-name'], expected.name);
  assert.equal(response.headers['remote-email'], expected.email);
}

function sessionId(cookie: string): string {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1));
  return value.slice(2, value.lastIndexOf('.'));
}

describe('forward auth with sessions in Redis', () => {
  let redis: RedisServer;
  let gw: InProcessGateway;
  let alice: string;
  let bob: string;

  before(async () => {
    redis = await startRedis();
    gw = await startInProcessGateway({
      users: USERS,
      config: { access_control: ACCESS_CONTROL, session: { redis: { host: '127.0.0.1', port: redis.port, timeout: '2s' } } },
    });
    alice = await login(gw, 'alice', PASSWORD);
    bob = await login(gw, 'bob', PASSWORD);
  });
  after(async () => {
    await gw?.close();
    await redis?.stop();
  });

  describe('an anonymous visitor is sent to the portal with the page asked for', () => {
    const target = 'https://app.example.test/private/page?tab=1&q=a%20b';

    it('nginx auth-request: 401 with Location <portal>?rd=<target>&rm=GET (nginx turns it into a redirect)', async () => {
      assertToPortal(await askAuthz(gw, 'auth-request', target), 401, target);
      assertToPortal(await askAuthz(gw, 'auth-request', target, { headers: { accept: 'application/json' } }), 401, target);
    });

    it('forward-auth: a browser GET gets 302 to the portal', async () => {
      assertToPortal(await askAuthz(gw, 'forward-auth', target, { headers: { accept: BROWSER_ACCEPT } }), 302, target);
    });

    it('forward-auth: a browser POST gets 303, so the browser follows with a GET', async () => {
      assertToPortal(await askAuthz(gw, 'forward-auth', target, { method: 'POST', headers: { accept: BROWSER_ACCEPT } }), 303, target, 'POST');
    });

    it('forward-auth: XHR and clients that do not accept HTML get 401 without a redirect', async () => {
      for (const headers of [{ accept: 'application/json' }, { accept: BROWSER_ACCEPT, 'x-requested-with': 'XMLHttpRequest' }, {}] as Record<string, string>[]) {
        const response = await askAuthz(gw, 'forward-auth', target, { headers });
        assert.equal(response.status, 401, JSON.stringify(headers));
        assert.equal(response.headers.location, undefined);
      }
    });

    it('legacy /api/verify: 401 without rd; 302 to a safe rd; 401 when rd is on another domain', async () => {
      const plain = await askAuthz(gw, 'legacy', target, { headers: { accept: BROWSER_ACCEPT } });
      assert.equal(plain.status, 401);
      assert.equal(plain.headers.location, undefined);

      const safe = await askAuthz(gw, 'legacy', target, { headers: { accept: BROWSER_ACCEPT }, query: `?rd=${encodeURIComponent(PORTAL)}` });
      assertToPortal(safe, 302, target);

      for (const rd of ['https://evil.test/', 'https://example.test.evil.test/', '//evil.test/', 'https://auth.example.test@evil.test/']) {
        const unsafe = await askAuthz(gw, 'legacy', target, { headers: { accept: BROWSER_ACCEPT }, query: `?rd=${encodeURIComponent(rd)}` });
        assert.equal(unsafe.status, 401, rd);
        assert.equal(unsafe.headers.location, undefined, rd);
      }
    });

    it('a HEAD question gets the same answer with no body', async () => {
      const response = await askAuthz(gw, 'forward-auth', target, { requestMethod: 'HEAD', headers: { accept: BROWSER_ACCEPT } });
      assertToPortal(response, 302, target);
      assert.equal(response.body, '');
    });
  });

  describe('a logged-in user gets 200 and their identity in the four Remote-* headers', () => {
    for (const dialect of DIALECTS) {
      it(dialect, async () => {
        const response = await askAuthz(gw, dialect, 'https://app.example.test/dashboard', { cookie: alice });
        assertIdentity(response, { user: 'alice', groups: 'dev,ops', name: 'Alice Liddell', email: 'alice@example.test' });
      });
    }

    it('on every method the proxy reports, including POST', async () => {
      const response = await askAuthz(gw, 'forward-auth', 'https://app.example.test/form', { cookie: alice, method: 'POST' });
      assert.equal(response.status, 200);
    });
  });

  describe('a bypass rule lets anyone through with the four Remote-* headers present and empty', () => {
    for (const dialect of DIALECTS) {
      it(dialect, async () => {
        const response = await askAuthz(gw, dialect, 'https://public.example.test/', { headers: { accept: BROWSER_ACCEPT } });
        assertIdentity(response, { user: '', groups: '', name: '', email: '' });
      });
    }
  });

  describe('a user outside the rule subject is forbidden, an anonymous one is asked to log in', () => {
    it('alice (not in admins) gets 403 on a group:admins site; bob gets 200', async () => {
      for (const dialect of DIALECTS) {
        assert.equal((await askAuthz(gw, dialect, 'https://admin.example.test/', { cookie: alice })).status, 403, dialect);
        assert.equal((await askAuthz(gw, dialect, 'https://admin.example.test/', { cookie: bob })).status, 200, dialect);
      }
    });

    it('anonymous on a deny rule with a subject is sent to log in, not told 403 (they may be someone else)', async () => {
      const target = 'https://staff.example.test/';
      assertToPortal(await askAuthz(gw, 'auth-request', target), 401, target);
      assertToPortal(await askAuthz(gw, 'forward-auth', target, { headers: { accept: BROWSER_ACCEPT } }), 302, target);
      assert.equal((await askAuthz(gw, 'auth-request', target, { cookie: bob })).status, 403, 'bob is the denied subject');
      assert.equal((await askAuthz(gw, 'auth-request', target, { cookie: alice })).status, 200, 'alice falls to the next rule');
    });

    it('anonymous on a host no rule names (default_policy deny) gets 403', async () => {
      assert.equal((await askAuthz(gw, 'auth-request', 'https://other.example.test/')).status, 403);
    });
  });

  describe('a two_factor site never lets a one-factor session through', () => {
    it('nginx gets 401 + Location, a browser 302 to the portal, legacy 401', async () => {
      const target = 'https://secure.example.test/vault';
      assertToPortal(await askAuthz(gw, 'auth-request', target, { cookie: alice }), 401, target);
      assertToPortal(await askAuthz(gw, 'forward-auth', target, { cookie: alice, headers: { accept: BROWSER_ACCEPT } }), 302, target);
      assert.equal((await askAuthz(gw, 'legacy', target, { cookie: alice })).status, 401);
    });
  });

  describe('activity is written back to Redis at most every few seconds', () => {
    it('a request 2 s after the last keeps the stored lastActivity; one 6 s after moves it forward', async () => {
      const cookie = await login(gw, 'alice', PASSWORD);
      const client = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true });
      await client.connect();
      try {
        const codec = createSessionCodec(gw.sessionSecret);
        const key = `${SESSION_KEY_PREFIX}${sessionId(cookie)}`;
        const stored = async () => {
          const text = await client.get(key);
          assert.ok(text, `no session stored under ${key}`);
          assert.ok(!text.includes('alice'), 'the stored session is encrypted');
          return codec.parse(text) as { lastActivity: number; identity: { username: string } };
        };
        const first = await stored();
        assert.equal(first.identity.username, 'alice');

        gw.clock.advance(2_000);
        assert.equal((await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie })).status, 200);
        await new Promise((resolve) => setTimeout(resolve, 100)); // a write, if any, is fire-and-forget
        assert.equal((await stored()).lastActivity, first.lastActivity, 'no write within the throttle window');

        gw.clock.advance(4_000);
        assert.equal((await askAuthz(gw, 'auth-request', 'https://app.example.test/', { cookie })).status, 200);
        await eventually('lastActivity moved forward', async () => (await stored()).lastActivity >= first.lastActivity + 6_000);
      } finally {
        client.disconnect();
      }
    });
  });

  // Last: it stops Redis.
  describe('when Redis is unreachable nothing is let through, and service resumes when it is back', () => {
    it('once the short read cache has lapsed, forward auth denies (never 200), health 503, the portal 503 without exception text; then recovers', async (t) => {
      const stderr = t.mock.method(console, 'error', () => {});
      const target = 'https://app.example.test/';
      const cookie = await login(gw, 'alice', PASSWORD);
      assert.equal((await askAuthz(gw, 'auth-request', target, { cookie })).status, 200);

      await redis.pause();
      // a session read in the last CACHE_TTL_MS may still be answered from memory; past that, only Redis can say
      gw.clock.advance(CACHE_TTL_MS + 1);
      try {
        for (const dialect of DIALECTS) {
          const response = await askAuthz(gw, dialect, target, { cookie, headers: { accept: BROWSER_ACCEPT } });
          // issue 7 item 12: a deny the proxy understands (401, or the portal redirect for a browser), no longer 500
          assert.equal(response.status, dialect === 'forward-auth' ? 302 : 401, `${dialect}: ${response.status} ${response.body}`);
          assert.doesNotMatch(response.body, /redis|ECONNREFUSED|Connection|Error:|at /i);
        }
        const bypass = await askAuthz(gw, 'auth-request', 'https://public.example.test/', { cookie });
        assert.notEqual(bypass.status, 200, 'a session cookie that cannot be checked is not waved through, even on bypass');

        const health = await portal(gw, '/api/health');
        assert.equal(health.status, 503);
        assert.deepEqual(health.json(), { status: 'KO', message: 'Not ready: session store unreachable.' });

        const loginAttempt = await firstFactor(gw, { username: 'alice', password: PASSWORD });
        // issue 7 item 13: 503 with a message that says what is wrong
        assert.equal(loginAttempt.status, 503);
        assert.deepEqual(loginAttempt.json(), { status: 'KO', message: 'Sessions are unavailable, try again shortly.' });
        const page = await portal(gw, '/', { headers: { cookie, accept: BROWSER_ACCEPT } });
        assert.equal(page.status, 503);
        assert.doesNotMatch(page.body, /redis|ECONNREFUSED|stream|Error:|at /i);
        await new Promise((resolve) => setTimeout(resolve, 50)); // errors reported after the response
        assert.equal(stderr.mock.callCount(), 0, `printed on stderr instead of the JSON log: ${String(stderr.mock.calls[0]?.arguments[0])}`);
        assert.ok(gw.logs().some((line) => line.level === 50 && /session store/.test(String(line.msg))), 'the failure is in the JSON log');
      } finally {
        await redis.resume();
      }
      await eventually('the gateway reconnected to Redis', async () => (await portal(gw, '/api/health')).status === 200, 8_000);
      const again = await login(gw, 'alice', PASSWORD);
      assert.equal((await askAuthz(gw, 'auth-request', target, { cookie: again })).status, 200);
    });
  });
});

