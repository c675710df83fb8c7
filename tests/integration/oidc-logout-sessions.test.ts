/**
 * Logout that ends everything, from the settings page and a new password: ending another session
 * signs out only the apps that session signed in to; "sign out everywhere" and a reset by e-mail sign
 * out the apps of every session; a password change those of every other session (back-channel logout
 * tokens, refresh tokens revoked).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { askAuthz, portal, PORTAL_ORIGIN, login, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { clientDigest, discover, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';
import { checkLogoutToken, refreshWorks, signInTo, startLogoutReceiver, type LogoutReceiver } from '../helpers/oidc-logout.ts';
import { linkIn, mailTo, postForm, postJson, startMailingGateway, USERS, waitFor, type MailingGateway } from '../helpers/self-service.ts';

const SECRET = 'app-secret-that-is-long-enough-123';
const PASSWORD = USERS.alice!.password;
const CHANGED = 'Changed-Copper-Lantern-58';
const redirect = (name: string) => `https://${name}.example.test/oauth2/callback`;

async function oidcClient(name: string, receiver: LogoutReceiver) {
  return {
    client_id: name,
    client_secret: await clientDigest(SECRET),
    redirect_uris: [redirect(name)],
    backchannel_logout_uri: receiver.uri(name),
    scopes: ['openid', 'profile', 'offline_access'],
    grant_types: ['authorization_code', 'refresh_token'],
    authorization_policy: 'one_factor',
    consent_mode: 'implicit',
  };
}

/** The id (hash) of the session holding `cookie`, as the settings page names it. */
async function sessionId(gw: InProcessGateway, cookie: string): Promise<string> {
  const answer = await portal(gw, '/api/user/sessions', { headers: { cookie } });
  const own = answer.json<{ data: { sessions: Array<{ id: string; current: boolean }> } }>().data.sessions.find((s) => s.current);
  assert.ok(own);
  return own.id;
}

/** The one logout token POSTed to `client` for the provider session `sid`. */
function tokenFor(delivered: Array<{ path: string; token: string }>, client: string, sid: unknown): string {
  const found = delivered.filter((r) => r.path === `/logout/${client}` && decodeJwt(r.token).sid === sid);
  assert.equal(found.length, 1, `one logout token to ${client} for that session; got ${found.length}`);
  return found[0]!.token;
}

describe('OpenID Connect logout from the settings page and a password reset', () => {
  let m: MailingGateway;
  let receiver: LogoutReceiver;
  before(async () => {
    receiver = await startLogoutReceiver();
    m = await startMailingGateway({
      config: {
        identity_providers: {
          oidc: { jwks: [{ key: testSigningKey() }], clients: [await oidcClient('wiki', receiver), await oidcClient('photos', receiver)] },
        },
      },
    });
  });
  after(async () => {
    await m?.close();
    await receiver?.close();
  });

  /** Two devices of alice's: the laptop signed in to the wiki, the phone to the photos. */
  async function twoDevices(password = PASSWORD) {
    const wiki = await discover(m.gw.port, 'wiki', SECRET);
    const photos = await discover(m.gw.port, 'photos', SECRET);
    const laptop = await login(m.gw, 'alice', password);
    const phone = await login(m.gw, 'alice', password);
    const onLaptop = await signInTo(new OidcBrowser(m.gw.port, laptop), wiki, redirect('wiki'));
    const onPhone = await signInTo(new OidcBrowser(m.gw.port, phone), photos, redirect('photos'));
    return { wiki, photos, laptop, phone, onLaptop, onPhone };
  }

  it('ending another session signs out only the apps that session signed in to', async () => {
    const d = await twoDevices();
    const before = receiver.received.length;
    const ended = await portal(m.gw, `/api/user/sessions/${await sessionId(m.gw, d.phone)}`, { method: 'DELETE', json: {}, headers: { cookie: d.laptop, origin: PORTAL_ORIGIN } });
    assert.equal(ended.status, 200);
    const delivered = receiver.received.slice(before);
    assert.deepEqual(delivered.map((r) => r.path), ['/logout/photos']);
    await checkLogoutToken(m.gw.port, delivered[0]!.token, { clientId: 'photos', idToken: d.onPhone.claims });
    assert.equal(await refreshWorks(d.photos, d.onPhone.tokens.refresh_token!), false);
    assert.equal(await refreshWorks(d.wiki, d.onLaptop.tokens.refresh_token!), true);
  });

  it('"sign out everywhere" signs out the apps of every session', async () => {
    const d = await twoDevices();
    const before = receiver.received.length;
    const ended = await portal(m.gw, '/api/user/sessions', { method: 'DELETE', json: {}, headers: { cookie: d.laptop, origin: PORTAL_ORIGIN } });
    assert.equal(ended.status, 200);
    // the earlier test's laptop session (signed in to the wiki) ends too: one token per provider session
    const delivered = receiver.received.slice(before);
    await checkLogoutToken(m.gw.port, tokenFor(delivered, 'wiki', d.onLaptop.claims.sid), { clientId: 'wiki', idToken: d.onLaptop.claims });
    await checkLogoutToken(m.gw.port, tokenFor(delivered, 'photos', d.onPhone.claims.sid), { clientId: 'photos', idToken: d.onPhone.claims });
    assert.equal(await refreshWorks(d.photos, d.onPhone.tokens.refresh_token!), false);
    assert.equal(await refreshWorks(d.wiki, d.onLaptop.tokens.refresh_token!), false);
  });

  it('a password change signs out the apps of the other sessions; the session that changed it keeps its own', async () => {
    const d = await twoDevices();
    // the change needs an elevated session: a code mailed to alice
    const mailsBefore = m.smtp.received.length;
    assert.equal((await postJson(m.gw, '/api/user/session/elevation', {}, { cookie: d.laptop })).status, 200);
    const mail = await waitFor('the code', () => mailTo(m.smtp, 'alice@example.test', mailsBefore)[0]);
    const code = /Your code:\s*([A-Z0-9]+)/.exec(mail.text)?.[1];
    assert.ok(code, mail.text);
    assert.equal((await postJson(m.gw, '/api/user/session/elevation', { otc: code }, { cookie: d.laptop }, 'PUT')).status, 200);
    const before = receiver.received.length;
    const changed = await postJson(m.gw, '/api/change-password', { old_password: PASSWORD, new_password: CHANGED }, { cookie: d.laptop });
    assert.equal(changed.status, 200, changed.body);
    const delivered = receiver.received.slice(before);
    await checkLogoutToken(m.gw.port, tokenFor(delivered, 'photos', d.onPhone.claims.sid), { clientId: 'photos', idToken: d.onPhone.claims });
    assert.ok(!delivered.some((r) => decodeJwt(r.token).sid === d.onLaptop.claims.sid), "the changing session's app is not told");
    assert.equal(await refreshWorks(d.photos, d.onPhone.tokens.refresh_token!), false);
    assert.equal(await refreshWorks(d.wiki, d.onLaptop.tokens.refresh_token!), true);
  });

  // last: it changes alice's password
  it('a password reset by e-mail signs out the apps of every session', async () => {
    const d = await twoDevices(CHANGED);
    const mailsBefore = m.smtp.received.length;
    await postForm(m.gw, '/reset-password', { username: 'alice' });
    const mail = await waitFor('the reset mail', () => mailTo(m.smtp, 'alice@example.test', mailsBefore)[0]);
    const token = linkIn(mail, '/reset-password/finish').searchParams.get('token')!;
    const before = receiver.received.length;
    const fresh = 'Fresh-Quartz-Harbour-83';
    const done = await postForm(m.gw, '/reset-password/finish', { token, password: fresh, confirm: fresh });
    assert.equal(done.status, 200);
    const delivered = receiver.received.slice(before);
    await checkLogoutToken(m.gw.port, tokenFor(delivered, 'wiki', d.onLaptop.claims.sid), { clientId: 'wiki', idToken: d.onLaptop.claims });
    await checkLogoutToken(m.gw.port, tokenFor(delivered, 'photos', d.onPhone.claims.sid), { clientId: 'photos', idToken: d.onPhone.claims });
    assert.equal(await refreshWorks(d.photos, d.onPhone.tokens.refresh_token!), false);
    assert.equal(await refreshWorks(d.wiki, d.onLaptop.tokens.refresh_token!), false);
    assert.notEqual((await askAuthz(m.gw, 'forward-auth', 'https://app.example.test/', { cookie: d.laptop })).status, 200);
  });
});
