// The bearer token check behind forward auth (gateway/oidc/bearer.ts): audience matching, the scope,
// the brief cache (hashed keys, bounded by the token's expiry) and eviction on revocation.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import pino from 'pino';
import { audienceCovers, BEARER_AUTHZ_SCOPE, CACHE_MS, createBearerVerifier } from '../../../gateway/oidc/bearer.ts';
import type { OidcClientConfig } from '../../../gateway/config/oidc-schema.ts';

describe('audienceCovers: scheme and host, and the path or a parent of it', () => {
  const cases: [string[], string, boolean][] = [
    [['https://app.example.test'], 'https://app.example.test/anything?x=1', true],
    [['https://app.example.test/'], 'https://app.example.test/', true],
    [['https://app.example.test/api'], 'https://app.example.test/api', true],
    [['https://app.example.test/api/'], 'https://app.example.test/api/v1/items', true],
    [['https://app.example.test/api'], 'https://app.example.test/apix', false],
    [['https://app.example.test/api'], 'https://app.example.test/', false],
    [['https://app.example.test'], 'http://app.example.test/', false],
    [['https://app.example.test'], 'https://app.example.test:8443/', false],
    [['https://app.example.test'], 'https://evil.app.example.test/', false],
    [['https://app.example.test.evil.test'], 'https://app.example.test/', false],
    [['app.example.test', 'not a url', 'ftp://app.example.test'], 'https://app.example.test/', false],
    [[], 'https://app.example.test/', false],
  ];
  for (const [audience, target, expected] of cases) {
    it(`${JSON.stringify(audience)} ${expected ? 'covers' : 'does not cover'} ${target}`, () => {
      assert.equal(audienceCovers(audience, new URL(target)), expected);
    });
  }
});

const client = (id: string, extra: Partial<OidcClientConfig> = {}) =>
  ({ client_id: id, scopes: [BEARER_AUTHZ_SCOPE], audience: ['https://app.example.test'], ...extra }) as OidcClientConfig;

/** A provider whose stores are maps the test fills, counting every look-up. */
function fakeProvider() {
  const events = new EventEmitter();
  const access = new Map<string, Record<string, unknown>>();
  const credentials = new Map<string, Record<string, unknown>>();
  const lookups = { count: 0 };
  const model = (store: Map<string, Record<string, unknown>>) => ({
    find: async (token: string) => {
      lookups.count++;
      return store.get(token);
    },
  });
  return { provider: Object.assign(events, { AccessToken: model(access), ClientCredentials: model(credentials) }), access, credentials, lookups };
}

function setUp() {
  let now = 1_000_000_000_000;
  const fake = fakeProvider();
  const clients = new Map([['scripts', client('scripts')], ['app', client('app')], ['plain', client('plain', { scopes: ['openid'] })]]);
  const verifier = createBearerVerifier({
    provider: fake.provider,
    clients,
    repo: { usernameForSubject: async (sub) => (sub === 'sub-alice' ? 'alice' : undefined) },
    logger: pino({ enabled: false }),
    now: () => now,
  });
  const exp = (inMs: number) => Math.floor((now + inMs) / 1000);
  return { fake, verifier, clients, exp, advance: (ms: number) => void (now += ms) };
}

const TARGET = new URL('https://app.example.test/x');

describe('createBearerVerifier', () => {
  it('a client_credentials token is its client; a user token is its user at the factors it carries', async () => {
    const { fake, verifier, exp } = setUp();
    fake.credentials.set('cc', { kind: 'ClientCredentials', clientId: 'scripts', scope: BEARER_AUTHZ_SCOPE, exp: exp(3600_000) });
    fake.access.set('at', { kind: 'AccessToken', clientId: 'app', accountId: 'sub-alice', scope: `openid ${BEARER_AUTHZ_SCOPE}`, exp: exp(3600_000), extra: { amr: ['pwd', 'otp'] } });
    assert.deepEqual(await verifier.verify('cc', TARGET), { kind: 'client', clientId: 'scripts' });
    assert.deepEqual(await verifier.verify('at', TARGET), { kind: 'user', clientId: 'app', username: 'alice', amr: ['pwd', 'otp'] });
  });

  it('refuses a token without the scope, of a client not allowed it or no longer configured, of an unknown subject, or outside the audience', async () => {
    const { fake, verifier, exp } = setUp();
    const base = { kind: 'AccessToken', accountId: 'sub-alice', exp: exp(3600_000) };
    fake.access.set('no-scope', { ...base, clientId: 'app', scope: 'openid' });
    fake.access.set('plain-client', { ...base, clientId: 'plain', scope: BEARER_AUTHZ_SCOPE });
    fake.access.set('gone-client', { ...base, clientId: 'gone', scope: BEARER_AUTHZ_SCOPE });
    fake.access.set('unknown-sub', { ...base, clientId: 'app', scope: BEARER_AUTHZ_SCOPE, accountId: 'sub-nobody' });
    for (const token of ['no-scope', 'plain-client', 'gone-client', 'unknown-sub', 'never-issued']) assert.equal(await verifier.verify(token, TARGET), null, token);
    fake.access.set('good', { ...base, clientId: 'app', scope: BEARER_AUTHZ_SCOPE });
    assert.equal(await verifier.verify('good', new URL('https://other.example.test/')), null);
  });

  it('caches a good token for a few seconds (one look-up), never past its expiry, and evicts it when revoked', async () => {
    const { fake, verifier, exp, advance } = setUp();
    fake.credentials.set('cc', { kind: 'ClientCredentials', clientId: 'scripts', scope: BEARER_AUTHZ_SCOPE, exp: exp(CACHE_MS + 5000) });
    await verifier.verify('cc', TARGET);
    const after = fake.lookups.count;
    await verifier.verify('cc', TARGET);
    assert.equal(fake.lookups.count, after, 'the second check came from the cache');
    advance(CACHE_MS);
    assert.ok(await verifier.verify('cc', TARGET));
    assert.ok(fake.lookups.count > after, 'looked up again after the cache time');
    advance(5000);
    // expired by the gateway's clock, whatever the store says
    assert.equal(await verifier.verify('cc', TARGET), null);

    fake.credentials.set('cc2', { kind: 'ClientCredentials', clientId: 'scripts', scope: BEARER_AUTHZ_SCOPE, exp: exp(3600_000) });
    assert.ok(await verifier.verify('cc2', TARGET));
    fake.credentials.delete('cc2');
    fake.provider.emit('client_credentials.destroyed', { jti: 'cc2' });
    assert.equal(await verifier.verify('cc2', TARGET), null, 'revoked: not served from the cache');
  });

  it('a revoked grant evicts the user tokens it issued', async () => {
    const { fake, verifier, exp } = setUp();
    fake.access.set('at', { kind: 'AccessToken', clientId: 'app', accountId: 'sub-alice', grantId: 'g1', scope: BEARER_AUTHZ_SCOPE, exp: exp(3600_000) });
    assert.ok(await verifier.verify('at', TARGET));
    fake.access.delete('at');
    fake.provider.emit('grant.revoked', {}, 'g1');
    assert.equal(await verifier.verify('at', TARGET), null);
  });
});
