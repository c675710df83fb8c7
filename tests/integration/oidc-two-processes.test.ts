/**
 * The OpenID Connect provider on two gateway processes (`gatehouse gateway`, as systemd or Docker run
 * it) started from one config file: PostgreSQL holds codes, tokens, grants and provider sessions, Redis
 * the gateway sessions, and both have the same signing key and storage encryption key (so the same
 * derived hmac_secret). What one process issued, the other honours; a sign-out on one reaches the apps
 * of sessions started on the other (back-channel logout); a restarted process keeps honouring refresh
 * tokens issued before it went down.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { stringify } from 'yaml';
import { startGatewayProcess, type GatewayProcess } from '../helpers/gateway.ts';
import { askAuthz, eventually, FAST_ARGON2, login, portal, PORTAL_ORIGIN, writeUsersFile } from '../helpers/inprocess-gateway.ts';
import { clientDigest, codeFlowStart, discover, oauthError, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';
import { checkLogoutToken, signInTo, startLogoutReceiver, type LogoutReceiver } from '../helpers/oidc-logout.ts';
import { freePort } from '../helpers/ports.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { startRedis, type RedisServer } from '../helpers/redis.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const REDIRECT = 'https://app.example.test/oauth2/callback';
const SECRET = 'app-secret-that-is-long-enough-123';
const PASSWORD = 'Old-Lantern-Orbit-47';
const TARGET = 'https://app.example.test/';

describe('OpenID Connect on two gateway processes sharing PostgreSQL and Redis', () => {
  let database: TestDatabase;
  let redis: RedisServer;
  let temp: { dir: string; cleanup: () => Promise<void> };
  let receiver: LogoutReceiver;
  let configYaml: string;
  let ports: { a: number; b: number };
  let a: GatewayProcess;
  let b: GatewayProcess;

  /** Process A or B from the one config file, on its own port. */
  const start = (port: number) => startGatewayProcess({ dir: temp.dir, configYaml, port });
  /** Both processes' output, for a failure message. */
  const logs = () => `--- A ---\n${a?.logs() ?? ''}\n--- B ---\n${b?.logs() ?? ''}`;

  before(async () => {
    [database, redis, temp, receiver] = await Promise.all([createTestDatabase(), startRedis(), makeTempDir('gatehouse-oidc-processes-'), startLogoutReceiver()]);
    ports = { a: await freePort(), b: await freePort() };
    await writeUsersFile(join(temp.dir, 'users.yml'), { alice: { password: PASSWORD, email: 'alice@example.test', displayname: 'Alice Liddell', groups: ['admins'] } });
    const { address, database: name, username, password } = database.options;
    configYaml = stringify({
      log: { level: 'info' },
      authentication_backend: { file: { path: join(temp.dir, 'users.yml'), password: { argon2: FAST_ARGON2 } } },
      session: {
        secret: 'R8tYw3ZqLm6NpV2cXk9BhJ4dG7sFa5Ue-shared-by-both-processes',
        cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }],
        redis: { host: '127.0.0.1', port: redis.port },
      },
      storage: { encryption_key: 'a-storage-encryption-key-shared-by-both', postgres: { address, database: name, username, password, timeout: '5s' } },
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
              backchannel_logout_uri: receiver.uri('app'),
            },
          ],
        },
      },
    });
    // one after the other: the first migrates the new database, and each reads the file the other writes
    a = await start(ports.a);
    b = await start(ports.b);
    assert.notEqual(a.pid, b.pid);
  });

  after(async () => {
    await a?.stop();
    await b?.stop();
    await receiver?.close();
    await redis?.stop();
    await database?.drop();
    await temp?.cleanup();
  });

  /** Refreshes and returns the new refresh token, or the OAuth error code. */
  async function refresh(at: client.Configuration, token: string): Promise<{ next: string } | { error: string }> {
    try {
      const tokens = await client.refreshTokenGrant(at, token);
      assert.ok(tokens.refresh_token && tokens.refresh_token !== token, 'a new refresh token (rotation)');
      return { next: tokens.refresh_token };
    } catch (error) {
      const code = (error as { error?: string }).error;
      assert.equal(typeof code, 'string', `not an OAuth error: ${String(error)}\n${logs()}`);
      return { error: code! };
    }
  }

  /** The logout tokens received so far for the provider session `sid`. */
  const tokensForSid = (sid: unknown) => receiver.tokensFor('app').filter((token) => decodeJwt(token).sid === sid);

  it('a code issued by one process is redeemed at the other, its refresh tokens work at either, and a replay of the code at the first revokes them', async () => {
    const atA = await discover(a.port, 'app', SECRET);
    const atB = await discover(b.port, 'app', SECRET);
    const cookie = await login(a, 'alice', PASSWORD);
    const flow = await codeFlowStart(atA, REDIRECT, 'openid profile email groups offline_access');
    const { leftTo, last } = await new OidcBrowser(a.port, cookie).visit(flow.url.href);
    assert.ok(leftTo, `the flow never left the portal: ${last.status} ${last.body.slice(0, 300)}\n${logs()}`);
    const checks = { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce };

    const tokens = await client.authorizationCodeGrant(atB, leftTo, checks);
    const claims = tokens.claims()!;
    assert.equal(claims.aud, 'app');
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal((await client.fetchUserInfo(atB, tokens.access_token, claims.sub)).preferred_username, 'alice');

    // its refresh token works at B, and the one B returns works at A
    const atBRefresh = await refresh(atB, tokens.refresh_token!);
    assert.ok('next' in atBRefresh, `${JSON.stringify(atBRefresh)}\n${logs()}`);
    const atARefresh = await refresh(atA, atBRefresh.next);
    assert.ok('next' in atARefresh, `${JSON.stringify(atARefresh)}\n${logs()}`);

    // the code is spent everywhere: the process that issued it refuses it now, and the replay revokes
    // what was issued from it (RFC 6749 §4.1.2) at the other process too
    await assert.rejects(client.authorizationCodeGrant(atA, leftTo, checks), oauthError('invalid_grant'));
    assert.deepEqual(await refresh(atB, atARefresh.next), { error: 'invalid_grant' });
  });

  it('a sign-out on B reaches the app of the session started on A, not the other; "sign out everywhere" on A ends both', async () => {
    const atA = await discover(a.port, 'app', SECRET);
    const atB = await discover(b.port, 'app', SECRET);
    const onA = await login(a, 'alice', PASSWORD);
    const onB = await login(b, 'alice', PASSWORD);
    const appOnA = await signInTo(new OidcBrowser(a.port, onA), atA, REDIRECT);
    const appOnB = await signInTo(new OidcBrowser(b.port, onB), atB, REDIRECT);
    assert.notEqual(appOnA.claims.sid, appOnB.claims.sid, 'two provider sessions');

    // the session started on A, signed out through B (Redis holds it, PostgreSQL its provider session)
    const out = await portal(b, '/api/logout', { method: 'POST', json: {}, headers: { cookie: onA, origin: PORTAL_ORIGIN } });
    assert.equal(out.status, 200, out.body);
    await eventually('the back-channel logout for the session started on A', () => tokensForSid(appOnA.claims.sid).length > 0, 5_000);
    await checkLogoutToken(b.port, tokensForSid(appOnA.claims.sid)[0]!, { clientId: 'app', idToken: appOnA.claims });
    assert.deepEqual(await refresh(atA, appOnA.tokens.refresh_token!), { error: 'invalid_grant' });
    assert.equal((await askAuthz(a, 'auth-request', TARGET, { cookie: onA })).status, 401, 'the session is gone on A too');
    // the session started on B keeps its app (and its tokens) and its sign-in
    assert.equal(tokensForSid(appOnB.claims.sid).length, 0, 'the other session was not logged out of its app');
    const kept = await refresh(atA, appOnB.tokens.refresh_token!);
    assert.ok('next' in kept, `the other session's refresh token still works: ${JSON.stringify(kept)}`);
    assert.equal((await askAuthz(a, 'auth-request', TARGET, { cookie: onB })).status, 200);

    // a second session on A, then "sign out everywhere" from B's session through A: both end
    const againOnA = await login(a, 'alice', PASSWORD);
    const appAgainOnA = await signInTo(new OidcBrowser(a.port, againOnA), atA, REDIRECT);
    const all = await portal(a, '/api/user/sessions', { method: 'DELETE', json: {}, headers: { cookie: onB, origin: PORTAL_ORIGIN } });
    assert.equal(all.status, 200, all.body);
    await eventually(
      'the back-channel logouts of both sessions',
      () => tokensForSid(appOnB.claims.sid).length > 0 && tokensForSid(appAgainOnA.claims.sid).length > 0,
      5_000,
    );
    await checkLogoutToken(a.port, tokensForSid(appOnB.claims.sid)[0]!, { clientId: 'app', idToken: appOnB.claims });
    await checkLogoutToken(a.port, tokensForSid(appAgainOnA.claims.sid)[0]!, { clientId: 'app', idToken: appAgainOnA.claims });
    // one token per provider session, ever: the first sign-out told nobody else, and an ended session is not told twice
    assert.equal(tokensForSid(appOnB.claims.sid).length, 1);
    assert.equal(tokensForSid(appAgainOnA.claims.sid).length, 1);
    assert.equal(tokensForSid(appOnA.claims.sid).length, 1);
    assert.deepEqual(await refresh(atB, kept.next), { error: 'invalid_grant' });
    assert.deepEqual(await refresh(atB, appAgainOnA.tokens.refresh_token!), { error: 'invalid_grant' });
    for (const [gw, cookie] of [[a, onB], [b, onB], [a, againOnA], [b, againOnA]] as const) {
      assert.equal((await askAuthz(gw, 'auth-request', TARGET, { cookie })).status, 401, `signed out on ${gw === a ? 'A' : 'B'}`);
    }
  });

  it('a refresh token outlives a restart of the process that issued it, and works only once across processes', async () => {
    const atA = await discover(a.port, 'app', SECRET);
    const cookie = await login(a, 'alice', PASSWORD);
    const { tokens, claims } = await signInTo(new OidcBrowser(a.port, cookie), atA, REDIRECT);
    const first = a;
    await first.stop();
    assert.deepEqual(await first.exited, { code: 0, signal: null }, first.logs());
    a = await start(ports.a);
    assert.notEqual(a.pid, first.pid, 'a new process');
    const again = await client.refreshTokenGrant(await discover(a.port, 'app', SECRET), tokens.refresh_token!);
    assert.equal(again.claims()?.sub, claims.sub);
    assert.ok(again.access_token && again.refresh_token);
    // rotation holds across processes: the spent token is refused at B, and that reuse revokes the grant
    // (the token A just returned stops working as well)
    const atB = await discover(b.port, 'app', SECRET);
    assert.deepEqual(await refresh(atB, tokens.refresh_token!), { error: 'invalid_grant' });
    assert.deepEqual(await refresh(atB, again.refresh_token), { error: 'invalid_grant' });
    // and the gateway session (in Redis) survived it too
    assert.equal((await askAuthz(a, 'auth-request', TARGET, { cookie })).status, 200);
  });
});
