import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { identityProvidersProblems, redirectUriProblem } from '../../../../gateway/config/validate/identity-providers.ts';
import { validateGatewayConfig } from '../../../../gateway/config/validate/index.ts';
import type { ConfigProblem } from '../../../../lib/config-problems.ts';
import { parsed } from './parsed.ts';

const DIGEST = '$pbkdf2-sha512$310000$c8p78n7pUMln0jzvd4aK4Q$JNRBzwAo0ek5qKn50cFzzvE9RXV88h1wJn5KGiHrD0YKtZaR/nCb2CJPOsKaPK0hjf.9yHxzQGZziziccp6Yng';
const AT = 'identity_providers.oidc.clients[0]';

function confidential(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { client_id: 'app', client_secret: DIGEST, redirect_uris: ['https://app.example.com/callback'], ...extra };
}

function problems(oidc: Record<string, unknown>): ConfigProblem[] {
  return identityProvidersProblems(parsed({ identity_providers: { oidc } }).identity_providers);
}

function clientProblems(clients: Record<string, unknown>[], oidc: Record<string, unknown> = {}): ConfigProblem[] {
  return problems({ ...oidc, clients }).filter((p) => p.path.startsWith('identity_providers.oidc.clients'));
}

describe('identity_providers.oidc', () => {
  it('absent: nothing to say', () => {
    assert.deepEqual(identityProvidersProblems(parsed({}).identity_providers), []);
  });

  it('a valid section has nothing to say', () => {
    assert.deepEqual(problems({ hmac_secret: 'x'.repeat(64), clients: [confidential()] }), []);
    assert.deepEqual(validateGatewayConfig(parsed({ identity_providers: { oidc: { clients: [confidential()] } } })).filter((p) => p.path.startsWith('identity_providers')), []);
  });

  it('the schema reads Authelia\'s keys and defaults', () => {
    const config = parsed({
      identity_providers: {
        oidc: {
          hmac_secret: 'h',
          jwks: [{ key_id: 'main', algorithm: 'RS256', key: '-----BEGIN PRIVATE KEY-----\n…' }],
          lifespans: { access_token: '2h', custom: { short: { access_token: '5m' } } },
          authorization_policies: { admins: { default_policy: 'deny', rules: [{ policy: 'two_factor', subject: 'group:admins' }] } },
          clients: [confidential({ lifespan: 'short', authorization_policy: 'admins' })],
        },
      },
    });
    const oidc = config.identity_providers!.oidc!;
    assert.equal(oidc.enforce_pkce, 'public_clients_only');
    assert.equal(oidc.enable_pkce_plain_challenge, false);
    assert.equal(oidc.lifespans.access_token, 7200);
    assert.equal(oidc.lifespans.authorize_code, 60);
    assert.equal(oidc.lifespans.refresh_token, 5400);
    assert.equal(oidc.lifespans.custom.short!.access_token, 300);
    assert.equal(oidc.jwks[0]!.use, 'sig');
    assert.deepEqual(oidc.authorization_policies.admins!.rules[0]!.subject, ['group:admins']);
    const client = oidc.clients[0]!;
    assert.deepEqual(client.scopes, ['openid', 'groups', 'profile', 'email']);
    assert.deepEqual(client.grant_types, ['authorization_code']);
    assert.deepEqual(client.response_types, ['code']);
    assert.equal(client.consent_mode, 'auto');
    assert.equal(client.public, false);
    assert.deepEqual(clientProblems(oidc.clients as never, { lifespans: { custom: { short: {} } }, authorization_policies: { admins: {} } }), []);
  });

  it('unknown keys are refused; Authelia keys Gatehouse does not read still load', () => {
    assert.throws(() => parsed({ identity_providers: { oidc: { clients: [confidential({ redirect_uri: 'https://typo.example.com' })] } } }));
    assert.throws(() => parsed({ identity_providers: { oidc: { hmac_secrets: 'x' } } }));
    const config = parsed({ identity_providers: { oidc: { enable_client_debug_messages: true, clients: [confidential({ jwks_uri: 'https://app.example.com/jwks', id_token_signed_response_key_id: 'k' })] } } });
    assert.equal(config.identity_providers!.oidc!.clients[0]!.client_id, 'app');
  });

  describe('redirect URIs', () => {
    for (const [uri, why] of [
      ['/callback', /is not an absolute URI/],
      ['https://*.example.com/callback', /has a wildcard/],
      ['https://app.example.com/*', /has a wildcard/],
      ['https://user:pw@app.example.com/callback', /has user info/],
      ['https://app.example.com/callback#x', /has a fragment/],
    ] as const) {
      it(`${uri} is refused`, () => {
        const [problem, ...rest] = clientProblems([confidential({ redirect_uris: [uri] })]);
        assert.equal(rest.length, 0);
        assert.equal(problem!.path, `${AT}.redirect_uris[0]`);
        assert.equal(problem!.severity, 'error');
        assert.match(problem!.message, why);
        assert.doesNotMatch(problem!.message, /pw@/);
      });
    }

    it('an app scheme and a loopback http URI are fine', () => {
      assert.equal(redirectUriProblem('com.example.app:/callback'), null);
      assert.equal(redirectUriProblem('http://127.0.0.1:8080/callback'), null);
    });

    it('post-logout redirect URIs follow the same rules', () => {
      const [problem] = clientProblems([confidential({ post_logout_redirect_uris: ['https://app.example.com/*'] })]);
      assert.equal(problem!.path, `${AT}.post_logout_redirect_uris[0]`);
    });

    it('back-channel logout URIs: http on a loopback or private address is fine (homelab apps); a fragment is refused', () => {
      for (const uri of ['http://127.0.0.1:9000/logout', 'http://192.168.1.20/oidc/backchannel', 'https://app.example.com/logout']) {
        assert.deepEqual(clientProblems([confidential({ backchannel_logout_uri: uri })]), [], uri);
      }
      const [problem] = clientProblems([confidential({ backchannel_logout_uri: 'https://app.example.com/logout#x' })]);
      assert.equal(problem!.path, `${AT}.backchannel_logout_uri`);
    });

    it('an authorization_code client without redirect URIs is refused', () => {
      const [problem] = clientProblems([confidential({ redirect_uris: [] })]);
      assert.equal(problem!.path, `${AT}.redirect_uris`);
      assert.match(problem!.message, /is empty/);
    });
  });

  describe('client secrets', () => {
    it('a confidential client without a secret is refused', () => {
      const [problem] = clientProblems([confidential({ client_secret: undefined })]);
      assert.deepEqual({ ...problem, message: undefined }, { path: `${AT}.client_secret`, message: undefined, severity: 'error' });
      assert.match(problem!.message, /confidential client needs one/);
    });

    it('a public client with a secret is refused', () => {
      const [problem] = clientProblems([confidential({ public: true })]);
      assert.equal(problem!.path, `${AT}.client_secret`);
      assert.equal(problem!.severity, 'error');
    });

    it('a public client must authenticate with none; none needs a public client', () => {
      assert.equal(clientProblems([confidential({ public: true, client_secret: undefined, token_endpoint_auth_method: 'client_secret_basic' })])[0]!.path, `${AT}.token_endpoint_auth_method`);
      assert.equal(clientProblems([confidential({ token_endpoint_auth_method: 'none' })])[0]!.path, `${AT}.token_endpoint_auth_method`);
      assert.deepEqual(clientProblems([confidential({ public: true, client_secret: undefined })]), []);
    });

    it('a secret that is not a known digest is refused, and the message never repeats it', () => {
      for (const secret of ['insecure_secret_value', '$pbkdf2-sha256$1$abc$def', '$2b$10$abcdefghijklmnopqrstuuinsecure']) {
        const [problem] = clientProblems([confidential({ client_secret: secret })]);
        assert.equal(problem!.path, `${AT}.client_secret`);
        assert.equal(problem!.severity, 'error');
        assert.match(problem!.message, /expected \$pbkdf2-sha512\$…, \$argon2id\$… or \$plaintext\$…/);
        assert.ok(!problem!.message.includes(secret), problem!.message);
        assert.ok(!problem!.message.includes('insecure'), problem!.message);
      }
    });

    it('$plaintext$ is accepted with a warning that does not repeat the secret', () => {
      const [problem, ...rest] = clientProblems([confidential({ client_secret: '$plaintext$insecure_secret' })]);
      assert.equal(rest.length, 0);
      assert.equal(problem!.severity, 'warning');
      assert.equal(problem!.path, `${AT}.client_secret`);
      assert.ok(!problem!.message.includes('insecure_secret'));
    });

    it('client_secret_jwt needs the secret itself', () => {
      const [problem] = clientProblems([confidential({ token_endpoint_auth_method: 'client_secret_jwt' })]);
      assert.equal(problem!.path, `${AT}.token_endpoint_auth_method`);
      assert.deepEqual(clientProblems([confidential({ token_endpoint_auth_method: 'client_secret_jwt', client_secret: '$plaintext$shared' })]), []);
    });
  });

  it('duplicate client ids are refused at the later one', () => {
    const [problem] = clientProblems([confidential(), confidential()]);
    assert.equal(problem!.path, 'identity_providers.oidc.clients[1].client_id');
    assert.match(problem!.message, /already the id/);
  });

  it('an authorization_policy naming no policy is refused; built-in and named ones are fine', () => {
    const [problem] = clientProblems([confidential({ authorization_policy: 'admins' })]);
    assert.equal(problem!.path, `${AT}.authorization_policy`);
    assert.match(problem!.message, /expected one of one_factor, two_factor$/);
    assert.deepEqual(clientProblems([confidential({ authorization_policy: 'admins' })], { authorization_policies: { admins: {} } }), []);
    assert.deepEqual(clientProblems([confidential({ authorization_policy: 'one_factor' })]), []);
  });

  it('consent_mode: an unknown value does not parse; pre-configured needs a duration', () => {
    assert.throws(() => parsed({ identity_providers: { oidc: { clients: [confidential({ consent_mode: 'sometimes' })] } } }));
    const [problem] = clientProblems([confidential({ consent_mode: 'pre-configured' })]);
    assert.equal(problem!.path, `${AT}.consent_mode`);
    assert.deepEqual(clientProblems([confidential({ consent_mode: 'pre-configured', pre_configured_consent_duration: '1w' })]), []);
    assert.equal(clientProblems([confidential({ consent_mode: 'explicit', pre_configured_consent_duration: '1w' })])[0]!.severity, 'warning');
  });

  it('pkce plain: refused, even with enable_pkce_plain_challenge (which is warned as having no effect)', () => {
    const [refused] = clientProblems([confidential({ pkce_challenge_method: 'plain' })]);
    assert.deepEqual({ path: refused!.path, severity: refused!.severity }, { path: `${AT}.pkce_challenge_method`, severity: 'error' });
    const all = problems({ clients: [confidential({ pkce_challenge_method: 'plain' })], enable_pkce_plain_challenge: true });
    assert.deepEqual(all.map((p) => [p.path, p.severity]), [
      ['identity_providers.oidc.enable_pkce_plain_challenge', 'warning'],
      [`${AT}.pkce_challenge_method`, 'error'],
    ]);
    assert.deepEqual(clientProblems([confidential({ pkce_challenge_method: 'S256' })]), []);
  });

  it('the device code grant, private_key_jwt without keys and HS-signed ID tokens with a digest are refused', () => {
    assert.equal(clientProblems([confidential({ grant_types: ['authorization_code', 'urn:ietf:params:oauth:grant-type:device_code'] })])[0]!.path, `${AT}.grant_types`);
    assert.equal(clientProblems([confidential({ token_endpoint_auth_method: 'private_key_jwt', client_secret: undefined })])[0]!.path, `${AT}.token_endpoint_auth_method`);
    assert.equal(clientProblems([confidential({ id_token_signed_response_alg: 'HS256' })])[0]!.path, `${AT}.id_token_signed_response_alg`);
    assert.deepEqual(clientProblems([confidential({ id_token_signed_response_alg: 'HS256', client_secret: '$plaintext$shared-secret' })]).filter((p) => p.severity === 'error'), []);
  });

  it('a lifespan or claims_policy naming nothing is refused', () => {
    assert.equal(clientProblems([confidential({ lifespan: 'short' })])[0]!.path, `${AT}.lifespan`);
    assert.equal(clientProblems([confidential({ claims_policy: 'cp' })])[0]!.path, `${AT}.claims_policy`);
  });

  describe('grant and response types that cannot work together', () => {
    for (const [name, extra, path, message] of [
      ['code without authorization_code', { grant_types: ['implicit'], response_types: ['code', 'id_token'] }, 'grant_types', /lacks authorization_code/],
      ['id_token without implicit', { response_types: ['code', 'code id_token'] }, 'grant_types', /lacks implicit/],
      ['authorization_code without a code response', { grant_types: ['authorization_code', 'implicit'], response_types: ['id_token'] }, 'response_types', /authorization_code grant can never start/],
      ['implicit without a token response', { grant_types: ['authorization_code', 'implicit'], response_types: ['code'] }, 'response_types', /implicit grant can never start/],
      ['refresh_token alone', { grant_types: ['refresh_token', 'client_credentials'], response_types: [] }, 'grant_types', /no grant would ever issue a refresh token/],
      ['client_credentials on a public client', { public: true, client_secret: undefined, grant_types: ['authorization_code', 'client_credentials'] }, 'grant_types', /public client cannot use/],
    ] as const) {
      it(name, () => {
        const found = clientProblems([confidential(extra)]);
        assert.equal(found.length, 1, JSON.stringify(found));
        assert.equal(found[0]!.path, `${AT}.${path}`);
        assert.equal(found[0]!.severity, 'error');
        assert.match(found[0]!.message, message);
      });
    }

    it('a client-credentials-only client needs no redirect URI', () => {
      assert.deepEqual(clientProblems([confidential({ grant_types: ['client_credentials'], response_types: [], redirect_uris: [] })]), []);
    });
  });

  it("Authelia's options Gatehouse does not read are named in a warning each; require_pushed_authorization_requests is read", () => {
    const found = problems({
      enable_client_debug_messages: true,
      require_pushed_authorization_requests: true,
      claims_policies: { cp: { id_token: ['email'], access_token: ['groups'] } },
      clients: [confidential({ request_uris: ['https://app.example.com/r'], require_pushed_authorization_requests: true, claims_policy: 'cp' })],
    });
    assert.deepEqual(found.map((p) => [p.path, p.severity]), [
      ['identity_providers.oidc.enable_client_debug_messages', 'warning'],
      [`${AT}.request_uris`, 'warning'],
      ['identity_providers.oidc.claims_policies.cp.access_token', 'warning'],
    ]);
    assert.equal(parsed({ identity_providers: { oidc: { clients: [confidential({ require_pushed_authorization_requests: true })] } } }).identity_providers!.oidc!.clients[0]!.require_pushed_authorization_requests, true);
  });
});

describe('a client with the authelia.bearer.authz scope (forward-auth tokens)', () => {
  const bearerClient = (extra: Record<string, unknown> = {}) => confidential({ scopes: ['openid', 'authelia.bearer.authz'], consent_mode: 'explicit', ...extra });
  const summary = (found: ConfigProblem[]) => found.map((p) => [p.path, p.severity]);

  it('with an audience of URLs: nothing to say', () => {
    assert.deepEqual(clientProblems([bearerClient({ audience: ['https://app.example.com', 'https://api.example.com/v1/'] })]), []);
  });

  it('without an audience its tokens would pass nowhere: an error', () => {
    assert.deepEqual(summary(clientProblems([bearerClient()])), [[`${AT}.audience`, 'error']]);
  });

  it('an audience entry that is no http(s) URL, or carries a query or fragment, is an error', () => {
    const found = clientProblems([bearerClient({ audience: ['app.example.com', 'ftp://app.example.com', 'https://app.example.com/?a=1', 'https://app.example.com/#x', 'https://app.example.com'] })]);
    assert.deepEqual(summary(found), [0, 1, 2, 3].map((i) => [`${AT}.audience[${i}]`, 'error']));
  });

  it('implicit consent is warned about (Authelia requires explicit)', () => {
    assert.deepEqual(summary(clientProblems([bearerClient({ audience: ['https://app.example.com'], consent_mode: 'implicit' })])), [[`${AT}.consent_mode`, 'warning']]);
  });

  it('a client without the scope may leave its audience empty', () => {
    assert.deepEqual(clientProblems([confidential()]), []);
  });

  it("lifespans for what Gatehouse does not serve warn; per-grant lifespans are refused (tokens could outlive them)", () => {
    const found = problems({
      lifespans: { device_code: '10m', jwt_secured_authorization: '1m', custom: { short: { device_code: '5m', grants: { client_credentials: { access_token: '1m' } } } } },
      clients: [confidential()],
    });
    assert.deepEqual(found.map(({ path, severity }) => [path, severity]), [
      ['identity_providers.oidc.lifespans.device_code', 'warning'],
      ['identity_providers.oidc.lifespans.jwt_secured_authorization', 'warning'],
      ['identity_providers.oidc.lifespans.custom.short.device_code', 'warning'],
      ['identity_providers.oidc.lifespans.custom.short.grants', 'error'],
    ]);
  });

  it('options Gatehouse does not honour yet: refused where ignoring them would accept more (a narrower response_modes), else a warning', () => {
    const found = problems({
      minimum_parameter_entropy: 8,
      jwks: [{ key: '-----BEGIN PRIVATE KEY-----\n…', certificate_chain: '-----BEGIN CERTIFICATE-----\n…' }],
      clients: [confidential({ response_modes: ['form_post'] }), confidential({ client_id: 'other', response_modes: ['form_post', 'query', 'fragment'] })],
    });
    assert.deepEqual(found.map(({ path, severity }) => [path, severity]), [
      ['identity_providers.oidc.jwks[0].certificate_chain', 'warning'],
      ['identity_providers.oidc.clients[0].response_modes', 'error'],
      ['identity_providers.oidc.clients[1].response_modes', 'warning'],
    ]);
    assert.match(found[1]!.message, /leaves out query, fragment, but Gatehouse cannot restrict/);
  });

  it('minimum_parameter_entropy: 8 (the default), 0 (= 8) and more say nothing; below 8, and -1 (off), are warned as weaker', () => {
    for (const entropy of [0, 8, 32]) assert.deepEqual(problems({ minimum_parameter_entropy: entropy, clients: [confidential()] }), [], String(entropy));
    for (const entropy of [-1, 1, 7]) {
      const found = problems({ minimum_parameter_entropy: entropy, clients: [confidential()] });
      assert.deepEqual(found.map(({ path, severity }) => [path, severity]), [['identity_providers.oidc.minimum_parameter_entropy', 'warning']], String(entropy));
    }
  });
});
