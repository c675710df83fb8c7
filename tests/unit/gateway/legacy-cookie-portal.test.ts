// A legacy `session.domain` cookie (Authelia ≤ 4.37) has no authelia_url. Its portal URL is each portal
// request's own, believed only from a trusted proxy; a forward-auth question names the portal itself (rd,
// authelia_url) or gets a plain 401. Never a redirect to a URL nobody vouched for.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { answerOf } from '../../../gateway/authz/answer.ts';
import type { Refusal } from '../../../gateway/authz/decide.ts';
import { DIALECTS, type Dialect } from '../../../gateway/authz/dialects.ts';
import { parseTarget } from '../../../gateway/authz/target.ts';
import { parseGatewayConfig } from '../../../gateway/config/load.ts';
import { configuredPortal, portalDomainOf, resolveCookieDomains, type PortalRequest } from '../../../gateway/session/cookie-domains.ts';

const BASE = {
  authentication_backend: { file: { path: '/nonexistent/users.yml' } },
  storage: { encryption_key: 'a-test-encryption-key-long-enough', local: { path: '/nonexistent/db.sqlite3' } },
  access_control: { default_policy: 'one_factor' },
};
const legacy = resolveCookieDomains(parseGatewayConfig({ ...BASE, session: { domain: 'example.test' } }).config);
const modern = resolveCookieDomains(parseGatewayConfig({ ...BASE, session: { cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }] } }).config);

const proxied = (host: string, protocol = 'https', fromTrustedProxy = true): PortalRequest => ({ hostname: host.replace(/:\d+$/, ''), host, protocol, fromTrustedProxy });

describe('a legacy cookie: the portal URL is the request\'s own, from a trusted proxy only', () => {
  it('has no configured portal, and a secure cookie', () => {
    assert.equal(legacy[0]!.portalUrl, null);
    assert.equal(legacy[0]!.secure, true);
  });

  it('a trusted proxy\'s https host under the domain is the portal, port included', () => {
    const found = portalDomainOf(proxied('auth.example.test:8443'), legacy);
    assert.ok('domain' in found);
    assert.equal(found.domain.portalUrl.href, 'https://auth.example.test:8443/');
    assert.equal(found.domain.domain, 'example.test');
  });

  it('a peer that is not a trusted proxy is refused: it could name any host under the domain (reset links would carry it)', () => {
    assert.deepEqual(portalDomainOf(proxied('auth.example.test', 'https', false), legacy), { refused: 'unknown-portal' });
  });

  it('plain http is refused off loopback (no X-Forwarded-Proto: https), accepted on localhost', () => {
    assert.deepEqual(portalDomainOf(proxied('auth.example.test', 'http'), legacy), { refused: 'unknown-portal' });
    const local = resolveCookieDomains(parseGatewayConfig({ ...BASE, session: { domain: 'localhost' } }).config);
    const found = portalDomainOf(proxied('localhost:9091', 'http'), local);
    assert.ok('domain' in found);
    assert.equal(found.domain.portalUrl.origin, 'http://localhost:9091');
  });

  it('a host outside the domain, or one the URL parser reads as another, is refused', () => {
    assert.deepEqual(portalDomainOf(proxied('auth.example.org'), legacy), { refused: 'foreign-host' });
    assert.deepEqual(portalDomainOf({ hostname: 'auth.example.test', host: 'evil.example.org#@auth.example.test', protocol: 'https', fromTrustedProxy: true }, legacy), { refused: 'unknown-portal' });
    assert.deepEqual(portalDomainOf({ hostname: 'auth.example.test', host: 'auth.example.test/x', protocol: 'https', fromTrustedProxy: true }, legacy), { refused: 'unknown-portal' });
    // a query or fragment in the forwarded host: not a host, whatever the parser makes of it
    for (const host of ['auth.example.test:443?x', 'auth.example.test?x', 'auth.example.test#x']) {
      assert.deepEqual(portalDomainOf({ hostname: 'auth.example.test', host, protocol: 'https', fromTrustedProxy: true }, legacy), { refused: 'unknown-portal' }, host);
    }
  });

  it('a configured authelia_url stays the portal whoever asks, as before', () => {
    const found = portalDomainOf(proxied('app.example.test', 'http', false), modern);
    assert.ok('domain' in found);
    assert.equal(found.domain.portalUrl.href, 'https://auth.example.test/');
    assert.equal(configuredPortal(modern).href, 'https://auth.example.test/');
    assert.throws(() => configuredPortal(legacy), { code: 'internal_error' });
  });
});

describe('a forward-auth login refusal for a legacy cookie: the proxy names the portal, or it is a plain 401', () => {
  const refusal: Refusal = { kind: 'login', target: parseTarget('https://app.example.test/page', 'GET'), domain: legacy[0]!, challenge: null };
  const asked = (url: string) => ({ headers: { accept: 'text/html' }, url, method: 'GET' }) as unknown as IncomingMessage;
  const answer = (dialect: Dialect, url: string) => answerOf(DIALECTS[dialect], refusal, asked(url));

  for (const [dialect, url] of [['auth-request', '/api/authz/auth-request'], ['forward-auth', '/api/authz/forward-auth'], ['legacy', '/api/verify'], ['embedded', '/page']] as const) {
    it(`${dialect} without a portal parameter: 401 and no Location`, () => {
      const a = answer(dialect, url);
      assert.equal(a.status, 401);
      assert.equal(a.headers.Location, undefined);
    });
  }

  it('/api/verify?rd= and /api/authz/forward-auth?authelia_url= under the domain: to that portal', () => {
    assert.equal(answer('legacy', '/api/verify?rd=https%3A%2F%2Fauth.example.test%2F').headers.Location, 'https://auth.example.test/?rd=https%3A%2F%2Fapp.example.test%2Fpage&rm=GET');
    assert.equal(answer('forward-auth', '/api/authz/forward-auth?authelia_url=https%3A%2F%2Fauth.example.test%2F').status, 302);
  });

  it('a portal parameter outside the cookie domain is refused, not followed', () => {
    const a = answer('legacy', '/api/verify?rd=https%3A%2F%2Fevil.example.org%2F');
    assert.equal(a.status, 401);
    assert.equal(a.headers.Location, undefined);
  });
});
