// The dialect table (gateway/authz/dialects.ts) read as a specification: each way of being asked ×
// each refusal → the status, headers and body a proxy, a browser or a WebSocket client gets.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { answerOf, rawAnswer, type Answer } from '../../../gateway/authz/answer.ts';
import type { Refusal, RefusalKind } from '../../../gateway/authz/decide.ts';
import { DIALECTS, type Dialect } from '../../../gateway/authz/dialects.ts';
import { parseTarget } from '../../../gateway/authz/target.ts';
import type { CookieDomain } from '../../../gateway/session/cookie-domains.ts';

const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const ALL: Dialect[] = ['auth-request', 'forward-auth', 'legacy', 'embedded'];
const CHALLENGE = 'Basic realm="Authorization Required"';

const domain = { domain: 'example.test', portalUrl: new URL('https://auth.example.test/') } as CookieDomain;
const asked = (headers: Record<string, string> = {}, url = '/api/authz/x') => ({ headers, url, method: 'GET' }) as unknown as IncomingMessage;
const login = (method = 'GET', basic = false): Refusal => ({ kind: 'login', target: parseTarget('https://app.example.test/page?x=1', method), domain, challenge: basic ? 'basic' : null });

const REFUSALS: Record<Exclude<RefusalKind, 'login'>, Refusal> = {
  forbidden: { kind: 'forbidden' },
  'bad-credentials': { kind: 'bad-credentials' },
  busy: { kind: 'busy', retryAfterSeconds: 7 },
  'bad-request': { kind: 'bad-request', reason: 'X-Original-URL is missing' },
  unavailable: { kind: 'unavailable', message: 'Sessions are unavailable, try again shortly.' },
  error: { kind: 'error' },
};

/** Status and the headers that matter, per dialect (Content-Type aside). */
const EXPECTED: Record<Exclude<RefusalKind, 'login'>, Record<Dialect, { status: number; headers?: Record<string, string>; body: string }>> = {
  forbidden: {
    'auth-request': { status: 403, body: '403 Forbidden' },
    'forward-auth': { status: 403, body: '403 Forbidden' },
    legacy: { status: 403, body: '403 Forbidden' },
    embedded: { status: 403, body: '403 Forbidden: your account is not allowed here.' },
  },
  'bad-credentials': {
    'auth-request': { status: 401, headers: { 'WWW-Authenticate': CHALLENGE }, body: '401 Unauthorized' },
    'forward-auth': { status: 401, headers: { 'WWW-Authenticate': CHALLENGE }, body: '401 Unauthorized' },
    legacy: { status: 401, headers: { 'WWW-Authenticate': CHALLENGE }, body: '401 Unauthorized' },
    embedded: { status: 401, headers: { 'WWW-Authenticate': CHALLENGE }, body: '401 Unauthorized' },
  },
  busy: {
    'auth-request': { status: 429, headers: { 'Retry-After': '7' }, body: '429 Too Many Requests' },
    'forward-auth': { status: 429, headers: { 'Retry-After': '7' }, body: '429 Too Many Requests' },
    legacy: { status: 429, headers: { 'Retry-After': '7' }, body: '429 Too Many Requests' },
    embedded: { status: 429, headers: { 'Retry-After': '7' }, body: '429 Too Many Requests: too many sign-in attempts are being checked; try again shortly.' },
  },
  'bad-request': {
    'auth-request': { status: 400, body: '400 Bad Request' },
    'forward-auth': { status: 400, body: '400 Bad Request' },
    // Authelia's /api/verify answers a malformed question as unauthenticated
    legacy: { status: 401, body: '401 Unauthorized' },
    embedded: { status: 400, body: '400 Bad Request' },
  },
  unavailable: {
    'auth-request': { status: 503, headers: { 'Retry-After': '5' }, body: '503 Service Unavailable' },
    'forward-auth': { status: 503, headers: { 'Retry-After': '5' }, body: '503 Service Unavailable' },
    legacy: { status: 503, headers: { 'Retry-After': '5' }, body: '503 Service Unavailable' },
    embedded: { status: 503, headers: { 'Retry-After': '5' }, body: '503 Service Unavailable: Sessions are unavailable, try again shortly.' },
  },
  error: {
    'auth-request': { status: 500, body: '500 Internal Server Error' },
    'forward-auth': { status: 500, body: '500 Internal Server Error' },
    legacy: { status: 500, body: '500 Internal Server Error' },
    embedded: { status: 500, body: '500 Internal Server Error' },
  },
};

function assertAnswer(answer: Answer, expected: { status: number; headers?: Record<string, string>; body: string }, what: string): void {
  assert.equal(answer.status, expected.status, what);
  assert.equal(answer.body, expected.body, what);
  for (const [name, value] of Object.entries(expected.headers ?? {})) assert.equal(answer.headers[name], value, `${what}: ${name}`);
  // nothing but what the row names: no identity, no stray redirect
  for (const name of Object.keys(answer.headers)) assert.ok(name === 'Content-Type' || name in (expected.headers ?? {}), `${what}: unexpected ${name}`);
}

describe('every dialect × every refusal but login, over HTTP', () => {
  for (const [kind, refusal] of Object.entries(REFUSALS) as [Exclude<RefusalKind, 'login'>, Refusal][]) {
    for (const dialect of ALL) {
      it(`${dialect}: ${kind} → ${EXPECTED[kind][dialect].status}`, () => {
        assertAnswer(answerOf(DIALECTS[dialect], refusal, asked({ accept: BROWSER })), EXPECTED[kind][dialect], `${dialect} ${kind}`);
      });
    }
  }

  it('bodies are typed: HTML for a proxy to pass on, plain text for the embedded proxy’s own visitors', () => {
    for (const dialect of ['auth-request', 'forward-auth', 'legacy'] as const) {
      assert.equal(answerOf(DIALECTS[dialect], REFUSALS.forbidden, asked()).headers['Content-Type'], 'text/html; charset=utf-8');
    }
    assert.equal(answerOf(DIALECTS.embedded, REFUSALS.forbidden, asked()).headers['Content-Type'], 'text/plain; charset=utf-8');
  });
});

describe('login: where each dialect sends an anonymous visitor', () => {
  const portalFor = (location: string | undefined, method = 'GET') => {
    assert.ok(location, 'a Location');
    const url = new URL(location);
    assert.equal(url.origin, 'https://auth.example.test');
    assert.equal(url.searchParams.get('rd'), 'https://app.example.test/page?x=1');
    assert.equal(url.searchParams.get('rm'), method);
  };

  it('auth-request: always 401 with the portal in Location (nginx turns it into the redirect)', () => {
    for (const headers of [{ accept: BROWSER }, { accept: 'application/json' }, {}] as Record<string, string>[]) {
      const answer = answerOf(DIALECTS['auth-request'], login(), asked(headers));
      assert.equal(answer.status, 401);
      portalFor(answer.headers.Location);
      assert.equal(answer.headers['WWW-Authenticate'], undefined);
    }
  });

  for (const dialect of ['forward-auth', 'embedded'] as const) {
    it(`${dialect}: a browser GET gets 302, a browser POST 303, an API client a plain 401`, () => {
      const get = answerOf(DIALECTS[dialect], login('GET'), asked({ accept: BROWSER }));
      assert.equal(get.status, 302);
      portalFor(get.headers.Location);
      assert.match(get.body, /^<a href="https:\/\/auth\.example\.test\/\?rd=[^"]+">[^<]+<\/a>$/);
      assert.equal(get.headers['Content-Type'], 'text/html; charset=utf-8');
      const post = answerOf(DIALECTS[dialect], login('POST'), asked({ accept: BROWSER }));
      assert.equal(post.status, 303);
      portalFor(post.headers.Location, 'POST');
      for (const headers of [{ accept: 'application/json' }, { accept: BROWSER, 'x-requested-with': 'XMLHttpRequest' }, {}] as Record<string, string>[]) {
        const api = answerOf(DIALECTS[dialect], login(), asked(headers));
        assert.equal(api.status, 401, JSON.stringify(headers));
        assert.equal(api.headers.Location, undefined);
      }
    });
  }

  it('legacy: the portal is the `rd` the proxy sent, only when it is inside the target’s cookie domain', () => {
    const safe = answerOf(DIALECTS.legacy, login(), asked({ accept: BROWSER }, '/api/verify?rd=https://auth.example.test/'));
    assert.equal(safe.status, 302);
    portalFor(safe.headers.Location);
    for (const url of ['/api/verify', '/api/verify?rd=https://evil.test/', '/api/verify?rd=http://auth.example.test/']) {
      const refused = answerOf(DIALECTS.legacy, login(), asked({ accept: BROWSER }, url));
      assert.equal(refused.status, 401, url);
      assert.equal(refused.headers.Location, undefined, url);
    }
  });

  it('after Basic credentials, every dialect asks for them again (401 and a challenge), never the portal', () => {
    for (const dialect of ALL) {
      const answer = answerOf(DIALECTS[dialect], login('GET', true), asked({ accept: BROWSER }, '/api/verify?rd=https://auth.example.test/'));
      assert.equal(answer.status, 401, dialect);
      assert.equal(answer.headers['WWW-Authenticate'], CHALLENGE, dialect);
      assert.equal(answer.headers.Location, undefined, dialect);
    }
  });
});

describe('a WebSocket upgrade is refused on its raw socket, in the embedded row', () => {
  const UPGRADE: Record<RefusalKind, string> = {
    forbidden: 'HTTP/1.1 403 Forbidden\r\n',
    login: 'HTTP/1.1 401 Unauthorized\r\n',
    'bad-credentials': 'HTTP/1.1 401 Unauthorized\r\n',
    busy: 'HTTP/1.1 401 Unauthorized\r\n',
    'bad-request': 'HTTP/1.1 400 Bad Request\r\n',
    unavailable: 'HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n',
    error: 'HTTP/1.1 500 Internal Server Error\r\n',
  };
  for (const [kind, head] of Object.entries(UPGRADE) as [RefusalKind, string][]) {
    it(`${kind} → ${head.split('\r\n')[0]}, no body, no redirect, the connection closed`, () => {
      const refusal = kind === 'login' ? login() : REFUSALS[kind];
      const raw = rawAnswer(answerOf(DIALECTS.embedded, refusal, asked({ accept: BROWSER, upgrade: 'websocket' }), true));
      assert.equal(raw, `${head}Connection: close\r\nContent-Length: 0\r\n\r\n`);
    });
  }
});

describe('each row says where the target comes from', () => {
  it('auth-request, forward-auth and legacy take only GET/HEAD where the proxy asks that way; the rest any method', () => {
    assert.deepEqual([...(DIALECTS['auth-request'].methods ?? [])], ['GET', 'HEAD']);
    assert.deepEqual([...(DIALECTS['forward-auth'].methods ?? [])], ['GET', 'HEAD']);
    assert.equal(DIALECTS.legacy.methods, null);
    assert.equal(DIALECTS.embedded.methods, null);
  });

  it('the forwarded rows refuse an untrusted peer; the embedded row refuses a Host other than the routed one', () => {
    const forwarded = { headers: { 'x-original-url': 'https://app.example.test/', 'x-original-method': 'GET' }, url: '/' } as unknown as IncomingMessage;
    assert.throws(() => DIALECTS['auth-request'].locate(forwarded, false, null), /trusted_proxies/);
    assert.equal(DIALECTS['auth-request'].locate(forwarded, true, null).host, 'app.example.test');
    const direct = { headers: { host: 'other.example.test' }, url: '/x', method: 'GET' } as unknown as IncomingMessage;
    assert.throws(() => DIALECTS.embedded.locate(direct, false, { host: 'app.example.test', scheme: 'https' }), /not the routed host/);
    assert.equal(DIALECTS.embedded.locate(direct, false, { host: 'other.example.test', scheme: 'https' }).url.href, 'https://other.example.test/x');
  });
});
