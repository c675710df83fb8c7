/**
 * The file backend's journeys with a directory instead (issue 12's "done when"): a gateway configured
 * with authentication_backend.ldap (`custom`) against a throwaway slapd, mailing through a real SMTP
 * server. The monitor (its route table and remote-user auth, tests/integration/monitor-auth-harness.ts)
 * sees the directory's users and groups through the gateway's headers and signed assertion; OpenID Connect claims
 * come from the directory; TOTP enrolment and the two_factor rule; a password reset by e-mail and a
 * change in settings set the DIRECTORY password (hashed by the directory, other sessions ended); a user
 * deleted from the directory loses access within refresh_interval.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Client } from 'ldapts';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { ScureBase32Plugin } from 'otplib';
import { requireBinary } from '../helpers/binaries.ts';
import { askAuthz, eventually, firstFactor, login, portal, PORTAL_ORIGIN } from '../helpers/inprocess-gateway.ts';
import { clientDigest, codeFlowStart, discover, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';
import { linkIn, mailTo, postForm, postJson, sessionCookie, startMailingGateway, waitFor, type MailingGateway } from '../helpers/self-service.ts';
import { asLdapRoot as asRoot, gatewayLdapConfig, giveServiceAccountSecret, LDAP_PASSWORDS, LDAP_SUFFIX, startSlapd, type Slapd } from '../helpers/slapd.ts';
import type { ReceivedMail } from '../helpers/smtp-server.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import type { HttpResponse } from '../helpers/http.ts';
import { startAuthServer, type AuthServer } from './monitor-auth-harness.ts';

const APP = 'https://app.example.test/';
const SECURE = 'https://secure.example.test/';
const MONITOR = 'https://monitor.example.test/';
const SETTINGS = 'https://auth.example.test/settings/password';
const REDIRECT = 'https://app.example.test/oauth2/callback';
const CLIENT_SECRET = 'app-secret-that-is-long-enough-123';
const aliceDn = `uid=alice,ou=people,${LDAP_SUFFIX}`;
const daveDn = `uid=dave,ou=people,${LDAP_SUFFIX}`;
/** What the dashboard's own page sends with a POST (the monitor refuses cross-site ones). */
const SAME_ORIGIN = { 'Sec-Fetch-Site': 'same-origin' };
const oathtool = requireBinary('oathtool', 'oathtool');

/** The TOTP code oathtool (an independent RFC 6238 implementation) computes for `secret` at `nowMs`. */
function oathCode(secret: Buffer, nowMs: number): string {
  const when = new Date(nowMs).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  return execFileSync(oathtool, ['--totp=sha1', '-d', '6', '-s', '30', '--now', when, secret.toString('hex')], { encoding: 'utf8' }).trim();
}

function codeIn(mail: ReceivedMail): string {
  const code = /(?:Your code|Tu código):\s*([A-Z0-9]+)/.exec(mail.text)?.[1];
  if (!code) throw new Error(`no code in: ${mail.text}`);
  return code;
}

/** Whether the directory itself accepts `password` for `dn` (a simple bind, not through the gateway). */
async function directoryBinds(url: string, dn: string, password: string): Promise<boolean> {
  const ldap = new Client({ url, timeout: 2_000 });
  try {
    await ldap.bind(dn, password);
    return true;
  } catch (error) {
    if ((error as { code?: number }).code === 49) return false; // invalidCredentials
    throw error;
  } finally {
    await ldap.unbind().catch(() => undefined);
  }
}

/** The userPassword values stored in the entry, read as root. */
async function storedPasswords(url: string, dn: string): Promise<string[]> {
  return asRoot(url, async (ldap) => {
    const { searchEntries } = await ldap.search(dn, { scope: 'base', attributes: ['userPassword'] });
    const value = searchEntries[0]?.userPassword;
    return (Array.isArray(value) ? value : value === undefined ? [] : [value]).map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v)));
  });
}

describe('the journeys with an LDAP directory (slapd) instead of the users file', () => {
  let slapd: Slapd;
  let m: MailingGateway;
  let monitor: AuthServer;
  let temp: { dir: string; cleanup: () => Promise<void> };
  let alicePassword: string = LDAP_PASSWORDS.alice;

  const api = (method: string, path: string, cookie: string, json?: unknown): Promise<HttpResponse> =>
    portal(m.gw, path, { method, headers: { cookie, origin: PORTAL_ORIGIN, accept: 'application/json' }, ...(json !== undefined ? { json } : {}) });

  /** Elevates the session `cookie` with the code mailed to `address`. */
  async function elevate(cookie: string, address: string): Promise<void> {
    const before = m.smtp.received.length;
    const sent = await postForm(m.gw, '/elevate/send', { rd: SETTINGS }, { cookie });
    assert.equal(sent.status, 303, sent.body);
    const code = codeIn(await waitFor('the one-time code', () => mailTo(m.smtp, address, before)[0]));
    const right = await postForm(m.gw, '/elevate', { rd: SETTINGS, code }, { cookie });
    assert.equal(right.status, 303, right.body);
  }

  before(async () => {
    slapd = await startSlapd();
    temp = await makeTempDir('gatehouse-ldap-journeys-');
    const servicePassword = await giveServiceAccountSecret(slapd);
    m = await startMailingGateway({
      users: {},
      config: {
        authentication_backend: {
          refresh_interval: '1m',
          ldap: gatewayLdapConfig(slapd, servicePassword),
        },
        access_control: {
          default_policy: 'deny',
          rules: [
            { domain: 'secure.example.test', policy: 'two_factor' },
            { domain: 'monitor.example.test', subject: [['group:admins'], ['group:dev']], policy: 'one_factor' },
            { domain: 'app.example.test', subject: ['group:dev'], policy: 'one_factor' },
          ],
        },
        identity_assertion: { audiences: { 'monitor.example.test': 'monitor' }, lifespan: '60s', key_path: join(temp.dir, 'assertion-key.pem') },
        identity_providers: {
          oidc: {
            jwks: [{ key: testSigningKey() }],
            claims_policies: { in_id_token: { id_token: ['preferred_username', 'name', 'email', 'groups'] } },
            clients: [
              {
                client_id: 'app',
                client_secret: await clientDigest(CLIENT_SECRET),
                redirect_uris: [REDIRECT],
                scopes: ['openid', 'profile', 'email', 'groups'],
                authorization_policy: 'one_factor',
                consent_mode: 'implicit',
                claims_policy: 'in_id_token',
              },
            ],
          },
        },
      },
    });
    monitor = await startAuthServer({
      config: {
        trusted_proxies: ['127.0.0.1/32'],
        remote_user: { group_scopes: { admins: 'full_admin' }, default_scope: 'read_only', assertion: { jwks_url: `${m.gw.url}/jwks.json`, audience: 'monitor' } },
      },
      assertionKeys: createRemoteJWKSet(new URL(`${m.gw.url}/jwks.json`)),
    });
    await monitor.setup();
  });
  after(async () => {
    await monitor?.close();
    await m?.close();
    await slapd?.cleanup();
    await temp?.cleanup();
  });

  /** What the gateway answers the proxy for `target`, and the identity headers the proxy passes on to the app. */
  async function throughGateway(cookie: string, target: string): Promise<{ answer: HttpResponse; identity: Record<string, string> }> {
    const answer = await askAuthz(m.gw, 'auth-request', target, { cookie });
    const identity: Record<string, string> = {};
    for (const name of ['Remote-User', 'Remote-Groups', 'Remote-Name', 'Remote-Email', 'Remote-Assertion']) {
      const value = answer.headers[name.toLowerCase()];
      if (typeof value === 'string') identity[name] = value;
    }
    return { answer, identity };
  }

  it("the monitor behind the gateway sees the directory's users and groups unchanged (Remote-Groups and the signed assertion)", async () => {
    const alice = await throughGateway(await login(m.gw, 'alice', alicePassword), MONITOR);
    assert.equal(alice.answer.status, 200, alice.answer.body);
    assert.equal(alice.identity['Remote-User'], 'alice');
    assert.deepEqual(alice.identity['Remote-Groups']!.split(',').sort(), ['admins', 'dev']);
    assert.equal(alice.identity['Remote-Name'], 'Alice Liddell');
    assert.equal(alice.identity['Remote-Email'], 'alice@example.test');
    const { payload } = await jwtVerify(alice.identity['Remote-Assertion']!, createRemoteJWKSet(new URL(`${m.gw.url}/jwks.json`)), { audience: 'monitor', issuer: 'https://auth.example.test', algorithms: ['ES256'] });
    assert.equal(payload.sub, 'alice');
    assert.deepEqual([...(payload.groups as string[])].sort(), ['admins', 'dev']);
    // the monitor: alice is in the directory's admins, so full_admin
    const seen = await monitor.send('/api/system', { headers: alice.identity });
    assert.equal(seen.status, 200, seen.body);
    assert.deepEqual(seen.json.identity, { username: 'alice', scope: 'full_admin', via: 'remote_user' });
    assert.equal(seen.json.headers['remote-groups'], alice.identity['Remote-Groups']);
    const ticket = await monitor.send('/api/terminal/ticket', { method: 'POST', json: {}, headers: { ...alice.identity, ...SAME_ORIGIN } });
    assert.equal(ticket.status, 200, ticket.body);
    assert.equal(ticket.json.for, 'alice');

    // dave is in dev only: read_only at the monitor, no terminal
    const dave = await throughGateway(await login(m.gw, 'dave', LDAP_PASSWORDS.dave), MONITOR);
    assert.equal(dave.answer.status, 200, dave.answer.body);
    assert.equal(dave.identity['Remote-Groups'], 'dev');
    const daveSeen = await monitor.send('/api/system', { headers: dave.identity });
    assert.deepEqual(daveSeen.json.identity, { username: 'dave', scope: 'read_only', via: 'remote_user' });
    assert.equal((await monitor.send('/api/terminal/ticket', { method: 'POST', json: {}, headers: { ...dave.identity, ...SAME_ORIGIN } })).status, 403);
    // dave's own assertion does not make him an admin by adding the group to the unsigned header
    assert.equal((await monitor.send('/api/terminal/ticket', { method: 'POST', json: {}, headers: { ...dave.identity, 'Remote-Groups': 'admins,dev', ...SAME_ORIGIN } })).status, 403);
  });

  it("OpenID Connect: the ID token and userinfo carry the directory's e-mail, name and groups", async () => {
    const config = await discover(m.gw.port, 'app', CLIENT_SECRET);
    const browser = new OidcBrowser(m.gw.port, await login(m.gw, 'alice', alicePassword));
    const start = await codeFlowStart(config, REDIRECT, 'openid profile email groups');
    const { leftTo, last } = await browser.visit(start.url.href);
    assert.ok(leftTo, `the flow never left the portal: ${last.status} ${last.headers.location ?? ''} ${last.body.slice(0, 300)}`);
    const tokens = await client.authorizationCodeGrant(config, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    const claims = tokens.claims()!;
    assert.equal(claims.preferred_username, 'alice');
    assert.equal(claims.name, 'Alice Liddell');
    assert.equal(claims.email, 'alice@example.test');
    assert.deepEqual([...(claims.groups as string[])].sort(), ['admins', 'dev']);
    const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
    assert.equal(info.preferred_username, 'alice');
    assert.equal(info.name, 'Alice Liddell');
    assert.equal(info.email, 'alice@example.test');
    assert.equal(info.email_verified, true);
    assert.deepEqual([...(info.groups as string[])].sort(), ['admins', 'dev']);
  });

  it('TOTP: alice (a directory user) enrols an authenticator app; the two_factor rule then needs its code, and passes with it', async () => {
    const clock = m.gw.clock;
    const step = () => clock.advance(30_000 - (clock.now() % 30_000) + 1_000);
    const first = await login(m.gw, 'alice', alicePassword);
    // nothing enrolled yet: the two_factor site is out of reach at one factor
    assert.notEqual((await askAuthz(m.gw, 'forward-auth', SECURE, { cookie: first })).status, 200);
    await elevate(first, 'alice@example.test');
    const started = await api('PUT', '/api/secondfactor/totp/register', first, { algorithm: 'SHA1', length: 6, period: 30 });
    assert.equal(started.status, 200, started.body);
    const secret = Buffer.from(new ScureBase32Plugin().decode(started.json<{ data: { base32_secret: string } }>().data.base32_secret));
    step();
    const finished = await api('POST', '/api/secondfactor/totp/register', first, { token: oathCode(secret, clock.now()) });
    assert.equal(finished.status, 200, finished.body);

    // a fresh sign-in: the password alone does not open the two_factor site
    step();
    const cookie = await login(m.gw, 'alice', alicePassword);
    const state = await api('GET', '/api/user/info', cookie);
    assert.equal(state.json<{ data: { has_totp: boolean } }>().data.has_totp, true, state.body);
    const refused = await askAuthz(m.gw, 'forward-auth', SECURE, { cookie });
    assert.notEqual(refused.status, 200);
    assert.equal((await askAuthz(m.gw, 'forward-auth', APP, { cookie })).status, 200, 'one factor is enough for the app');
    const wrong = await api('POST', '/api/secondfactor/totp', cookie, { token: oathCode(secret, clock.now() - 5 * 60_000) });
    assert.notEqual(wrong.status, 200);
    const passed = await api('POST', '/api/secondfactor/totp', cookie, { token: oathCode(secret, clock.now()) });
    assert.equal(passed.status, 200, passed.body);
    const twoFactors = sessionCookie(passed, cookie);
    const through = await askAuthz(m.gw, 'forward-auth', SECURE, { cookie: twoFactors });
    assert.equal(through.status, 200, through.body);
    assert.equal(through.headers['remote-user'], 'alice');

    // signed in by her e-mail address or in other letters, she is the directory's alice: the same
    // enrolled app is asked for, and the app sees her directory name
    for (const spelling of ['alice@example.test', 'ALICE']) {
      const other = await login(m.gw, spelling, alicePassword);
      const info = await api('GET', '/api/user/info', other);
      assert.equal(info.json<{ data: { has_totp: boolean } }>().data.has_totp, true, `${spelling}: ${info.body}`);
      assert.notEqual((await askAuthz(m.gw, 'forward-auth', SECURE, { cookie: other })).status, 200, `${spelling}: one factor opened the two_factor site`);
      const app = await askAuthz(m.gw, 'forward-auth', APP, { cookie: other });
      assert.equal(app.status, 200, spelling);
      assert.equal(app.headers['remote-user'], 'alice', spelling);
    }
  });

  it("a password reset through the e-mailed link sets the directory's password (hashed there) and ends alice's other sessions", async () => {
    const NEW_PASSWORD = 'Fresh-Quartz-Harbour-83';
    const other = await login(m.gw, 'alice', alicePassword);
    assert.equal((await portal(m.gw, '/api/user/info', { headers: { cookie: other } })).status, 200);
    const before = m.smtp.received.length;
    await postForm(m.gw, '/reset-password', { username: 'alice' });
    const mail = await waitFor('the reset mail', () => mailTo(m.smtp, 'alice@example.test', before).find((received) => received.text.includes('/reset-password/finish')));
    const link = linkIn(mail, '/reset-password/finish');
    const page = await portal(m.gw, `${link.pathname}${link.search}`);
    assert.equal(page.status, 200, page.body);
    const token = link.searchParams.get('token')!;
    const done = await postForm(m.gw, '/reset-password/finish', { token, password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    assert.equal(done.status, 200, done.body);
    assert.match(done.body, /Your password was changed/);
    // the directory itself: the new password binds, the old one does not, and what it stores is a hash
    assert.equal(await directoryBinds(slapd.url, aliceDn, NEW_PASSWORD), true);
    assert.equal(await directoryBinds(slapd.url, aliceDn, LDAP_PASSWORDS.alice), false);
    const stored = await storedPasswords(slapd.url, aliceDn);
    assert.equal(stored.length, 1, JSON.stringify(stored));
    assert.match(stored[0]!, /^\{[A-Z0-9.-]+\}/, 'a scheme-tagged hash');
    assert.ok(!stored[0]!.includes(NEW_PASSWORD), 'not the password in clear');
    // the gateway agrees, and the session from before the reset is over
    assert.equal((await firstFactor(m.gw, { username: 'alice', password: LDAP_PASSWORDS.alice })).status, 401);
    assert.equal((await firstFactor(m.gw, { username: 'alice', password: NEW_PASSWORD })).status, 200);
    alicePassword = NEW_PASSWORD;
    assert.equal((await portal(m.gw, '/api/user/info', { headers: { cookie: other } })).status, 403, 'the session from before the reset ended');
  });

  it('changing the password in settings changes the directory password; this session stays, the others end', async () => {
    const NEW_PASSWORD = 'Brand-New-Lantern-88';
    const other = await login(m.gw, 'dave', LDAP_PASSWORDS.dave);
    const cookie = await login(m.gw, 'dave', LDAP_PASSWORDS.dave);
    await elevate(cookie, 'dave@example.test');
    const wrongOld = await postForm(m.gw, '/settings/password', { old_password: 'not-the-password', new_password: NEW_PASSWORD, confirm: NEW_PASSWORD }, { cookie });
    assert.equal(wrongOld.status, 401);
    assert.equal(await directoryBinds(slapd.url, daveDn, LDAP_PASSWORDS.dave), true, 'a wrong old password changes nothing');
    const done = await postForm(m.gw, '/settings/password', { old_password: LDAP_PASSWORDS.dave, new_password: NEW_PASSWORD, confirm: NEW_PASSWORD }, { cookie });
    assert.equal(done.status, 200, done.body);
    assert.equal(await directoryBinds(slapd.url, daveDn, NEW_PASSWORD), true);
    assert.equal(await directoryBinds(slapd.url, daveDn, LDAP_PASSWORDS.dave), false);
    const stored = await storedPasswords(slapd.url, daveDn);
    assert.match(stored[0]!, /^\{[A-Z0-9.-]+\}/);
    assert.ok(!stored[0]!.includes(NEW_PASSWORD));
    assert.equal((await portal(m.gw, '/api/user/info', { headers: { cookie } })).status, 200, 'this session survives');
    assert.equal((await portal(m.gw, '/api/user/info', { headers: { cookie: other } })).status, 403, 'the other session ended');
    assert.equal((await firstFactor(m.gw, { username: 'dave', password: LDAP_PASSWORDS.dave })).status, 401);
    assert.equal((await firstFactor(m.gw, { username: 'dave', password: NEW_PASSWORD })).status, 200);
    // the JSON twin, still elevated
    const json = await postJson(m.gw, '/api/change-password', { old_password: NEW_PASSWORD, new_password: 'Second-New-Lantern-99' }, { cookie });
    assert.equal(json.status, 200, json.body);
    assert.equal(await directoryBinds(slapd.url, daveDn, 'Second-New-Lantern-99'), true);
  });

  it('a user deleted from the directory loses access once refresh_interval has passed', async () => {
    const cookie = await login(m.gw, 'bob', LDAP_PASSWORDS.bob);
    assert.equal((await askAuthz(m.gw, 'forward-auth', APP, { cookie })).status, 200);
    await asRoot(slapd.url, (ldap) => ldap.del(`uid=bob,ou=people,${LDAP_SUFFIX}`));
    // within refresh_interval the cached details still answer
    assert.equal((await askAuthz(m.gw, 'forward-auth', APP, { cookie })).status, 200);
    // past refresh_interval (1m), well within the session's inactivity (5m)
    m.gw.clock.advance(2 * 60_000);
    await eventually('bob refused the app after the refresh', async () => (await askAuthz(m.gw, 'forward-auth', APP, { cookie })).status !== 200);
    assert.equal((await portal(m.gw, '/api/user/info', { headers: { cookie } })).status, 403, 'the session is over');
    assert.equal((await firstFactor(m.gw, { username: 'bob', password: LDAP_PASSWORDS.bob })).status, 401);
  });
});
