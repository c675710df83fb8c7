/**
 * The settings page's OpenID Connect apps: the apps the user is signed in to, the consents they asked
 * to be remembered, and revoking one (the form and the JSON API), which signs the user out of that app
 * everywhere: back-channel logout, its refresh tokens revoked, and it asks for consent again. The
 * section is shown only when identity_providers.oidc is configured, in both languages.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { login, portal, PORTAL_ORIGIN, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { clientDigest, codeFlowStart, discover, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';
import { checkLogoutToken, refreshWorks, signInTo, startLogoutReceiver, type LogoutReceiver } from '../helpers/oidc-logout.ts';

const SECRET = 'app-secret-that-is-long-enough-123';
const PASSWORD = 'Old-Lantern-Orbit-47';
const FORM = 'application/x-www-form-urlencoded';
const redirect = (name: string) => `https://${name}.example.test/oauth2/callback`;

async function oidcClient(name: string, receiver: LogoutReceiver, consent: Record<string, unknown>) {
  return {
    client_id: name,
    client_name: `The ${name}`,
    client_secret: await clientDigest(SECRET),
    redirect_uris: [redirect(name)],
    backchannel_logout_uri: receiver.uri(name),
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    grant_types: ['authorization_code', 'refresh_token'],
    authorization_policy: 'one_factor',
    ...consent,
  };
}

/** The code flow through the consent page, ticking "remember"; returns the tokens. */
async function signInWithConsent(browser: OidcBrowser, config: client.Configuration, redirectUri: string) {
  const start = await codeFlowStart(config, redirectUri, 'openid profile email offline_access');
  const { leftTo: notYet, last: page } = await browser.visit(start.url.href);
  assert.equal(notYet, null, 'the consent page is shown');
  const action = /<form method="post" action="([^"]*\/oidc\/interaction\/[^"]+)">/.exec(page.body);
  assert.ok(action, `no consent form in: ${page.status} ${page.body.slice(0, 3000)}`);
  assert.match(page.body, /name="remember"/);
  const { leftTo } = await browser.visit(action[1]!, { decision: 'accept', remember: 'on' });
  assert.ok(leftTo);
  const tokens = await client.authorizationCodeGrant(config, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
  return { tokens, claims: tokens.claims()! };
}

const settings = (gw: InProcessGateway, cookie: string, lang = 'en') => portal(gw, '/settings', { headers: { cookie, 'accept-language': lang } });
/** The text of the apps section (empty when absent). */
const appsSection = (html: string) => /<section aria-labelledby="apps-heading" id="apps">(.*?)<\/section>/s.exec(html)?.[1] ?? '';
const consentsPart = (html: string) => appsSection(html).split(/<h3>/)[1] ?? '';

describe('settings: OpenID Connect apps and remembered consents', () => {
  let gw: InProcessGateway;
  let receiver: LogoutReceiver;
  before(async () => {
    receiver = await startLogoutReceiver();
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD, email: 'alice@example.test' } },
      config: {
        access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
        identity_providers: {
          oidc: {
            jwks: [{ key: testSigningKey() }],
            clients: [
              await oidcClient('wiki', receiver, { consent_mode: 'pre-configured', pre_configured_consent_duration: '1w' }),
              await oidcClient('photos', receiver, { consent_mode: 'implicit' }),
              await oidcClient('notes', receiver, { consent_mode: 'pre-configured', pre_configured_consent_duration: '1w' }),
            ],
          },
        },
      },
    });
  });
  after(async () => {
    await gw?.close();
    await receiver?.close();
  });

  it('lists nothing before any app, in both languages', async () => {
    const cookie = await login(gw, 'alice', PASSWORD);
    const en = appsSection((await settings(gw, cookie)).body);
    assert.match(en, /Apps you are signed in to/);
    assert.match(en, /not signed in to any app/);
    assert.match(en, /No app has a remembered consent/);
    const es = appsSection((await settings(gw, cookie, 'es')).body);
    assert.match(es, /Aplicaciones en las que has entrado/);
    assert.match(es, /Consentimientos recordados/);
  });

  it('lists the apps and the remembered consent; revoking it signs the app out everywhere and it asks again', async () => {
    const wiki = await discover(gw.port, 'wiki', SECRET);
    const photos = await discover(gw.port, 'photos', SECRET);
    const cookie = await login(gw, 'alice', PASSWORD);
    const browser = new OidcBrowser(gw.port, cookie);
    const inWiki = await signInWithConsent(browser, wiki, redirect('wiki'));
    const inPhotos = await signInTo(browser, photos, redirect('photos'));

    const page = (await settings(gw, cookie)).body;
    assert.match(appsSection(page), /<li><strong>The wiki<\/strong><\/li>/);
    assert.match(appsSection(page), /<li><strong>The photos<\/strong><\/li>/);
    const consents = consentsPart(page);
    assert.match(consents, /The wiki/);
    assert.match(consents, /May read: profile, email, offline_access/);
    assert.doesNotMatch(consents, /The photos/, 'an implicit-consent app remembers nothing');
    assert.match(consents, /action="\/settings\/oidc\/consents\/wiki\/revoke"/);

    // a post from another site is refused
    const crossSite = await portal(gw, '/settings/oidc/consents/wiki/revoke', { method: 'POST', body: '', headers: { cookie, origin: 'https://evil.example', 'content-type': FORM } });
    assert.equal(crossSite.status, 403);

    const before = receiver.received.length;
    const revoked = await portal(gw, '/settings/oidc/consents/wiki/revoke', { method: 'POST', body: '', headers: { cookie, origin: PORTAL_ORIGIN, 'content-type': FORM } });
    assert.equal(revoked.status, 303);
    assert.equal(revoked.headers.location, '/settings?apps=revoked#apps');
    const delivered = receiver.received.slice(before);
    assert.deepEqual(delivered.map((d) => d.path), ['/logout/wiki'], 'only the wiki is told');
    await checkLogoutToken(gw.port, delivered[0]!.token, { clientId: 'wiki', idToken: inWiki.claims });
    assert.equal(await refreshWorks(wiki, inWiki.tokens.refresh_token!), false);
    assert.equal(await refreshWorks(photos, inPhotos.tokens.refresh_token!), true, 'the other app stays signed in');
    assert.ok(gw.logText().includes('oidc consent revoked'));

    const after = (await portal(gw, String(revoked.headers.location).split('#')[0]!, { headers: { cookie } })).body;
    assert.match(appsSection(after), /The consent was revoked/);
    assert.doesNotMatch(appsSection(after), /The wiki/);
    assert.match(appsSection(after), /The photos/);

    // the wiki asks for consent again, in the same gateway session
    await signInWithConsent(browser, wiki, redirect('wiki'));
  });

  it('the JSON API revokes a remembered consent; an unknown one is 404', async () => {
    const notes = await discover(gw.port, 'notes', SECRET);
    const cookie = await login(gw, 'alice', PASSWORD);
    const inNotes = await signInWithConsent(new OidcBrowser(gw.port, cookie), notes, redirect('notes'));
    const del = (clientId: string) => portal(gw, `/api/user/oidc/consents/${clientId}`, { method: 'DELETE', json: {}, headers: { cookie, origin: PORTAL_ORIGIN } });
    assert.equal((await del('notes')).status, 200);
    assert.equal(await refreshWorks(notes, inNotes.tokens.refresh_token!), false);
    assert.equal((await del('notes')).status, 404, 'already revoked');
    assert.equal((await del('photos')).status, 404, 'implicit consent is never remembered');
    assert.equal((await portal(gw, '/api/user/oidc/consents/notes', { method: 'DELETE', json: {}, headers: { origin: PORTAL_ORIGIN } })).status, 403, 'no session');
  });

  it('without identity_providers.oidc the settings page has no apps section and the rows do not exist', async () => {
    const plain = await startInProcessGateway({ users: { alice: { password: PASSWORD } }, config: { access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] } } });
    try {
      const cookie = await login(plain, 'alice', PASSWORD);
      const page = await settings(plain, cookie);
      assert.equal(page.status, 200);
      assert.match(page.body, /Signed-in sessions/);
      assert.doesNotMatch(page.body, /Apps you are signed in to/);
      const del = await portal(plain, '/api/user/oidc/consents/wiki', { method: 'DELETE', json: {}, headers: { cookie, origin: PORTAL_ORIGIN } });
      assert.equal(del.status, 404);
    } finally {
      await plain.close();
    }
  });
});
