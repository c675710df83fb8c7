/**
 * identity_providers.oidc.cors: a browser application on another origin may call the endpoints listed
 * in `cors.endpoints`, from the origins in `allowed_origins`; anywhere else the answer carries no
 * Access-Control-Allow-Origin, so the browser keeps it from the page.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { portal, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { clientDigest, testSigningKey } from '../helpers/oidc.ts';

const SECRET = 'Qm7xT2vLp9RkW4zNc8HbJ3yFd6GsA1eU5oViXnMqZrYtCw0';
const SPA = 'https://spa.example.test';

describe('OpenID Connect CORS follows cors.endpoints and cors.allowed_origins', () => {
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({
      config: {
        access_control: { default_policy: 'one_factor' },
        identity_providers: {
          oidc: {
            jwks: [{ key: testSigningKey() }],
            cors: { endpoints: ['token'], allowed_origins: [SPA] },
            clients: [{ client_id: 'script', client_secret: await clientDigest(SECRET), grant_types: ['client_credentials'], response_types: [], scopes: ['groups'], redirect_uris: [] }],
          },
        },
      },
    });
  });
  after(() => gw?.close());

  const call = (path: string, origin: string) =>
    portal(gw, path, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'groups' }).toString(),
      headers: { origin, 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`script:${SECRET}`).toString('base64')}` },
    });

  it('the token endpoint, from an allowed origin: allowed', async () => {
    const answer = await call('/api/oidc/token', SPA);
    assert.equal(answer.status, 200, answer.body);
    assert.equal(answer.headers['access-control-allow-origin'], SPA);
  });

  it('the token endpoint, from another origin: no CORS header', async () => {
    const answer = await call('/api/oidc/token', 'https://evil.example.test');
    assert.equal(answer.headers['access-control-allow-origin'], undefined);
  });

  it('an endpoint not in cors.endpoints (introspection), even from the allowed origin: no CORS header', async () => {
    const answer = await call('/api/oidc/introspection', SPA);
    assert.equal(answer.headers['access-control-allow-origin'], undefined);
  });
});
