/**
 * The OpenID Connect provider on two gateway instances sharing PostgreSQL (codes, tokens, grants,
 * provider sessions) and Redis (gateway sessions), with the same signing key and the same storage
 * encryption key (so the same derived hmac_secret): what one instance issued, the other honours; a
 * portal sign-out on one reaches the apps of sessions started on the other (back-channel logout); a
 * restarted instance keeps honouring refresh tokens issued before it went down.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { login, portal, PORTAL_ORIGIN, startInProcessGateway, writeUsersFile, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { clientDigest, codeFlowStart, discover, ISSUER, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { startRedis, type RedisServer } from '../helpers/redis.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const http = process.getBuiltinModule('node:http');

const REDIRECT = 'https://app.example.test/oauth2/callback';
const SECRET = 'app-secret-that-is-long-enough-123';
const PASSWORD = 'Old-Lantern-Orbit-47';
const SCOPE = 'openid profile email groups offline_access';

/** The app's back-channel logout endpoint: records every logout_token POSTed to /bc. */
interface Receiver {
  port: number;
  tokens: string[];
  /** Resolves with the `count`-th token (1-based) once it has arrived. */
  nth(count: number): Promise<string>;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const tokens: string[] = [];
  const waiting: Array<{ count: number; resolve: (token: string) => void }> = [];
  const server: Server = http.createServer((req: IncomingMessage, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const token = new URLSearchParams(body).get('logout_token');
      if (req.method === 'POST' && req.url === '/bc' && token) {
        tokens.push(token);
        for (const w of waiting.filter((w) => w.count <= tokens.length)) w.resolve(tokens[w.count - 1]!);
        res.writeHead(200).end();
      } else res.writeHead(400).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    tokens,
    nth: (count) => (tokens.length >= count ? Promise.resolve(tokens[count - 1]!) : new Promise((resolve) => waiting.push({ count, resolve }))),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Rejects after `ms` with what was awaited: a missing delivery fails the test instead of hanging it. */
function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

describe('OpenID Connect on two instances sharing PostgreSQL and Redis', () => {
  let database: TestDatabase;
  let redis: RedisServer;
  let temp: { dir: string; cleanup: () => Promise<void> };
  let receiver: Receiver;
  let config: Record<string, unknown>;
  let one: InProcessGateway;
  let two: InProcessGateway;

  before(async () => {
    [database, redis, temp, receiver] = await Promise.all([createTestDatabase(), startRedis(), makeTempDir('gatehouse-oidc-two-'), startReceiver()]);
    await writeUsersFile(`${temp.dir}/users.yml`, { alice: { password: PASSWORD, email: 'alice@example.test', displayname: 'Alice Liddell', groups: ['admins'] } });
    const { address, database: name, username, password } = database.options;
    config = {
      session: {
        secret: 'R8tYw3ZqLm6NpV2cXk9BhJ4dG7sFa5Ue-shared-by-both-instances',
        cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }],
        redis: { host: '127.0.0.1', port: redis.port },
      },
      storage: { local: undefined, postgres: { address, database: name, username, password, timeout: '5s' } },
      access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
      identity_providers: {
        oidc: {
          jwks: [{ key: testSigningKey() }],
          clients: [
            {
              client_id: 'app',
              client_name: 'The App',
              client_secret: await clientDigest(SECRET),
              redirect_uris: [REDIRECT],
              scopes: ['openid', 'profile', 'email', 'groups', 'offline_access'],
              grant_types: ['authorization_code', 'refresh_token'],
              authorization_policy: 'one_factor',
              consent_mode: 'implicit',
              backchannel_logout_uri: `http://127.0.0.1:${receiver.port}/bc`,
            },
          ],
        },
      },
    };
    one = await startInProcessGateway({ dir: temp.dir, config });
    two = await startInProcessGateway({ dir: temp.dir, config, clock: one.clock });
  });

  after(async () => {
    await one?.close();
    await two?.close();
    await receiver?.close();
    await redis?.stop();
    await database?.drop();
    await temp?.cleanup();
  });

  /** Signs alice in on `gw` (or reuses `cookie`), authorizes there, and returns the redirect with its code. */
  async function authorizeOn(gw: InProcessGateway, cookie?: string) {
    const session = cookie ?? (await login(gw, 'alice', PASSWORD));
    const start = await codeFlowStart(await discover(gw.port, 'app', SECRET), REDIRECT, SCOPE);
    const { leftTo, last } = await new OidcBrowser(gw.port, session).visit(start.url.href);
    assert.ok(leftTo, `the flow never left the portal: ${last.status} ${last.headers.location ?? ''} ${last.body.slice(0, 300)}`);
    return { cookie: session, leftTo, start };
  }

  it('a code issued by one instance is redeemed at the other', async () => {
    const { leftTo, start } = await authorizeOn(one);
    const atTwo = await discover(two.port, 'app', SECRET);
    const tokens = await client.authorizationCodeGrant(atTwo, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    const claims = tokens.claims()!;
    assert.equal(claims.iss, ISSUER);
    assert.equal(claims.aud, 'app');
    assert.deepEqual(claims.amr, ['pwd']);
    const info = await client.fetchUserInfo(atTwo, tokens.access_token, claims.sub);
    assert.equal(info.preferred_username, 'alice');
    // and the code is spent everywhere: the first instance refuses it too
    const atOne = await discover(one.port, 'app', SECRET);
    await assert.rejects(
      client.authorizationCodeGrant(atOne, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce }),
      (error: { error?: string }) => error.error === 'invalid_grant',
    );
  });

  it('a refresh token issued by one instance works once at the other', async () => {
    const { leftTo, start } = await authorizeOn(one);
    const atOne = await discover(one.port, 'app', SECRET);
    const atTwo = await discover(two.port, 'app', SECRET);
    const tokens = await client.authorizationCodeGrant(atOne, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    assert.ok(tokens.refresh_token);
    const refreshed = await client.refreshTokenGrant(atTwo, tokens.refresh_token);
    assert.ok(refreshed.refresh_token && refreshed.refresh_token !== tokens.refresh_token);
    assert.equal(refreshed.claims()?.sub, tokens.claims()?.sub);
    // rotation holds across instances: the spent token is refused by the one that issued it
    await assert.rejects(client.refreshTokenGrant(atOne, tokens.refresh_token), (error: { error?: string }) => error.error === 'invalid_grant');
  });

  it('a portal sign-out on the other instance reaches the apps of the session started on the first (back-channel logout)', async () => {
    const { cookie, leftTo, start } = await authorizeOn(one);
    const atOne = await discover(one.port, 'app', SECRET);
    const tokens = await client.authorizationCodeGrant(atOne, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    const sid = tokens.claims()!.sid;
    assert.equal(typeof sid, 'string', 'the ID token carries the provider session id (backchannel_logout_session_required)');
    const before = receiver.tokens.length;
    // the same gateway session cookie, signed out on the second instance (Redis holds the session)
    const out = await portal(two, '/api/logout', { method: 'POST', json: {}, headers: { cookie, origin: PORTAL_ORIGIN } });
    assert.equal(out.status, 200);
    const logoutToken = await within(5_000, 'the back-channel logout token', receiver.nth(before + 1));
    const claims = decodeJwt(logoutToken);
    assert.equal(claims.iss, ISSUER);
    assert.equal(claims.aud, 'app');
    assert.equal(claims.sid, sid);
    assert.equal(claims.sub, tokens.claims()!.sub);
    assert.ok(claims.events && typeof claims.events === 'object' && 'http://schemas.openid.net/event/backchannel-logout' in claims.events);
    // its grant is gone: the refresh token no longer works, on either instance
    await assert.rejects(client.refreshTokenGrant(atOne, tokens.refresh_token!), (error: { error?: string }) => error.error === 'invalid_grant');
  });

  it('a refresh token outlives a restart of the instance that issued it', async () => {
    const { leftTo, start } = await authorizeOn(one);
    const tokens = await client.authorizationCodeGrant(await discover(one.port, 'app', SECRET), leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    const clock = one.clock;
    await one.close();
    one = await startInProcessGateway({ dir: temp.dir, config, clock });
    const refreshed = await client.refreshTokenGrant(await discover(one.port, 'app', SECRET), tokens.refresh_token!);
    assert.ok(refreshed.access_token);
    assert.equal(refreshed.claims()?.sub, tokens.claims()?.sub);
  });
});
