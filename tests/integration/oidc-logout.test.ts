/**
 * Logout that ends everything, seen from the relying parties: an RP-initiated logout (end_session with
 * id_token_hint, post_logout_redirect_uri and state) asks the user, then ends the gateway session too;
 * a portal sign-out tells every client that got a code in that session (back-channel logout tokens,
 * checked as a relying party checks them) and revokes their refresh tokens, and leaves the user's other
 * sessions' clients alone.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { askAuthz, login, portal, PORTAL_ORIGIN, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { clientDigest, discover, ISSUER, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';
import { checkLogoutToken, refreshWorks, signInTo, startLogoutReceiver, type LogoutReceiver } from '../helpers/oidc-logout.ts';

const SECRET = 'app-secret-that-is-long-enough-123';
const PASSWORD = 'Old-Lantern-Orbit-47';
const redirect = (name: string) => `https://${name}.example.test/oauth2/callback`;
const afterLogout = (name: string) => `https://${name}.example.test/signed-out`;

async function oidcClient(name: string, receiver: LogoutReceiver) {
  return {
    client_id: name,
    client_name: `The ${name}`,
    client_secret: await clientDigest(SECRET),
    redirect_uris: [redirect(name)],
    post_logout_redirect_uris: [afterLogout(name)],
    backchannel_logout_uri: receiver.uri(name),
    scopes: ['openid', 'profile', 'offline_access'],
    grant_types: ['authorization_code', 'refresh_token'],
    authorization_policy: 'one_factor',
    consent_mode: 'implicit',
  };
}

/** The xsrf value of oidc-provider's logout form in a confirmation page. */
function logoutXsrf(html: string): string {
  const form = /<form id="op\.logoutForm" method="post" action="([^"]+)">(.*?)<\/form>/s.exec(html);
  assert.ok(form, `no logout form in: ${html.slice(0, 400)}`);
  const xsrf = /name="xsrf" value="([^"]+)"/.exec(form[2]!);
  assert.ok(xsrf);
  return xsrf[1]!;
}

const allowed = (gw: InProcessGateway, cookie: string) => askAuthz(gw, 'forward-auth', 'https://app.example.test/', { cookie });

describe('OpenID Connect logout', () => {
  let gw: InProcessGateway;
  let receiver: LogoutReceiver;
  before(async () => {
    receiver = await startLogoutReceiver();
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD, email: 'alice@example.test' } },
      config: {
        access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
        identity_providers: {
          oidc: { jwks: [{ key: testSigningKey() }], clients: [await oidcClient('wiki', receiver), await oidcClient('photos', receiver), await oidcClient('notes', receiver)] },
        },
      },
    });
  });
  after(async () => {
    await gw?.close();
    await receiver?.close();
  });

  describe('RP-initiated logout', () => {
    it('an unregistered post_logout_redirect_uri is refused', async () => {
      const config = await discover(gw.port, 'wiki', SECRET);
      const cookie = await login(gw, 'alice', PASSWORD);
      const browser = new OidcBrowser(gw.port, cookie);
      const { idToken } = await signInTo(browser, config, redirect('wiki'));
      const url = client.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: 'https://evil.example.test/', state: 's1' });
      const { leftTo, last } = await browser.visit(url.href);
      assert.equal(leftTo, null);
      assert.equal(last.status, 400);
      assert.match(last.body, /could not be completed/);
      assert.equal((await allowed(gw, cookie)).status, 200, 'a refused logout ends nothing');
    });

    it('asks in the request language, then ends the provider and gateway sessions, tells the client and revokes its refresh token', async () => {
      const config = await discover(gw.port, 'wiki', SECRET);
      const cookie = await login(gw, 'alice', PASSWORD);
      assert.equal((await allowed(gw, cookie)).status, 200);
      const browser = new OidcBrowser(gw.port, cookie);
      const { tokens, claims, idToken } = await signInTo(browser, config, redirect('wiki'));
      assert.ok(tokens.refresh_token);
      const url = client.buildEndSessionUrl(config, { id_token_hint: idToken, post_logout_redirect_uri: afterLogout('wiki'), state: 'state-42' });

      const spanish = await portal(gw, `${url.pathname}${url.search}`, { headers: { ...browser.jar.headers(), 'accept-language': 'es' } });
      assert.equal(spanish.status, 200);
      assert.match(spanish.body, /lang="es"/);
      assert.match(spanish.body, /The wiki pide cerrar tu sesión/);

      const { last: page } = await browser.visit(url.href);
      assert.equal(page.status, 200);
      assert.match(page.body, /The wiki asks to sign you out/);
      const xsrf = logoutXsrf(page.body);

      const before = receiver.tokensFor('wiki').length;
      const { leftTo } = await browser.visit(`${ISSUER}/api/oidc/end-session/confirm`, { xsrf, logout: 'yes' });
      assert.ok(leftTo, 'the confirmation sends the browser back to the client');
      assert.equal(`${leftTo.origin}${leftTo.pathname}`, afterLogout('wiki'));
      assert.equal(leftTo.searchParams.get('state'), 'state-42');

      // the gateway session ended with it: the old cookie no longer passes forward-auth
      const refused = await allowed(gw, cookie);
      assert.notEqual(refused.status, 200);
      assert.equal(browser.jar.get('gatehouse_session'), undefined, 'the gateway cookie was cleared');

      const delivered = receiver.tokensFor('wiki').slice(before);
      assert.equal(delivered.length, 1, 'one back-channel logout token');
      await checkLogoutToken(gw.port, delivered[0]!, { clientId: 'wiki', idToken: claims });
      assert.equal(await refreshWorks(config, tokens.refresh_token!), false, 'the refresh token is revoked');
    });

    it('"stay signed in" keeps the gateway session and the other apps; only the asking client is signed out', async () => {
      const config = await discover(gw.port, 'wiki', SECRET);
      const photos = await discover(gw.port, 'photos', SECRET);
      const cookie = await login(gw, 'alice', PASSWORD);
      const browser = new OidcBrowser(gw.port, cookie);
      const { idToken } = await signInTo(browser, config, redirect('wiki'));
      const kept = await signInTo(browser, photos, redirect('photos'));
      const url = client.buildEndSessionUrl(config, { id_token_hint: idToken });
      const { last: page } = await browser.visit(url.href);
      const before = receiver.received.length;
      await browser.visit(`${ISSUER}/api/oidc/end-session/confirm`, { xsrf: logoutXsrf(page.body) });
      assert.equal((await allowed(gw, cookie)).status, 200, 'the gateway session lives on');
      assert.deepEqual(receiver.received.slice(before).map((d) => d.path), ['/logout/wiki']);
      assert.equal(await refreshWorks(photos, kept.tokens.refresh_token!), true);
    });
  });

  describe('portal sign-out', () => {
    for (const how of ['json', 'form'] as const) {
      it(`(${how}) tells every client of that session and revokes their refresh tokens; another session's client stays signed in`, async () => {
        const wiki = await discover(gw.port, 'wiki', SECRET);
        const photos = await discover(gw.port, 'photos', SECRET);
        const notes = await discover(gw.port, 'notes', SECRET);
        const cookie = await login(gw, 'alice', PASSWORD);
        const browser = new OidcBrowser(gw.port, cookie);
        const first = await signInTo(browser, wiki, redirect('wiki'));
        const second = await signInTo(browser, photos, redirect('photos'));
        // the same user, another browser
        const otherCookie = await login(gw, 'alice', PASSWORD);
        const other = await signInTo(new OidcBrowser(gw.port, otherCookie), notes, redirect('notes'));
        assert.notEqual(other.claims.sid, first.claims.sid);

        const before = receiver.received.length;
        const signOut =
          how === 'json'
            ? await portal(gw, '/api/logout', { method: 'POST', json: {}, headers: { cookie, origin: PORTAL_ORIGIN, accept: 'application/json' } })
            : await portal(gw, '/logout', { method: 'POST', body: '', headers: { cookie, origin: PORTAL_ORIGIN, 'content-type': 'application/x-www-form-urlencoded' } });
        assert.ok(signOut.status === 200 || signOut.status === 303, `sign-out answered ${signOut.status}`);
        assert.notEqual((await allowed(gw, cookie)).status, 200);

        const delivered = receiver.received.slice(before);
        assert.deepEqual(delivered.map((d) => d.path).sort(), ['/logout/photos', '/logout/wiki']);
        await checkLogoutToken(gw.port, delivered.find((d) => d.path === '/logout/wiki')!.token, { clientId: 'wiki', idToken: first.claims });
        await checkLogoutToken(gw.port, delivered.find((d) => d.path === '/logout/photos')!.token, { clientId: 'photos', idToken: second.claims });
        assert.equal(await refreshWorks(wiki, first.tokens.refresh_token!), false);
        assert.equal(await refreshWorks(photos, second.tokens.refresh_token!), false);

        // the other session and its client are untouched
        assert.equal((await allowed(gw, otherCookie)).status, 200);
        assert.equal(await refreshWorks(notes, other.tokens.refresh_token!), true);
      });
    }
  });
});
