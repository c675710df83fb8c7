// The settings page shows what storage holds for the signed-in user (and only methods the configuration
// enables), and every portal page speaks English or Spanish, chosen by Accept-Language or the switch on
// the page, which keeps the page's other parameters.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { login, portal, PORTAL_ORIGIN, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { openStorage } from '../../gateway/storage/open.ts';
import { silentLogger } from '../unit/storage/backends.ts';

const PASSWORD = 'correct horse battery staple';
const FORM = 'application/x-www-form-urlencoded';
const USERS = { alice: { password: PASSWORD, displayname: 'Alice Liddell', email: 'alice@example.test', groups: ['dev', 'ops'] } };
const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
const unescape = (s: string) => s.replaceAll('&amp;', '&');

describe('the settings page', () => {
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({ users: USERS, config: { access_control: { default_policy: 'one_factor' } } });
  });
  after(() => gw?.close());

  it('without a session, GET /settings sends the browser to sign in and back', async () => {
    const answer = await portal(gw, '/settings');
    assert.equal(answer.status, 303);
    assert.match(answer.headers.location ?? '', /^\/\?rd=.*settings/);
  });

  it('shows the account, the second factors from storage, the recovery codes left (with a warning at two) and the sessions', async () => {
    const cookie = await login(gw, 'alice', PASSWORD);
    const empty = text((await portal(gw, '/settings', { headers: { cookie } })).body);
    assert.match(empty, /Alice Liddell \(alice\)/);
    assert.match(empty, /alice@example\.test/);
    assert.match(empty, /dev, ops/);
    assert.match(empty, /Authenticator app Not configured/);
    assert.match(empty, /Set up an authenticator app/);
    assert.match(empty, /None registered/);
    assert.match(empty, /You have no recovery codes: generate some/);
    assert.match(empty, /This device/);

    const storage = await openStorage(gw.config.storage as never, { logger: silentLogger, migrate: false });
    try {
      await storage.totp.save({ username: 'alice', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret: Buffer.alloc(20, 7), createdAt: Date.UTC(2026, 0, 2) });
      await storage.recoveryCodes.replace('alice', ['AAAA-BBBB-CC', 'DDDD-EEEE-FF'], Date.UTC(2026, 0, 2));
      await storage.webauthn.add({
        username: 'alice', description: 'YubiKey 5', kid: 'AQIDBAUGBwgJCgsMDQ4PEA', aaguid: null, attestationType: 'none', attachment: 'cross-platform',
        transports: ['usb'], signCount: 0, discoverable: false, present: true, verified: false, backupEligible: false, backupState: false,
        publicKey: Buffer.from('a501', 'hex'), createdAt: Date.UTC(2026, 0, 2),
      });
    } finally {
      await storage.close();
    }
    const page = await portal(gw, '/settings', { headers: { cookie } });
    const filled = text(page.body);
    assert.match(filled, /Authenticator app Configured since/);
    assert.match(page.body, /<form method="post" action="\/settings\/totp\/delete">/);
    assert.match(filled, /YubiKey 5 Never used/);
    assert.match(page.body, /<p class="warning" role="status">2 recovery codes left\. Generate new codes before you run out\.<\/p>/);
    assert.match(page.body, /action="\/settings\/recovery-codes"/);
    assert.match(page.body, /href="\/settings\/password"/);
    assert.equal((page.body.match(/<h1[ >]/g) ?? []).length, 1, 'one h1');
  });

  it('the signed-in page links to the settings', async () => {
    const cookie = await login(gw, 'alice', PASSWORD);
    assert.match((await portal(gw, '/', { headers: { cookie } })).body, /href="\/settings"/);
  });
});

describe('the settings page hides a method the configuration disables', () => {
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({ users: USERS, config: { access_control: { default_policy: 'one_factor' }, totp: { disable: true }, webauthn: { disable: true } } });
  });
  after(() => gw?.close());

  it('no authenticator app, security keys or recovery codes with totp.disable and webauthn.disable', async () => {
    const cookie = await login(gw, 'alice', PASSWORD);
    const page = text((await portal(gw, '/settings', { headers: { cookie } })).body);
    assert.doesNotMatch(page, /Authenticator app|Security keys|Recovery codes/);
    assert.match(page, /Second factors are turned off on this gateway/);
    assert.match(page, /Signed-in sessions/);
  });
});

describe('portal languages: English and Spanish, with a switch on every page', () => {
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({ users: USERS, config: { access_control: { default_policy: 'one_factor' } } });
  });
  after(() => gw?.close());

  it('no Accept-Language → English; Accept-Language es → Spanish, with lang="es"', async () => {
    const en = await portal(gw, '/');
    assert.match(en.body, /<html lang="en">/);
    assert.match(en.body, /<h1 id="heading">Sign in<\/h1>/);
    const es = await portal(gw, '/', { headers: { 'accept-language': 'es-ES,es;q=0.9' } });
    assert.match(es.body, /<html lang="es">/);
    assert.match(es.body, /<h1 id="heading">Iniciar sesión<\/h1>/);
    assert.match(es.body, /<label for="password">Contraseña<\/label>/);
  });

  it('the switch links to the same page with ?lang=, keeping rd and rm; the chosen language is remembered', async () => {
    const rd = 'https://app.example.test/x?y=1';
    const page = await portal(gw, `/?rd=${encodeURIComponent(rd)}&rm=GET`);
    const links = [...page.body.matchAll(/<a href="([^"]+)" hreflang="(\w+)"/g)].map((m) => [m[2], unescape(m[1]!)]);
    assert.equal(links.length, 1, 'the current language is not a link');
    const [lang, href] = links[0]!;
    assert.equal(lang, 'es');
    const url = new URL(href!, 'https://auth.example.test');
    assert.deepEqual([url.pathname, url.searchParams.get('rd'), url.searchParams.get('rm'), url.searchParams.get('lang')], ['/', rd, 'GET', 'es']);
    const spanish = await portal(gw, `${url.pathname}${url.search}`);
    assert.match(spanish.body, /Iniciar sesión/);
    assert.match(spanish.body, new RegExp(`name="rd" value="${rd.replace(/[?.]/g, '\\$&')}"`));
    const cookie = spanish.cookies.find((c) => c.name === 'gatehouse_lang');
    assert.equal(cookie?.value, 'es');
    assert.match((await portal(gw, '/', { headers: { cookie: 'gatehouse_lang=es' } })).body, /<html lang="es">/);
  });

  it('a wrong password is said in Spanish too', async () => {
    const answer = await portal(gw, '/login', {
      method: 'POST',
      body: new URLSearchParams({ username: 'alice', password: 'wrong', rd: 'https://app.example.test/', rm: '' }).toString(),
      headers: { 'content-type': FORM, origin: PORTAL_ORIGIN, cookie: 'gatehouse_lang=es' },
    });
    assert.equal(answer.status, 401);
    assert.match(answer.body, /<p class="error" role="alert" id="login-error">Usuario o contraseña incorrectos\.<\/p>/);
    // the answer to a form post links to the sign-in page it stands for, with its rd
    assert.match(unescape(answer.body), /href="\/\?rd=https%3A%2F%2Fapp\.example\.test%2F&lang=en"/);
  });

  it('the settings page in Spanish', async () => {
    const cookie = await login(gw, 'alice', PASSWORD);
    const page = await portal(gw, '/settings?lang=es', { headers: { cookie } });
    assert.match(page.body, /<h1 id="heading">Ajustes<\/h1>/);
    assert.match(page.body, /Sesiones iniciadas/);
    assert.match(page.body, /Cerrar sesión en todas partes/);
  });
});
