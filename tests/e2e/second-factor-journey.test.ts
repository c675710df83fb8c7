/**
 * The whole second-factor journey in Chromium, as a person meets it: nginx in front of an app on a
 * two_factor rule → the portal's sign-in page → password → the second-factor step → a TOTP code from
 * their authenticator app → back at the page they asked for, signed in as themselves. The pages work
 * without JavaScript (it is turned off here) and break no Content-Security-Policy rule.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { generateSync } from 'otplib';
import pino from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { openStorage } from '../../gateway/storage/open.ts';
import { storageOptionsFromConfig } from '../../gateway/storage/options.ts';
import { requireBinary } from '../helpers/binaries.ts';
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.ts';
import { startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { authRequestSite, startNginx, type NginxServer } from '../helpers/nginx.ts';
import { freePort } from '../helpers/ports.ts';
import { repoPath } from '../helpers/repo.ts';
import { makeCertificate, type TestCertificate } from '../helpers/tls.ts';

const SCREENSHOTS = repoPath('tests', 'e2e', 'screenshots');
const PASSWORD = 'Lantern-Orbit-47';

describe('second-factor journey in Chromium: nginx → portal → password → TOTP → the app', () => {
  let gw: InProcessGateway;
  let nginx: NginxServer;
  let echo: EchoUpstream;
  let cert: TestCertificate;
  let browser: Browser;
  let page: Page;
  let proxyPort: number;
  const secret = randomBytes(20);
  const problems: string[] = [];

  before(async () => {
    const executablePath = requireBinary('chromium', 'chromium');
    requireBinary('nginx', 'nginx-light');
    await mkdir(SCREENSHOTS, { recursive: true });
    proxyPort = await freePort();
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD, displayname: 'Alice Liddell', email: 'alice@example.test' } },
      config: {
        access_control: { default_policy: 'deny', rules: [{ domain: 'secure.example.test', policy: 'two_factor' }] },
        session: { cookies: [{ domain: 'example.test', authelia_url: `https://auth.example.test:${proxyPort}/` }] },
      },
    });
    const storage = await openStorage(storageOptionsFromConfig(gw.config.storage), { logger: pino({ level: 'silent' }), migrate: false });
    await storage.totp.save({ username: 'alice', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret, createdAt: Date.now() });
    await storage.close();
    echo = await startEchoUpstream();
    cert = await makeCertificate(['auth.example.test', 'secure.example.test']);
    nginx = await startNginx({ dir: join(gw.dir, 'nginx'), config: authRequestSite({ proxyPort, gatewayPort: gw.port, upstreamUrl: echo.url, cert, appHosts: ['secure.example.test'] }) });
    browser = await chromium.launch({
      executablePath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--host-resolver-rules=MAP *.example.test 127.0.0.1'],
    });
    const context = await browser.newContext({ ignoreHTTPSErrors: true, javaScriptEnabled: false, viewport: { width: 900, height: 800 } });
    page = await context.newPage();
    page.on('console', (message) => {
      // a 401 page (the wrong code) and a missing favicon are logged as failed loads; a policy violation is the problem
      if (/Content Security Policy|Refused to/i.test(message.text())) problems.push(`console: ${message.text()}`);
    });
  });
  after(async () => {
    await browser?.close();
    await nginx?.stop();
    await echo?.close();
    await cert?.cleanup();
    await gw?.close();
  });

  it('signs in with a password and a TOTP code and lands back on the page it asked for', async () => {
    const target = `https://secure.example.test:${proxyPort}/reports/2026?view=full`;
    await page.goto(target);
    assert.equal(new URL(page.url()).hostname, 'auth.example.test');
    assert.equal(await page.locator('h1').textContent(), 'Sign in');
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.waitForURL((url) => url.pathname === '/2fa');
    assert.equal(new URL(page.url()).searchParams.get('rd'), target);
    assert.equal(await page.locator('h1').textContent(), 'Second factor');
    await page.screenshot({ path: `${SCREENSHOTS}/2fa-step.png`, fullPage: true });

    // a wrong code first: the page says so and keeps the target
    await page.getByLabel('Code from your authenticator app').fill('000000' === generateSync({ secret: new Uint8Array(secret) }) ? '111111' : '000000');
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.locator('[role=alert]', { hasText: 'That code is not valid' }).waitFor();

    await page.getByLabel('Code from your authenticator app').fill(generateSync({ secret: new Uint8Array(secret) }));
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.waitForURL(target, { timeout: 5_000 }).catch(async (error) => {
      throw new Error(`not at the target: ${page.url()}\n${(await page.content()).slice(0, 300)}`, { cause: error });
    });
    const echoed = JSON.parse((await page.locator('body').textContent()) ?? '{}') as { url: string; headers: Record<string, string> };
    assert.equal(echoed.url, '/reports/2026?view=full');
    assert.equal(echoed.headers['remote-user'], 'alice');
    assert.deepEqual(problems, []);
  });

  it('just after the second factor the settings page for the app opens without a mailed code, with a QR code that renders', async () => {
    await page.goto(`https://auth.example.test:${proxyPort}/settings/totp`);
    assert.equal(await page.locator('h1').textContent(), 'Set up an authenticator app');
    const qr = page.locator('figure.qr svg');
    const box = await qr.boundingBox();
    assert.ok(box && box.width >= 150 && box.height >= 150, `QR code box ${JSON.stringify(box)}`);
    assert.match((await page.locator('code.secret').textContent()) ?? '', /^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/);
    await page.screenshot({ path: `${SCREENSHOTS}/totp-register.png`, fullPage: true });
    assert.deepEqual(problems, []);
  });
});
