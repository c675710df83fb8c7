import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseGatewayConfig } from '../../../gateway/config/load.ts';
import { createSessionCodec } from '../../../gateway/session/codec.ts';
import { cookieDomainFor, resolveCookieDomains, type CookieDomain } from '../../../gateway/session/cookie-domains.ts';
import { sessionState } from '../../../gateway/session/reader.ts';
import { cookieSigningKey, readCookie, signSessionId, unsignSessionId } from '../../../gateway/session/signed-cookie.ts';
import { authenticationLevel } from '../../../gateway/session/user-session.ts';

function domains(cookies: Array<Record<string, unknown>>): CookieDomain[] {
  const { config } = parseGatewayConfig({
    authentication_backend: { file: { path: '/nonexistent/users.yml' } },
    session: { cookies, expiration: '1h', inactivity: '5m', remember_me: '1M' },
    storage: { encryption_key: 'a-test-encryption-key-long-enough', local: { path: '/nonexistent/db.sqlite3' } },
    access_control: { default_policy: 'one_factor' },
  });
  return resolveCookieDomains(config);
}

describe('session cookies are signed: only ids the gateway issued are looked up', () => {
  const secret = 'a-session-secret-long-enough';
  const key = cookieSigningKey(secret);

  it('round trip, with the key object or the raw secret (express-session signs with the raw secret)', () => {
    const value = signSessionId('abc123', secret);
    assert.equal(unsignSessionId(value, key), 'abc123');
    assert.equal(unsignSessionId(signSessionId('abc123', key), secret), 'abc123');
  });

  it('a changed id, a changed signature, another secret or no signature → null', () => {
    const value = signSessionId('abc123', secret);
    const signature = value.slice(value.lastIndexOf('.') + 1);
    assert.equal(unsignSessionId(`s:abc124.${signature}`, key), null);
    assert.equal(unsignSessionId(`${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`, key), null);
    assert.equal(unsignSessionId(signSessionId('abc123', 'another-secret-long-enough'), key), null);
    for (const bad of ['abc123', 's:abc123', 's:.x', '', `${value}x`, `x${value}`]) assert.equal(unsignSessionId(bad, key), null, bad);
  });

  it('readCookie finds the named cookie, decodes it, and treats malformed encoding as absent', () => {
    assert.equal(readCookie('a=1; gatehouse_session=s%3Aabc.def; b=2', 'gatehouse_session'), 's:abc.def');
    assert.equal(readCookie('gatehouse_session="quoted"', 'gatehouse_session'), 'quoted');
    assert.equal(readCookie('xgatehouse_session=1; gatehouse_sessionx=2', 'gatehouse_session'), null);
    assert.equal(readCookie('gatehouse_session=%E0%A4%A', 'gatehouse_session'), null);
    assert.equal(readCookie(undefined, 'gatehouse_session'), null);
    assert.equal(readCookie('', 'gatehouse_session'), null);
  });
});

describe('stored sessions are encrypted and authenticated', () => {
  it('the stored text reveals nothing, and a tampered or foreign value reads as no session', () => {
    const invalid: string[] = [];
    const codec = createSessionCodec('a-session-secret-long-enough', (reason) => invalid.push(reason));
    const text = codec.stringify({ identity: { username: 'alice' } });
    assert.ok(!text.includes('alice'));
    assert.deepEqual(codec.parse(text), { identity: { username: 'alice' } });
    const flipped = text.slice(0, -2) + (text.at(-2) === 'A' ? 'B' : 'A') + text.at(-1);
    assert.equal(codec.parse(flipped), null);
    assert.equal(createSessionCodec('another-secret-long-enough').parse(text), null);
    assert.equal(codec.parse(JSON.stringify({ identity: { username: 'alice' } })), null, 'plain JSON someone wrote into Redis');
    assert.deepEqual(invalid, ['does not decrypt with session.secret', 'unknown format']);
  });
});

describe('a host belongs to at most one cookie domain, on a label boundary', () => {
  const all = domains([
    { domain: 'example.test', authelia_url: 'https://auth.example.test/' },
    { domain: 'other.test', authelia_url: 'https://login.other.test/' },
  ]);

  it('the domain itself and every name below it', () => {
    assert.equal(cookieDomainFor('example.test', all)?.domain, 'example.test');
    assert.equal(cookieDomainFor('a.b.example.test', all)?.domain, 'example.test');
    assert.equal(cookieDomainFor('app.other.test', all)?.domain, 'other.test');
  });

  it('look-alikes and strangers belong to none', () => {
    for (const host of ['evilexample.test', 'example.test.evil.test', 'test', 'xample.test', '']) assert.equal(cookieDomainFor(host, all), null, host);
  });

  it('Secure everywhere but a plain-http loopback portal; no Domain attribute for localhost', () => {
    const [https] = domains([{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }]);
    assert.equal(https!.secure, true);
    assert.equal(https!.cookieDomainAttribute, 'example.test');
    const [local] = domains([{ domain: 'localhost', authelia_url: 'http://localhost:9091/' }]);
    assert.equal(local!.secure, false);
    assert.equal(local!.cookieDomainAttribute, undefined);
  });
});

describe('whether a stored session may be used now', () => {
  const [domain] = domains([{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }]);
  const now = 1_800_000_000_000;
  const session = (overrides: Record<string, unknown> = {}) => ({
    cookieDomain: 'example.test',
    expiresAt: now + 60_000,
    cookie: { expires: new Date(now + 60_000).toISOString() },
    lastActivity: now - 1_000,
    keepMeLoggedIn: false,
    ...overrides,
  }) as never;

  it('current within expiry and inactivity', () => {
    assert.equal(sessionState(session(), domain!, now), 'current');
  });

  it('foreign: issued for another cookie domain', () => {
    assert.equal(sessionState(session({ cookieDomain: 'other.test' }), domain!, now), 'foreign');
  });

  it('expired at the absolute expiry set at login, or when it is missing or not a number', () => {
    assert.equal(sessionState(session({ expiresAt: now }), domain!, now), 'expired');
    assert.equal(sessionState(session({ expiresAt: undefined }), domain!, now), 'expired');
    assert.equal(sessionState(session({ expiresAt: String(now + 60_000) }), domain!, now), 'expired');
  });

  it("express-session's sliding cookie expiry does not extend the session", () => {
    assert.equal(sessionState(session({ expiresAt: now - 1, cookie: { expires: new Date(now + 3_600_000).toISOString() } }), domain!, now), 'expired');
  });

  it('inactive after 5 minutes without a request, unless "keep me logged in"', () => {
    assert.equal(sessionState(session({ lastActivity: now - 5 * 60_000 }), domain!, now), 'current');
    assert.equal(sessionState(session({ lastActivity: now - 5 * 60_000 - 1 }), domain!, now), 'inactive');
    assert.equal(sessionState(session({ lastActivity: undefined }), domain!, now), 'inactive');
    assert.equal(sessionState(session({ lastActivity: now - 60 * 60_000, keepMeLoggedIn: true }), domain!, now), 'current');
  });
});

describe('the authentication level comes from the factors used (AMR), never from a flag', () => {
  it('0 without factors, 1 for one kind, 2 for knowledge plus possession', () => {
    assert.equal(authenticationLevel(undefined), 0);
    assert.equal(authenticationLevel([]), 0);
    assert.equal(authenticationLevel(['pwd']), 1);
    assert.equal(authenticationLevel(['otp']), 1);
    assert.equal(authenticationLevel(['pwd', 'pin']), 1, 'two knowledge factors are still one kind');
    assert.equal(authenticationLevel(['pwd', 'otp']), 2);
    assert.equal(authenticationLevel(['pwd', 'hwk']), 2);
    assert.equal(authenticationLevel(['level2', 'mfa']), 0, 'unknown values prove nothing');
  });

  it('a possession factor whose authenticator verified the user (RFC 8176 mfa, a passkey with UV) is level 2', () => {
    assert.equal(authenticationLevel(['hwk', 'mfa']), 2);
    assert.equal(authenticationLevel(['hwk']), 1, 'a passkey without user verification is one factor');
    assert.equal(authenticationLevel(['mfa']), 0, 'mfa alone names no factor');
    assert.equal(authenticationLevel(['pwd', 'mfa']), 1, 'mfa qualifies possession, not a password');
  });
});
