// The second-factor step as a browser without JavaScript sees it: a one-factor session on a
// two_factor rule goes portal → /2fa → back at the target (through nginx with the shipped snippets,
// and on the portal itself), wrong codes get a clear 401 page, recovery codes say how many remain,
// a user without any second factor is told to set one up, and Basic credentials stay one factor.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { generateSync } from 'otplib';
import pino from 'pino';
import { openStorage } from '../../gateway/storage/open.ts';
import { storageOptionsFromConfig } from '../../gateway/storage/options.ts';
import type { Storage } from '../../gateway/storage/storage.ts';
import { requireBinary } from '../helpers/binaries.ts';
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.ts';
import { CookieJar, request, type HttpResponse } from '../helpers/http.ts';
import { askAuthz, BROWSER_ACCEPT, firstFactor, login, makeClock, portal, PORTAL_ORIGIN, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { authRequestSite, startNginx, type NginxServer } from '../helpers/nginx.ts';
import { freePort } from '../helpers/ports.ts';
import { makeCertificate, type TestCertificate } from '../helpers/tls.ts';

const PASSWORD = 'correct horse battery staple';
const FORM = 'application/x-www-form-urlencoded';
const USERS = {
  alice: { password: PASSWORD, email: 'alice@example.test' },
  bob: { password: PASSWORD },
  erin: { password: PASSWORD },
};
const RULES = [
  { domain: 'secure.example.test', policy: 'two_factor' },
  { domain: 'app.example.test', policy: 'one_factor' },
];

const codeAt = (secret: Buffer, ms: number) => generateSync({ secret: new Uint8Array(secret), epoch: Math.floor(ms / 1000) });

/** Moves the clock to 1 s into the next 30 s step, so a test's codes all fall in one step. */
function startOfStep(clock: { now(): number; advance(ms: number): void }): void {
  clock.advance(30_000 - (clock.now() % 30_000) + 1_000);
}
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

describe('a two_factor rule through nginx: portal → password → /2fa → back at the app', () => {
  const clock = makeClock();
  beforeEach(() => startOfStep(clock));
  let gw: InProcessGateway;
  let nginx: NginxServer;
  let echo: EchoUpstream;
  let cert: TestCertificate;
  let storage: Storage;
  let proxyPort: number;
  const secret = randomBytes(20);

  before(async () => {
    requireBinary('nginx', 'nginx-light');
    proxyPort = await freePort();
    gw = await startInProcessGateway({
      users: USERS,
      clock,
      config: {
        access_control: { default_policy: 'deny', rules: RULES },
        session: { cookies: [{ domain: 'example.test', authelia_url: `https://auth.example.test:${proxyPort}/` }] },
      },
    });
    storage = await openStorage(storageOptionsFromConfig(gw.config.storage), { logger: pino({ level: 'silent' }), migrate: false });
    await storage.totp.save({ username: 'alice', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret, createdAt: clock.now() });
    echo = await startEchoUpstream();
    cert = await makeCertificate(['auth.example.test', 'secure.example.test', 'app.example.test']);
    nginx = await startNginx({ dir: join(gw.dir, 'nginx'), config: authRequestSite({ proxyPort, gatewayPort: gw.port, upstreamUrl: echo.url, cert, appHosts: ['secure.example.test', 'app.example.test'] }) });
  });
  after(async () => {
    await nginx?.stop();
    await echo?.close();
    await cert?.cleanup();
    await storage?.close();
    await gw?.close();
  });

  const browse = (jar: CookieJar, url: string, options: { method?: string; body?: string } = {}) =>
    request(url, {
      ca: cert.certPem,
      method: options.method ?? 'GET',
      headers: {
        accept: BROWSER_ACCEPT,
        ...jar.headers(),
        ...(options.body !== undefined ? { 'content-type': FORM, origin: `https://auth.example.test:${proxyPort}` } : {}),
      },
      ...(options.body !== undefined ? { body: options.body } : {}),
    }).then((response) => {
      jar.store(response);
      return response;
    });

  it('a one-factor session is sent to the second-factor step and, after the code, lands on the page it asked for', async () => {
    const jar = new CookieJar();
    const target = `https://secure.example.test:${proxyPort}/reports?q=1`;
    const portalUrl = `https://auth.example.test:${proxyPort}/`;

    const first = await browse(jar, target);
    assert.equal(first.status, 302);
    const signIn = new URL(first.headers.location!);
    assert.equal(signIn.origin + signIn.pathname, portalUrl);
    assert.equal(signIn.searchParams.get('rd'), target);

    const password = await browse(jar, `${portalUrl}login`, { method: 'POST', body: form({ username: 'alice', password: PASSWORD, rd: target, rm: 'GET' }) });
    assert.equal(password.status, 303, password.body);
    const step = new URL(password.headers.location!, portalUrl);
    assert.equal(step.pathname, '/2fa');
    assert.equal(step.searchParams.get('rd'), target);
    assert.equal(step.searchParams.get('rm'), 'GET');

    // with one factor the app is still out of reach, and the portal sends the browser on to /2fa
    const stillOut = await browse(jar, target);
    assert.equal(stillOut.status, 302);
    const again = await browse(jar, stillOut.headers.location!);
    assert.equal(again.status, 302);
    assert.equal(new URL(again.headers.location!, portalUrl).pathname, '/2fa');

    const page = await browse(jar, step.href);
    assert.equal(page.status, 200);
    assert.match(page.body, /<h1 id="heading">Second factor<\/h1>/);
    assert.match(page.body, /action="\/2fa\/totp"/);
    assert.match(page.body, new RegExp(`name="rd" value="${target.replace(/[?.]/g, '\\$&')}"`));

    const before = echo.requests.length;
    const done = await browse(jar, `${portalUrl}2fa/totp`, { method: 'POST', body: form({ code: codeAt(secret, clock.now()), rd: target, rm: 'GET' }) });
    assert.equal(done.status, 303, done.body);
    assert.equal(done.headers.location, target);
    const app = await browse(jar, target);
    assert.equal(app.status, 200);
    assert.equal(echo.requests.length, before + 1);
    assert.equal(echo.requests.at(-1)!.headers['remote-user'], 'alice');
  });
});

describe('the second-factor pages on the portal', () => {
  const clock = makeClock();
  beforeEach(() => startOfStep(clock));
  let gw: InProcessGateway;
  let storage: Storage;
  const secret = randomBytes(20);

  before(async () => {
    gw = await startInProcessGateway({ users: USERS, clock, config: { access_control: { default_policy: 'deny', rules: RULES }, regulation: { max_retries: 3, find_time: '2m', ban_time: '5m' } } });
    storage = await openStorage(storageOptionsFromConfig(gw.config.storage), { logger: pino({ level: 'silent' }), migrate: false });
    for (const username of ['alice', 'bob']) await storage.totp.save({ username, issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret, createdAt: clock.now() });
  });
  after(async () => {
    await storage?.close();
    await gw?.close();
  });

  const page = (path: string, cookie: string) => portal(gw, path, { headers: { cookie, accept: BROWSER_ACCEPT } });
  const post = (path: string, cookie: string, fields: Record<string, string>) =>
    portal(gw, path, { method: 'POST', body: form(fields), headers: { cookie, 'content-type': FORM, origin: PORTAL_ORIGIN, accept: BROWSER_ACCEPT } });
  const sessionOf = (response: HttpResponse, before: string) => {
    const fresh = response.cookies.find((c) => c.name === 'gatehouse_session');
    return fresh ? `gatehouse_session=${fresh.value}` : before;
  };

  it('POST /api/firstfactor for a two_factor target answers OK without a redirect (Authelia); for a one_factor target with it', async () => {
    const twoFactor = await firstFactor(gw, { username: 'alice', password: PASSWORD, targetURL: 'https://secure.example.test/' });
    assert.deepEqual(twoFactor.json(), { status: 'OK' });
    const oneFactor = await firstFactor(gw, { username: 'alice', password: PASSWORD, targetURL: 'https://app.example.test/' });
    assert.deepEqual(oneFactor.json(), { status: 'OK', data: { redirect: 'https://app.example.test/' } });
  });

  it('without a session /2fa sends the browser to sign in; a wrong code is a 401 page that says so; the right one goes on', async () => {
    const anonymous = await page('/2fa', '');
    assert.equal(anonymous.status, 303);
    const cookie = await login(gw, 'alice', PASSWORD);
    const wrong = await post('/2fa/totp', cookie, { code: codeAt(secret, clock.now()) === '000000' ? '111111' : '000000', rd: 'https://secure.example.test/', rm: 'GET' });
    assert.equal(wrong.status, 401);
    assert.match(wrong.body, /role="alert"[^>]*>That code is not valid/);
    assert.match(wrong.body, /aria-invalid="true"/);
    const right = await post('/2fa/totp', cookie, { code: codeAt(secret, clock.now()), rd: 'https://secure.example.test/', rm: 'GET' });
    assert.equal(right.status, 303);
    assert.equal(right.headers.location, 'https://secure.example.test/');
    // a level-2 session opening /2fa goes straight on
    const done = await page('/2fa?rd=https%3A%2F%2Fsecure.example.test%2Fa', sessionOf(right, cookie));
    assert.equal(done.status, 302);
    assert.equal(done.headers.location, 'https://secure.example.test/a');
  });

  it('an unsafe or forbidden rd is not followed after the second factor: the portal instead', async () => {
    clock.advance(30_000);
    const cookie = await login(gw, 'alice', PASSWORD);
    const right = await post('/2fa/totp', cookie, { code: codeAt(secret, clock.now()), rd: 'https://evil.test/', rm: 'GET' });
    assert.equal(right.status, 303);
    assert.equal(right.headers.location, '/');
  });

  it('the page offers the methods the user has, preferred first; a user without any is told to set one up', async () => {
    await storage.preferences.setSecondFactorMethod('bob', 'totp');
    await storage.recoveryCodes.replace('bob', ['AAAAA-BBBBB', 'CCCCC-DDDDD'], clock.now());
    const bob = await page('/2fa?rd=https%3A%2F%2Fsecure.example.test%2F', await login(gw, 'bob', PASSWORD));
    assert.equal(bob.status, 200);
    const tabs = [...bob.body.matchAll(/<a href="[^"]*method=(\w+)"/g)].map((m) => m[1]);
    assert.deepEqual(tabs, ['totp', 'recovery']);
    assert.match(bob.body, /action="\/2fa\/totp"/);
    const recovery = await page('/2fa?method=recovery', await login(gw, 'bob', PASSWORD));
    assert.match(recovery.body, /action="\/2fa\/recovery-code"/);
    assert.match(recovery.body, /Recovery codes left: 2\. Make a new set in your settings soon\./);

    const erin = await page('/2fa', await login(gw, 'erin', PASSWORD));
    assert.equal(erin.status, 200);
    assert.match(erin.body, /your account has none yet/);
    assert.match(erin.body, /href="\/settings\/totp"/);
    assert.doesNotMatch(erin.body, /action="\/2fa\/totp"/);
  });

  it('a recovery code signs in once, and the page says how many are left (with the warning at two or fewer)', async () => {
    await storage.recoveryCodes.replace('bob', ['EEEEE-FFFFF', 'GGGGG-HHHHH', 'JJJJJ-KKKKK'], clock.now());
    const cookie = await login(gw, 'bob', PASSWORD);
    const used = await post('/2fa/recovery-code', cookie, { code: 'eeeee fffff', rd: 'https://secure.example.test/', rm: 'GET' });
    assert.equal(used.status, 200, used.body);
    assert.match(used.body, /Recovery codes left: 2\. Make a new set in your settings soon\./);
    assert.match(used.body, /href="https:\/\/secure.example.test\/"/);
    const again = await post('/2fa/recovery-code', await login(gw, 'bob', PASSWORD), { code: 'EEEEE-FFFFF', rd: '', rm: '' });
    assert.equal(again.status, 401);
    assert.match(again.body, /That recovery code is not valid or was already used\./);
  });

  it('after max_retries wrong codes the page answers 429 with a wait, like the login page', async () => {
    const cookie = await login(gw, 'erin', PASSWORD);
    await storage.totp.save({ username: 'erin', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret: randomBytes(20), createdAt: clock.now() });
    for (let i = 0; i < 3; i++) assert.equal((await post('/2fa/totp', cookie, { code: '00000' + i, rd: '', rm: '' })).status, 401);
    const locked = await post('/2fa/totp', cookie, { code: '123456', rd: '', rm: '' });
    assert.equal(locked.status, 429);
    assert.match(locked.body, /Too many attempts: try again in 5 minute\(s\)\./, 'the account is banned for ban_time');
    await storage.totp.delete('erin');
  });

  it('Basic credentials stay one factor: refused on a two_factor rule, accepted on one_factor', async () => {
    const secure = await askAuthz(gw, 'auth-request', 'https://secure.example.test/', { headers: { authorization: basic('alice', PASSWORD) } });
    assert.equal(secure.status, 401);
    const app = await askAuthz(gw, 'auth-request', 'https://app.example.test/', { headers: { authorization: basic('alice', PASSWORD) } });
    assert.equal(app.status, 200);
  });

  it('registering an app: elevation first; then a QR code, the URI and the secret; a wrong code keeps it pending; a right one stores it, and the page says the notice could not be sent', async () => {
    clock.advance(30_000);
    const oneFactor = await login(gw, 'alice', PASSWORD);
    const refused = await page('/settings/totp', oneFactor);
    assert.equal(refused.status, 303);
    assert.match(refused.headers.location!, /^\/elevate\?rd=/);

    const cookie = sessionOf(await post('/2fa/totp', oneFactor, { code: codeAt(secret, clock.now()), rd: '', rm: '' }), oneFactor);
    const shown = await page('/settings/totp', cookie);
    assert.equal(shown.status, 200, shown.body);
    assert.match(shown.body, /<figure class="qr"[^>]*><svg /);
    const uri = shown.body.match(/<code class="uri">([^<]+)<\/code>/)![1]!.replaceAll('&amp;', '&');
    const base32 = new URL(uri).searchParams.get('secret')!;
    assert.match(shown.body, new RegExp(base32.slice(0, 4)));
    assert.match(shown.body, /Your account already has an authenticator app/);
    // the same key while the registration is pending (a reload does not change what was scanned)
    assert.match((await page('/settings/totp', cookie)).body, new RegExp(base32.slice(0, 8).replace(/(.{4})/g, '$1 ?')));
    const newSecret = Buffer.from(new (await import('otplib')).ScureBase32Plugin().decode(base32));
    const wrong = await post('/settings/totp', cookie, { code: '000000' === codeAt(newSecret, clock.now()) ? '111111' : '000000' });
    assert.equal(wrong.status, 401);
    assert.ok((await storage.totp.load('alice'))!.secret.equals(secret));
    const done = await post('/settings/totp', cookie, { code: codeAt(newSecret, clock.now()) });
    assert.equal(done.status, 200, done.body);
    assert.match(done.body, /Authenticator app added/);
    assert.match(done.body, /The e-mail notice about this change could not be sent\./);
    assert.ok((await storage.totp.load('alice'))!.secret.equals(newSecret));

    const codes = await post('/settings/recovery-codes', cookie, {});
    assert.equal(codes.status, 200);
    assert.equal([...codes.body.matchAll(/<li><code>([A-Z2-9]{5}-[A-Z2-9]{5})<\/code><\/li>/g)].length, 10);
    assert.match(codes.body, /shown only this once/);
    assert.equal(await storage.recoveryCodes.remaining('alice'), 10);

    const removed = await post('/settings/totp/delete', cookie, {});
    assert.equal(removed.status, 200);
    assert.match(removed.body, /Authenticator app removed/);
    assert.equal(await storage.totp.load('alice'), undefined);
  });
});
