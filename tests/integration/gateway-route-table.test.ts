// The gateway's route table is the whole of the gateway: walked row by row against a real gateway, every
// guarded row refuses an anonymous request, every public row answers, and anything that is not a row is
// a 404 (or, for a method a row does not name, a 405).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describeGatewayRoutes, gatewayRouteTable, type GatewayRouteSummary } from '../../gateway/routes.ts';
import { DEFAULT_AUTHZ_ENDPOINTS } from '../../gateway/authz/authn-strategies.ts';
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.ts';
import { request, type HttpResponse } from '../helpers/http.ts';
import {
  askAuthz,
  BROWSER_ACCEPT,
  login,
  portal,
  PORTAL_ORIGIN,
  startInProcessGateway,
  type AuthzDialect,
  type InProcessGateway,
} from '../helpers/inprocess-gateway.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { clientDigest, testSigningKey } from '../helpers/oidc.ts';
import { upgradeStatus } from '../helpers/websocket-upgrade.ts';

const PASSWORD = 'correct horse battery staple';
const APP = 'app.example.test';
const NOT_FOUND = { status: 'KO', message: 'Not found.' };

/** The dialect each default forward-auth endpoint speaks: a new ACCESS_RULES row must be added here to be walked. */
const DIALECT_OF: Record<string, AuthzDialect> = {
  '/api/authz/auth-request': 'auth-request',
  '/api/authz/forward-auth': 'forward-auth',
  '/api/verify': 'legacy',
};

/** A row's methods as requests: GET rows answer HEAD too; ANY is tried with a safe and two unsafe methods. */
const methodsOf = (row: GatewayRouteSummary) => (row.method === 'ANY' ? ['GET', 'POST', 'DELETE'] : row.method === 'GET' ? ['GET', 'HEAD'] : [row.method]);

/**
 * The methods the specifications name for the provider's client- and token-checked endpoints (their
 * rows are ANY: oidc-provider answers the other methods itself, with its own 404).
 */
const OAUTH_METHODS: Record<string, string[]> = { '/api/oidc/userinfo': ['GET', 'POST'] };

/** A concrete path for a row: a `*` becomes a name. */
/** Rows that are HTML pages: a refused GET redirects instead of answering 403. */
const PAGE_ROWS = new Set(
  gatewayRouteTable({ authzEndpoints: DEFAULT_AUTHZ_ENDPOINTS, identityAssertion: true, upstreams: true, oidc: true })
    .filter((row) => 'page' in row && row.page === true)
    .map((row) => `${row.method} ${row.path}`),
);
const concrete = (path: string) => path.replace(/\*$/, 'portal.css');

/** Nothing a browser or a proxy would take as "let through": only a refusal or a way to the portal. */
function assertRefused(response: HttpResponse, what: string): void {
  assert.ok(response.status < 200 || response.status >= 300, `${what}: ${response.status} is a success`);
  if (response.status === 401 || response.status === 403) return;
  assert.ok([302, 303].includes(response.status), `${what}: ${response.status} is neither a refusal nor the way to the portal`);
  assert.equal(new URL(response.headers.location ?? '').origin, PORTAL_ORIGIN, `${what}: redirected elsewhere than the portal`);
}

describe('the gateway route table, walked against a real gateway', () => {
  // every row some configuration serves; the gateway below is configured to serve them all
  const ROWS = describeGatewayRoutes();
  let temp: { dir: string; cleanup: () => Promise<void> };
  let echo: EchoUpstream;
  let gw: InProcessGateway;

  before(async () => {
    temp = await makeTempDir('gatehouse-routes-');
    echo = await startEchoUpstream({ websocket: true });
    gw = await startInProcessGateway({
      dir: temp.dir,
      users: { alice: { password: PASSWORD, displayname: 'Alice', groups: ['dev'] } },
      config: {
        server: { upstreams: { [APP]: echo.url } },
        identity_assertion: { audiences: { [APP]: 'app' }, key_path: join(temp.dir, 'assertion-key.pem') },
        access_control: { default_policy: 'deny', rules: [{ domain: APP, policy: 'one_factor' }] },
        identity_providers: {
          oidc: {
            jwks: [{ key: testSigningKey() }],
            clients: [{ client_id: 'wiki', client_secret: await clientDigest('app-secret-that-is-long-enough-123'), redirect_uris: ['https://wiki.example.test/callback'], authorization_policy: 'one_factor' }],
          },
        },
      },
    });
  });
  after(async () => {
    await gw?.close();
    await echo?.close();
    await temp?.cleanup();
  });

  it('this configuration serves every row of the table (so the walk below covers them all)', () => {
    assert.deepEqual(describeGatewayRoutes(gw.config), ROWS);
    assert.ok(ROWS.some((row) => row.guard !== 'PUBLIC'));
  });

  describe('every guarded row refuses an anonymous request', () => {
    for (const row of ROWS.filter((r) => r.guard !== 'PUBLIC')) {
      it(`${row.method} ${row.path} (${row.guard}, ${row.hosts})`, async () => {
        const seenBefore = echo.requests.length;
        if (row.hosts === 'every-host') {
          const dialect = DIALECT_OF[row.path];
          assert.ok(dialect, `${row.path}: which dialect does it speak? Add it to DIALECT_OF`);
          for (const requestMethod of methodsOf(row)) {
            for (const accept of [BROWSER_ACCEPT, 'application/json']) {
              const response = await askAuthz(gw, dialect, `https://${APP}/page`, { requestMethod, headers: { accept } });
              assertRefused(response, `${requestMethod} ${row.path} (accept ${accept})`);
            }
          }
        } else if (row.hosts === 'upstream-hosts' && row.method === 'WS') {
          assert.equal(await upgradeStatus(gw.port, APP, '/socket', { 'x-forwarded-proto': 'https' }), 401);
        } else if (row.hosts === 'upstream-hosts') {
          for (const method of methodsOf(row)) {
            const response = await request(`http://${APP}:${gw.port}${concrete(row.path)}`, { method, headers: { accept: BROWSER_ACCEPT, 'x-forwarded-proto': 'https' } });
            assertRefused(response, `${method} ${row.path}`);
          }
        } else {
          for (const method of row.guard === 'CLIENT_AUTH' || row.guard === 'ACCESS_TOKEN' ? OAUTH_METHODS[row.path] ?? ['POST'] : methodsOf(row)) {
            const response = await portal(gw, concrete(row.path), { method, headers: { accept: 'application/json' } });
            if (PAGE_ROWS.has(`${row.method} ${row.path}`) && (method === 'GET' || method === 'HEAD')) {
              // a page row sends the browser to sign in, coming back to the page afterwards
              assert.equal(response.status, 303, `${method} ${row.path}: ${response.status}`);
              assert.match(response.headers.location ?? '', /^\/\?rd=https%3A%2F%2Fauth\.example\.test/, `${method} ${row.path}`);
              continue;
            }
            if (row.guard === 'CLIENT_AUTH' || row.guard === 'ACCESS_TOKEN') {
              // oidc-provider checks the client or the bearer token itself, and answers in OAuth's words
              assert.ok([400, 401].includes(response.status), `${method} ${row.path}: ${response.status}`);
              if (method !== 'HEAD') assert.match(response.json<{ error: string }>().error, /^invalid_(client|token|request)$/, `${method} ${row.path}: ${response.body}`);
              continue;
            }
            assert.ok([401, 403].includes(response.status), `${method} ${row.path}: ${response.status}`);
            if (method !== 'HEAD') assert.equal(response.json<{ status: string }>().status, 'KO');
          }
        }
        assert.equal(echo.requests.length, seenBefore, 'nothing reached the app');
      });
    }
  });

  describe('every public row answers (it is served, not the 404 of a path outside the table)', () => {
    for (const row of ROWS.filter((r) => r.guard === 'PUBLIC')) {
      it(`${row.method} ${row.path} (${row.hosts})`, async () => {
        const where = row.hosts === 'portal' ? `http://auth.example.test:${gw.port}` : gw.url;
        const response = await request(`${where}${concrete(row.path)}`, { method: row.method, headers: { 'x-forwarded-proto': 'https' } });
        assert.notEqual(response.status, 405, `${row.method} ${row.path}`);
        // GET /setup without its token is a 404 page of its own (the same as for a used link); a JSON row's
        // own 404 (an unknown revocation id) names what it did not find, never the table's `Not found.`
        if (response.status === 404) assert.notDeepEqual(/json/.test(response.headers['content-type'] ?? '') ? response.json() : null, { status: 'KO', message: 'Not found.' }, `${row.method} ${row.path}: ${response.body}`);
      });
    }
  });

  describe('anything that is not a row is refused', () => {
    it('a path or method outside the table on the portal host → 404 {status: KO, message: Not found.}', async () => {
      const outside: [string, string][] = [
        ['GET', '/api/nothing-here'],
        ['GET', '/login'], // only POST /login is a row
        ['PUT', '/api/state'],
        ['DELETE', '/'],
        ['POST', '/api/user/info'],
        ['GET', '/api/authz'],
        ['GET', '/admin'],
      ];
      for (const [method, path] of outside) {
        const response = await portal(gw, path, { method, headers: { origin: PORTAL_ORIGIN } });
        assert.equal(response.status, 404, `${method} ${path}`);
        assert.deepEqual(response.json(), NOT_FOUND, `${method} ${path}`);
      }
    });

    it('a method a plain-node row does not name → 405 with Allow, whatever the host', async () => {
      for (const path of ['/jwks.json', '/api/health', '/api/authz/forward-auth', '/api/authz/auth-request']) {
        const response = await request(`${gw.url}${path}`, { method: 'POST', body: '' });
        assert.equal(response.status, 405, path);
        assert.equal(response.headers.allow, 'GET, HEAD', path);
      }
    });

    it('a WebSocket upgrade anywhere but a proxied host → 404', async () => {
      assert.equal(await upgradeStatus(gw.port, 'auth.example.test', '/api/state'), 404);
    });
  });

  describe('a handler whose promise rejects (express 5 forwards it to the error handler)', () => {
    it('→ 500 {status: KO, message: Internal error.}; the error text is in the log, not the body', async () => {
      const cookie = await login(gw, 'alice', PASSWORD);
      // the cache answers from memory first (peekDetails): both ways of asking fail
      const users = gw.gateway.users as { getDetails: (username: string) => unknown; peekDetails?: (username: string) => unknown };
      const { getDetails, peekDetails } = users;
      users.getDetails = async () => {
        throw new Error('users backend exploded: secret-detail-7f3a');
      };
      users.peekDetails = () => undefined;
      try {
        for (const path of ['/api/state', '/api/user/info', '/']) {
          const response = await portal(gw, path, { headers: { cookie, accept: 'application/json' } });
          assert.equal(response.status, 500, path);
          assert.deepEqual(response.json(), { status: 'KO', message: 'Internal error.' }, path);
          assert.doesNotMatch(response.body, /secret-detail|exploded/, path);
        }
      } finally {
        users.getDetails = getDetails;
        users.peekDetails = peekDetails;
      }
      assert.match(gw.logText(), /portal: unexpected error/);
      assert.match(gw.logText(), /secret-detail-7f3a/);
    });
  });
});
