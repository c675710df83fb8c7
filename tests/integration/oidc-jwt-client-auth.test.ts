/**
 * Clients that authenticate with a signed JWT instead of sending their secret: private_key_jwt (the
 * client's public key in its `jwks`, Authelia's PEM shape) and client_secret_jwt (a `$plaintext$`
 * secret, which the validator requires for it). A JWT signed with another key is refused.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import * as client from 'openid-client';
import { login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { codeFlowStart, discover, OidcBrowser, oauthError, testSigningKey } from '../helpers/oidc.ts';

const REDIRECT = 'https://app.example.test/oauth2/callback';
const PASSWORD = 'Old-Lantern-Orbit-47';
const SHARED = 'Qm7xT2vLp9RkW4zNc8HbJ3yFd6GsA1eU5oViXnMqZrYtCw0';
const clientKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const strangerKeys = generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** The private key as the WebCrypto key openid-client signs with. */
const cryptoKey = async (key: KeyObject): Promise<CryptoKey> => key.toCryptoKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);

describe('OpenID Connect: clients authenticating with a signed JWT', () => {
  let gw: InProcessGateway;
  before(async () => {
    const common = { redirect_uris: [REDIRECT], authorization_policy: 'one_factor', consent_mode: 'implicit' };
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD } },
      config: {
        access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
        identity_providers: {
          oidc: {
            jwks: [{ key: testSigningKey() }],
            clients: [
              { ...common, client_id: 'signer', token_endpoint_auth_method: 'private_key_jwt', jwks: [{ key_id: 'signer-1', algorithm: 'ES256', key: clientKeys.publicKey.export({ format: 'pem', type: 'spki' }).toString() }] },
              { ...common, client_id: 'sharer', token_endpoint_auth_method: 'client_secret_jwt', client_secret: `$plaintext$${SHARED}` },
            ],
          },
        },
      },
    });
  });
  after(() => gw?.close());

  async function codeFor(config: client.Configuration) {
    const browser = new OidcBrowser(gw.port, await login(gw, 'alice', PASSWORD));
    const start = await codeFlowStart(config, REDIRECT, 'openid');
    const { leftTo } = await browser.visit(start.url.href);
    assert.ok(leftTo?.searchParams.get('code'));
    return { leftTo: leftTo!, start };
  }

  it('private_key_jwt: a JWT signed with the registered key gets tokens; one signed with another key is refused', async () => {
    const good = await discover(gw.port, 'signer', undefined, client.PrivateKeyJwt({ key: await cryptoKey(clientKeys.privateKey), kid: 'signer-1' }));
    const { leftTo, start } = await codeFor(good);
    const tokens = await client.authorizationCodeGrant(good, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    assert.ok(tokens.access_token);

    const forged = await discover(gw.port, 'signer', undefined, client.PrivateKeyJwt({ key: await cryptoKey(strangerKeys.privateKey), kid: 'signer-1' }));
    const second = await codeFor(forged);
    await assert.rejects(client.authorizationCodeGrant(forged, second.leftTo, { pkceCodeVerifier: second.start.verifier, expectedState: second.start.state, expectedNonce: second.start.nonce }), oauthError('invalid_client'));
  });

  it('client_secret_jwt: an HS256 JWT made with the shared secret gets tokens; with a wrong secret it is refused', async () => {
    const good = await discover(gw.port, 'sharer', SHARED, client.ClientSecretJwt(SHARED));
    const { leftTo, start } = await codeFor(good);
    assert.ok((await client.authorizationCodeGrant(good, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce })).access_token);

    const wrong = await discover(gw.port, 'sharer', 'Hx8Tq2Lm5Zr9Wv3Nc7Kb1Yd4Fs6Gp0Ju8Ea2Io5Qt7Ux9Vz', client.ClientSecretJwt('Hx8Tq2Lm5Zr9Wv3Nc7Kb1Yd4Fs6Gp0Ju8Ea2Io5Qt7Ux9Vz'));
    const second = await codeFor(wrong);
    await assert.rejects(client.authorizationCodeGrant(wrong, second.leftTo, { pkceCodeVerifier: second.start.verifier, expectedState: second.start.state, expectedNonce: second.start.nonce }), oauthError('invalid_client'));
  });
});
