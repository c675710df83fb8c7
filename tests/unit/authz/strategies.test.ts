// The credential kinds as a list of strategies (gateway/authz/authn-strategies.ts, decide.ts): the
// first strategy that finds its credential identifies; a new kind (a bearer token) is one more entry.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import {
  authnStrategies,
  BASIC_IN_AUTHORIZATION,
  BASIC_IN_PROXY_AUTHORIZATION,
  configuredAuthzEndpoints,
  DEFAULT_AUTHN_STRATEGIES,
  embeddedProxyStrategies,
  SESSION_COOKIE,
} from '../../../gateway/authz/authn-strategies.ts';
import { decide, type AuthnStrategy, type DecideDeps, type Verdict } from '../../../gateway/authz/decide.ts';
import { DIALECTS } from '../../../gateway/authz/dialects.ts';
import type { FirstFactorAttempt } from '../../../gateway/authn/first-factor.ts';
import type { CookieDomain } from '../../../gateway/session/cookie-domains.ts';
import type { UserDetails, UserProvider } from '../../../gateway/users/provider.ts';

const user = (username: string): UserDetails => ({ username, displayName: username, emails: [], groups: [], credentialStamp: 's' });
const domain = { domain: 'example.test', name: 'gatehouse_session', portalUrl: new URL('https://auth.example.test/') } as CookieDomain;
const basic = (username: string, password: string) => `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;

/** Basic: any password `right` is accepted; the session cookie `s=carol` is carol's session. */
function deps(): DecideDeps & { attempts: FirstFactorAttempt[] } {
  const attempts: FirstFactorAttempt[] = [];
  return {
    attempts,
    cookieDomains: [domain],
    sessionReader: { read: (cookie) => (cookie === 's=carol' ? { sid: 's', data: { identity: { username: 'carol' }, credentialStamp: 's', amr: ['pwd'] } as never } : null) },
    authorizer: { defaultPolicy: 'one_factor', evaluate: () => ({ policy: 'one_factor', rule: -1, hasSubjects: false }), explain: () => [] },
    users: { getDetails: async (name) => user(name), peekDetails: (name) => user(name) },
    firstFactor: {
      verify: async (attempt) => {
        attempts.push(attempt);
        return attempt.password === 'right' ? { ok: true, user: user(attempt.username) } : { ok: false };
      },
      stats: () => ({ waitingForAttempts: 0 }),
    },
    isTrustedProxy: () => true,
  };
}

const question = (headers: Record<string, string>) =>
  ({ headers: { 'x-original-url': 'https://app.example.test/', 'x-original-method': 'GET', ...headers }, url: '/api/authz/auth-request', socket: { remoteAddress: '127.0.0.1' } }) as unknown as IncomingMessage;

async function verdict(headers: Record<string, string>, strategies = DEFAULT_AUTHN_STRATEGIES, d = deps()): Promise<Verdict> {
  return decide(question(headers), DIALECTS['auth-request'].locate, d, strategies);
}

const who = (v: Verdict) => (v.kind === 'allow' ? v.identity?.username : v.kind);

describe('the first strategy that finds its credential is the one that identifies', () => {
  it('Basic outranks the session cookie, whatever order the configuration lists them in', async () => {
    for (const names of [['CookieSession', 'HeaderAuthorization'], ['HeaderAuthorization', 'CookieSession']] as const) {
      assert.deepEqual(authnStrategies(names), [BASIC_IN_AUTHORIZATION, SESSION_COOKIE]);
    }
    assert.equal(who(await verdict({ authorization: basic('alice', 'right'), cookie: 's=carol' })), 'alice');
  });

  it('wrong Basic credentials are not rescued by a valid session cookie, nor by a later header', async () => {
    assert.equal(who(await verdict({ 'proxy-authorization': basic('alice', 'wrong'), authorization: basic('bob', 'right'), cookie: 's=carol' })), 'bad-credentials');
    assert.equal(who(await verdict({ 'proxy-authorization': 'Basic !!!', cookie: 's=carol' })), 'bad-credentials');
  });

  it('another scheme (an app’s Bearer token) is no Basic credential: the next strategy is asked', async () => {
    assert.equal(who(await verdict({ authorization: 'Bearer x', cookie: 's=carol' })), 'carol');
    assert.equal(who(await verdict({ 'proxy-authorization': 'Bearer x', authorization: basic('bob', 'right') })), 'bob');
    assert.equal(who(await verdict({ authorization: 'Basic', cookie: 's=carol' })), 'carol');
  });

  it('an unlisted header or cookie is no identity', async () => {
    const d = deps();
    assert.equal(who(await verdict({ 'proxy-authorization': basic('alice', 'right'), cookie: 's=carol' }, [BASIC_IN_AUTHORIZATION], d)), 'login');
    assert.deepEqual(d.attempts, [], 'no password was checked');
  });

  it('the session’s user is looked up whether the user backend answers at once or with a promise', async () => {
    const d = deps();
    // not in memory (peekDetails: undefined): the backend answers with a promise
    d.users = { peekDetails: () => undefined, getDetails: ((name: string) => Promise.resolve(user(name))) as unknown as UserProvider['getDetails'] };
    assert.equal(who(await verdict({ cookie: 's=carol' }, DEFAULT_AUTHN_STRATEGIES, d)), 'carol');
    // deny: a session made before the password changed
    d.users = { peekDetails: () => undefined, getDetails: ((name: string) => Promise.resolve({ ...user(name), credentialStamp: 'new' })) as unknown as UserProvider['getDetails'] };
    assert.equal(who(await verdict({ cookie: 's=carol' }, DEFAULT_AUTHN_STRATEGIES, d)), 'login');
  });

  it('no credential at all: anonymous, asked to log in', async () => {
    const v = await verdict({});
    assert.equal(v.kind, 'login');
    assert.equal(v.kind === 'login' && v.challenge === 'basic', false);
  });
});

describe('a new credential kind is one more entry in the list', () => {
  const BEARER: AuthnStrategy = {
    name: 'Bearer in Authorization',
    rateLimit: null,
    credential: (req) => (req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7) : undefined),
    identify: (token, q) => (token === 'good' ? { kind: 'allow', identity: user('robot'), target: q.target, ip: q.ip } : { kind: 'bad-credentials' }),
  };
  const strategies = [...DEFAULT_AUTHN_STRATEGIES.slice(0, 2), BEARER, SESSION_COOKIE];

  it('a request with a bearer token is identified by it; Basic and the session work as before', async () => {
    assert.equal(who(await verdict({ authorization: 'Bearer good' }, strategies)), 'robot');
    assert.equal(who(await verdict({ authorization: 'Bearer bad', cookie: 's=carol' }, strategies)), 'bad-credentials');
    assert.equal(who(await verdict({ authorization: basic('alice', 'right') }, strategies)), 'alice');
    assert.equal(who(await verdict({ cookie: 's=carol' }, strategies)), 'carol');
  });
});

describe('the embedded proxy reads what the configured endpoints read', () => {
  it('the forward-auth entry when there is one', () => {
    const endpoints = configuredAuthzEndpoints({ 'forward-auth': { implementation: 'ForwardAuth', authn_strategies: [{ name: 'CookieSession' }] }, 'auth-request': { implementation: 'AuthRequest' } });
    assert.deepEqual(embeddedProxyStrategies(endpoints), [SESSION_COOKIE]);
  });

  it('else every entry’s strategies, each once, the session cookie last', () => {
    const endpoints = configuredAuthzEndpoints({
      a: { implementation: 'AuthRequest', authn_strategies: [{ name: 'CookieSession' }] },
      b: { implementation: 'AuthRequest', authn_strategies: [{ name: 'HeaderProxyAuthorization' }, { name: 'HeaderAuthRequestProxyAuthorization' }] },
      c: { implementation: 'ForwardAuth', authn_strategies: [{ name: 'HeaderAuthorization' }, { name: 'CookieSession' }] },
    });
    assert.deepEqual(embeddedProxyStrategies(endpoints), [BASIC_IN_PROXY_AUTHORIZATION, BASIC_IN_AUTHORIZATION, SESSION_COOKIE]);
  });
});

describe('Bearer is read only where an endpoint lists it, and never skipped there', () => {
  const withBearer = authnStrategies([{ name: 'HeaderAuthorization', schemes: ['Basic', 'Bearer'] }, { name: 'CookieSession' }]);
  const bearerDeps = (verify?: NonNullable<DecideDeps['bearer']>['verify']): ReturnType<typeof deps> => ({ ...deps(), ...(verify ? { bearer: { verify } } : {}) });

  it('without schemes a header strategy reads Basic only: an app’s Bearer token passes to the next strategy', async () => {
    assert.deepEqual(authnStrategies([{ name: 'HeaderAuthorization' }, { name: 'CookieSession' }]), [BASIC_IN_AUTHORIZATION, SESSION_COOKIE]);
    assert.equal(who(await verdict({ authorization: 'Bearer x', cookie: 's=carol' }, DEFAULT_AUTHN_STRATEGIES)), 'carol');
  });

  it('listed, a Bearer token is judged, and no provider to check it against means refused with invalid_token', async () => {
    for (const value of ['Bearer abc', 'Bearer', 'bearer ', 'Bearer a b']) {
      const v = await verdict({ authorization: value, cookie: 's=carol' }, withBearer, bearerDeps());
      assert.deepEqual(v, { kind: 'bad-credentials', bearer: true }, value);
    }
  });

  it('a client token is an identity for the rules and none for the app; a user token is the user at its factors', async () => {
    const d = bearerDeps(async (token) =>
      token === 'cc' ? { kind: 'client', clientId: 'scripts' } : token === 'at' ? { kind: 'user', clientId: 'app', username: 'dave', amr: ['pwd'] } : null,
    );
    const client = await verdict({ authorization: 'Bearer cc' }, withBearer, d);
    assert.equal(client.kind, 'allow');
    assert.equal(client.kind === 'allow' && client.identity, null);
    assert.equal(who(await verdict({ authorization: 'Bearer at', cookie: 's=carol' }, withBearer, d)), 'dave');
    assert.deepEqual(await verdict({ authorization: 'Bearer nope', cookie: 's=carol' }, withBearer, d), { kind: 'bad-credentials', bearer: true });
    // two_factor with a one-factor token: a Bearer step-up challenge, not the portal
    d.authorizer = { defaultPolicy: 'two_factor', evaluate: () => ({ policy: 'two_factor', rule: -1, hasSubjects: false }), explain: () => [] };
    const weak = await verdict({ authorization: 'Bearer at' }, withBearer, d);
    assert.equal(weak.kind === 'login' && weak.challenge === 'bearer', true);
    // a token from a sign-in with a second factor passes it
    const strong = bearerDeps(async () => ({ kind: 'user', clientId: 'app', username: 'dave', amr: ['pwd', 'otp'] }));
    strong.authorizer = d.authorizer;
    assert.equal(who(await verdict({ authorization: 'Bearer at2' }, withBearer, strong)), 'dave');
  });

  it('a user removed or disabled since the token was issued: the token speaks for no one', async () => {
    const d = bearerDeps(async () => ({ kind: 'user', clientId: 'app', username: 'gone', amr: ['pwd'] }));
    d.users = { getDetails: async () => null, peekDetails: () => undefined };
    assert.deepEqual(await verdict({ authorization: 'Bearer at', cookie: 's=carol' }, withBearer, d), { kind: 'bad-credentials', bearer: true });
  });
});
