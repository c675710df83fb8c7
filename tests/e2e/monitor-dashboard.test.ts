/**
 * The monitor's dashboard (monitor/web/) in a real headless Chromium against a real monitor:
 * first launch, login setup, overview, TOTP enrolment, an API token, profile, the terminal, and
 * signing in again with a backup code. Screenshots go to tests/e2e/screenshots/ (not committed).
 * Chromium is the Debian package; no browser is ever downloaded.
 */
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { generateSync } from 'otplib';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startMonitor } from '../../monitor/app.ts';
import { parseMonitorConfig } from '../../monitor/config/load.ts';
import { requireBinary } from '../helpers/binaries.ts';
import { samplePng } from '../helpers/images.ts';
import { captureLogs } from '../helpers/logs.ts';
import { repoPath } from '../helpers/repo.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'];
const SCREENSHOTS = repoPath('tests', 'e2e', 'screenshots');
const USERNAME = 'operator';
const PASSWORD = 'Lantern-Orbit-47';
const NEW_PASSWORD = 'Harbour-Quartz-83';
const TOTP_PERIOD_MS = 30_000;

/** A code for the TOTP step after the current one: the server accepts ±1 step, and the current one may be spent. */
function nextTotpCode(secret: string): string {
  return generateSync({ secret, epoch: Math.floor((Date.now() + TOTP_PERIOD_MS) / 1000) });
}

describe('monitor dashboard in Chromium', () => {
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let monitor: { url: string; setupCode(): string | null; close(): Promise<void> };
  let cleanup: () => Promise<void>;
  /** Console errors, uncaught exceptions and CSP violations seen by the page. */
  const pageProblems: string[] = [];
  let totpSecret = '';
  let backupCodes: string[] = [];

  async function screenshot(name: string): Promise<void> {
    await page.screenshot({ path: `${SCREENSHOTS}/${name}.png`, fullPage: true });
  }

  before(async () => {
    // fails with "install the Debian package chromium" rather than skipping
    const executablePath = requireBinary('chromium', 'chromium');
    await mkdir(SCREENSHOTS, { recursive: true });
    const temp = await makeTempDir('gatehouse-e2e-monitor-');
    cleanup = temp.cleanup;
    const { config } = parseMonitorConfig({
      server: { address: 'tcp://127.0.0.1:0' },
      data_dir: temp.dir,
      log: { level: 'warn' },
      // the shell runs as nobody when the test runs as root, as the current user otherwise
      terminal: { shell: '/bin/bash', user: 'nobody', max_sessions: 2 },
    });
    monitor = await startMonitor(config, { logger: captureLogs().logger });
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' });
    page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') pageProblems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => pageProblems.push(`uncaught: ${error.message}`));
  });

  after(async () => {
    await browser?.close();
    await monitor?.close();
    await cleanup?.();
  });

  it('serves the page under a strict Content-Security-Policy', async () => {
    const response = await page.goto(monitor.url);
    assert.equal(response?.status(), 200);
    const csp = response?.headers()['content-security-policy'] ?? '';
    assert.match(csp, /default-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  });

  it('asks "Protect your dashboard?" on first launch and sets up a login', async () => {
    const question = page.getByRole('dialog', { name: 'Protect your dashboard?' });
    await question.waitFor();
    await screenshot('01-first-launch');
    // the code the monitor logged at start: without it, neither answer is taken
    await question.getByRole('button', { name: 'Set up a login' }).click();
    await question.locator('#first-launch-error', { hasText: "setup code from the monitor's log" }).waitFor();
    const code = monitor.setupCode();
    assert.match(code ?? '', /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    await question.getByLabel('Setup code').fill(code!);
    await question.getByRole('button', { name: 'Set up a login' }).click();

    const form = page.locator('#setup-form');
    await form.getByLabel('Username').fill(USERNAME);
    await form.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await form.getByLabel('Repeat the password').fill(PASSWORD);
    await screenshot('02-setup');
    await form.getByRole('button', { name: 'Create login' }).click();

    await page.getByRole('tab', { name: 'Overview', selected: true }).waitFor();
    assert.equal(await page.locator('#identity-name').textContent(), USERNAME);
    const stored = await page.evaluate('({ session: sessionStorage.length, local: localStorage.length })');
    assert.deepEqual(stored, { session: 1, local: 0 }, 'the session token lives in sessionStorage only');
    assert.doesNotMatch(page.url(), /token|eyJ/, 'no token in the URL');
  });

  it("shows this host's overview and refreshes it every 5 seconds", async () => {
    await page.locator('#ov-hostname', { hasText: hostname() }).waitFor();
    await page.locator('#mounts-body tr th', { hasText: /^\/$/ }).first().waitFor();
    await page.locator('#network-body tr th', { hasText: /^lo$/ }).waitFor();
    assert.match((await page.locator('#ov-cpu').textContent()) ?? '', /\d %$/);
    assert.match((await page.locator('#ov-memory-detail').textContent()) ?? '', /of .*iB/);
    const first = await page.locator('#overview-updated').textContent();
    assert.match(first ?? '', /^Updated \d\d:\d\d:\d\d$/);
    await page.locator('#overview-updated', { hasNotText: first ?? '' }).waitFor({ timeout: 12_000 });
    assert.equal(await page.locator('#overview-error').isHidden(), true);
    await screenshot('03-overview');
  });

  it('enrols TOTP: QR code, key and 10 backup codes shown once, turned on with a code from the key', async () => {
    await page.getByRole('tab', { name: 'Security' }).click();
    const start = page.locator('#totp-start-form');
    await start.getByLabel('Your password').fill(PASSWORD);
    await start.getByRole('button', { name: 'Set up two-factor authentication' }).click();

    const secret = page.locator('#totp-secret');
    await secret.filter({ hasText: /^[A-Z2-7]{16,}$/ }).waitFor();
    totpSecret = ((await secret.textContent()) ?? '').trim();
    assert.equal(await page.locator('#totp-qr canvas, #totp-qr img').count(), 1, 'the QR code is drawn');
    backupCodes = (await page.locator('#totp-backup-codes li').allTextContents()).map((code) => code.trim());
    assert.equal(backupCodes.length, 10);
    for (const code of backupCodes) assert.match(code, /^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
    await screenshot('04-totp-enrolment');

    const codeInput = page.getByLabel('Code from your authenticator app');
    assert.equal(await codeInput.isDisabled(), true, 'the code waits for "I saved my backup codes"');
    await page.getByLabel('I saved my backup codes somewhere safe').check();
    await codeInput.fill(generateSync({ secret: totpSecret }));
    await page.getByRole('button', { name: 'Turn on two-factor authentication' }).click();

    await page.locator('#totp-status', { hasText: 'Two-factor authentication is on' }).waitFor();
    assert.equal(await page.locator('#totp-secret').textContent(), '', 'the key is wiped from the page');
    assert.equal(await page.locator('#totp-backup-codes li').count(), 0, 'the backup codes are wiped from the page');
  });

  it('creates an API token, shows it once, and the token reads /api/system as a Bearer token', async () => {
    await page.getByText('Create a token').click();
    const form = page.locator('#token-create-form');
    await form.getByLabel('Token name').fill('Homepage widget');
    await form.getByLabel('Access').selectOption('read_only');
    await form.getByLabel('Your password').fill(PASSWORD);
    await form.getByLabel('Authentication code').fill(nextTotpCode(totpSecret));
    await form.getByRole('button', { name: 'Create token' }).click();

    const created = page.locator('#token-created');
    await created.waitFor();
    assert.match((await created.textContent()) ?? '', /shown only once/);
    const token = await page.locator('#token-created-value').inputValue();
    assert.ok(token.length > 40, 'a token is shown');
    await page.locator('#tokens-body tr', { hasText: 'Homepage widget' }).waitFor();
    const row = page.locator('#tokens-body tr', { hasText: 'Homepage widget' });
    assert.equal(await row.locator('.token-prefix').textContent(), `····${token.slice(-4)}`, 'the row tells the token apart by its last characters');
    assert.ok(!((await page.locator('#tokens-body').textContent()) ?? '').includes(token), 'the list never shows the whole token');
    await screenshot('05-api-token');

    const withToken = await fetch(`${monitor.url}/api/system`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(withToken.status, 200);
    assert.equal(((await withToken.json()) as { hostname: string }).hostname, hostname());
    const without = await fetch(`${monitor.url}/api/system`);
    assert.equal(without.status, 401);

    await page.getByRole('button', { name: 'I copied it' }).click();
    assert.equal(await created.isHidden(), true);
    assert.equal(await page.locator('#token-created-value').inputValue(), '', 'the token is wiped from the page');
  });

  it('revokes a token after confirmation, and the token stops working', async () => {
    await page.getByText('Create a token').click();
    const form = page.locator('#token-create-form');
    await form.getByLabel('Token name').fill('Short-lived');
    await form.getByLabel('Your password').fill(PASSWORD);
    await form.getByLabel('Authentication code').fill(backupCodes.pop()!);
    await form.getByRole('button', { name: 'Create token' }).click();
    await page.locator('#token-created').waitFor();
    const token = await page.locator('#token-created-value').inputValue();
    await page.getByRole('button', { name: 'I copied it' }).click();

    await page.getByRole('button', { name: 'Revoke token Short-lived' }).click();
    const confirm = page.getByRole('dialog', { name: 'Revoke “Short-lived”?' });
    await confirm.getByRole('button', { name: 'Revoke token' }).click();
    await page.locator('#tokens-body tr', { hasText: 'Short-lived' }).waitFor({ state: 'detached' });

    const refused = await fetch(`${monitor.url}/api/system`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(refused.status, 401);
  });

  it('shows the display name and picture from the profile in the header', async () => {
    await page.getByRole('tab', { name: 'Profile' }).click();
    await page.getByLabel('Display name').fill('Ada <b>Operator</b>');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('#profile-status', { hasText: 'Saved.' }).waitFor();
    // server text is shown as text, never parsed as HTML
    assert.equal(await page.locator('#identity-name').textContent(), 'Ada <b>Operator</b>');
    assert.equal(await page.locator('#identity-name b').count(), 0);

    await page.getByLabel(/^Image/).setInputFiles({ name: 'me.png', mimeType: 'image/png', buffer: samplePng() });
    await page.getByRole('button', { name: 'Upload' }).click();
    await page.locator('#avatar-status', { hasText: 'Picture updated.' }).waitFor();
    await page.locator('#identity-avatar canvas').waitFor();
    await screenshot('06-profile');
  });

  it('changes the password and stays signed in with the session that replaces the old one', async () => {
    const storedToken = async () => String(await page.evaluate('Object.values({ ...sessionStorage })[0] ?? ""'));
    const oldToken = await storedToken();
    await page.getByRole('tab', { name: 'Security' }).click();
    await page.getByText('Change your password').click();
    const form = page.locator('#password-form');
    await form.getByLabel('Current password').fill(PASSWORD);
    await form.getByLabel('New password', { exact: true }).fill(NEW_PASSWORD);
    await form.getByLabel('Repeat the new password').fill(NEW_PASSWORD);
    await form.getByLabel('Authentication code or backup code').fill(backupCodes.pop()!);
    await form.getByRole('button', { name: 'Change password' }).click();
    await page.locator('#password-status', { hasText: 'Password changed' }).waitFor();

    // the old session ended with the old password; the page holds its successor
    const newToken = await storedToken();
    assert.notEqual(newToken, oldToken);
    const bearer = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });
    assert.equal((await fetch(`${monitor.url}/api/system`, bearer(oldToken))).status, 401);
    assert.equal((await fetch(`${monitor.url}/api/system`, bearer(newToken))).status, 200);
    const before = (await page.locator('#overview-updated').textContent()) ?? '';
    await page.getByRole('tab', { name: 'Overview' }).click();
    await page.locator('#overview-updated', { hasNotText: before }).waitFor();
    assert.equal(await page.locator('#view-dashboard').isVisible(), true, 'still signed in');
  });

  it('opens a terminal that runs what is typed', async () => {
    await page.getByRole('tab', { name: 'Terminal' }).click();
    await page.locator('#terminal-status', { hasText: /^Connected$/ }).waitFor({ timeout: 10_000 });
    assert.equal(await page.locator('#terminal-account').textContent(), 'Shell as nobody', 'the page says which OS account the shell is');
    await page.locator('.xterm-rows').waitFor();
    // the prompt shows that the shell is reading
    await page.locator('.xterm-rows > div', { hasText: /[$#]\s*$/ }).first().waitFor({ timeout: 10_000 });
    await page.keyboard.type('echo e2e-$((40+2))');
    await page.keyboard.press('Enter');
    await page.locator('.xterm-rows > div', { hasText: /^\s*e2e-42\s*$/ }).waitFor({ timeout: 10_000 });
    await screenshot('07-terminal');
  });

  it('signs out, then signs in again with the new password and a backup code', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    const form = page.locator('#login-form');
    await form.getByLabel('Username').waitFor();
    assert.equal(await page.evaluate('sessionStorage.length'), 0, 'the token is forgotten');

    await form.getByLabel('Username').fill(USERNAME);
    await form.getByLabel('Password').fill(NEW_PASSWORD);
    await form.getByRole('button', { name: 'Sign in' }).click();
    const code = form.getByLabel('Authentication code');
    await code.waitFor();
    await screenshot('08-login-second-factor');
    await code.fill(backupCodes.pop()!);
    await form.getByRole('button', { name: 'Verify' }).click();
    await page.locator('#identity-name', { hasText: 'Ada <b>Operator</b>' }).waitFor();
  });

  it('fits a 360 px wide screen and follows the dark colour scheme', async () => {
    await page.getByRole('tab', { name: 'Overview' }).click();
    await page.setViewportSize({ width: 360, height: 780 });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.locator('#ov-hostname', { hasText: hostname() }).waitFor();
    const overflow = Number(await page.evaluate('document.documentElement.scrollWidth - window.innerWidth'));
    assert.ok(overflow <= 0, `the page scrolls sideways by ${overflow} px`);
    const background = await page.evaluate('getComputedStyle(document.body).backgroundColor');
    assert.notEqual(background, 'rgb(255, 255, 255)');
    await screenshot('09-overview-narrow-dark');
    await page.getByRole('tab', { name: 'Security' }).click();
    await page.locator('#tokens-body tr', { hasText: 'Homepage widget' }).waitFor();
    await screenshot('10-security-narrow-dark');
  });

  it('logged no console errors, uncaught exceptions or CSP violations', () => {
    assert.deepEqual(pageProblems, []);
  });
});
