/**
 * Security keys and passkeys in a real headless Chromium against an in-process gateway, with DevTools'
 * virtual authenticators (CDP WebAuthn domain) standing in for the hardware. The portal is
 * http://localhost:<port>/ (a secure context, so WebAuthn works without TLS; the relying party id is
 * the cookie domain, `localhost`).
 *
 * The journey: the settings page sends a signed-in user to confirm their identity with an e-mailed
 * code (the filesystem notifier's file stands in for the mailbox), then registers a first security key
 * with the real ceremony; signed in again, the second-factor step (/2fa) uses that key (level 2); that
 * recent second factor elevates the session, so the settings page registers a passkey; the passkey
 * alone signs in at level 2 when the authenticator verified the user, and a passkey on an
 * authenticator without user verification signs in at level 1.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type CDPSession, type Page } from 'playwright-core';
import { openStorage } from '../../gateway/storage/open.ts';
import type { Storage } from '../../gateway/storage/storage.ts';
import { requireBinary } from '../helpers/binaries.ts';
import { startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { freePort } from '../helpers/ports.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { silentLogger } from '../unit/storage/backends.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--host-resolver-rules=MAP localhost 127.0.0.1'];
const PASSWORD = 'Correct-Horse-Battery-9';

type Authenticator = { transport: 'usb' | 'internal'; hasResidentKey: boolean; hasUserVerification: boolean; isUserVerified: boolean };

/** The last one-time code the filesystem notifier wrote (the text part: `Your code: XXXXXXXX`). */
async function lastCodeIn(file: string): Promise<string> {
  const codes = [...(await readFile(file, 'utf8')).matchAll(/Your code: ([A-Z0-9]+)/g)].map((m) => m[1]!);
  assert.ok(codes.length > 0, 'a code was written to the notifier file');
  return codes.at(-1)!;
}

describe('security keys and passkeys in Chromium with virtual authenticators', () => {
  let gw: InProcessGateway;
  let storage: Storage;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let cdp: CDPSession;
  let base = '';
  /** the authenticator that verifies its user (the laptop's) */
  let platform = '';
  let securityKey = '';
  let temp: { dir: string; cleanup(): Promise<void> };
  const NOTIFICATIONS = () => join(temp.dir, 'notifications.txt');
  const pageProblems: string[] = [];

  async function addAuthenticator(options: Authenticator): Promise<string> {
    const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', { options: { protocol: 'ctap2', automaticPresenceSimulation: true, ...options } });
    return authenticatorId;
  }

  async function authenticationLevel(): Promise<number> {
    return page.evaluate(async () => ((await (await fetch('/api/state')).json()) as { data: { authentication_level: number } }).data.authentication_level);
  }

  async function signInWithPassword(): Promise<void> {
    await page.goto(base);
    await page.fill('#username', 'alice');
    await page.fill('#password', PASSWORD);
    await Promise.all([page.waitForNavigation(), page.click('button[type="submit"]')]);
  }

  before(async () => {
    const executablePath = requireBinary('chromium', 'chromium');
    const port = await freePort();
    base = `http://localhost:${port}/`;
    temp = await makeTempDir('gatehouse-webauthn-e2e-');
    gw = await startInProcessGateway({
      dir: temp.dir,
      users: { alice: { password: PASSWORD, displayname: 'Alice', email: 'alice@example.test' } },
      config: {
        server: { address: `tcp://127.0.0.1:${port}` },
        notifier: { filesystem: { filename: NOTIFICATIONS() } },
        authentication_backend: { password_reset: { disable: true } },
        session: { cookies: [{ domain: 'localhost', authelia_url: base }] },
        access_control: { default_policy: 'one_factor' },
      },
    });
    storage = await openStorage({ encryption_key: 'a-test-encryption-key-long-enough', local: { path: join(gw.dir, 'db.sqlite3') } }, { logger: silentLogger, migrate: false });
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
    context = await browser.newContext({ viewport: { width: 1000, height: 800 } });
    page = await context.newPage();
    page.on('console', (message) => {
      // the portal has no favicon: the browser's own request for one is no problem of these pages
      if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) pageProblems.push(`console: ${message.text()} (${message.location().url})`);
    });
    page.on('pageerror', (error) => pageProblems.push(`uncaught: ${error.message}`));
    cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable', { enableUI: false });
  });

  after(async () => {
    await browser?.close();
    await storage?.close();
    await gw?.close();
    await temp?.cleanup();
  });

  it('a first security key: the settings page asks for an e-mailed code, then registers the key with the real ceremony', async () => {
    // a USB key without user verification or resident keys: a plain second factor
    securityKey = await addAuthenticator({ transport: 'usb', hasResidentKey: false, hasUserVerification: false, isUserVerified: false });
    await signInWithPassword();
    assert.equal(await authenticationLevel(), 1);
    await page.goto(`${base}settings/webauthn`);
    assert.match(page.url(), /\/elevate\?rd=/, 'not elevated: sent to confirm it is you');
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'E-mail me a code' }).click()]);
    await page.getByLabel(/^Code/).fill(await lastCodeIn(NOTIFICATIONS()));
    await Promise.all([page.waitForURL(/settings\/webauthn/), page.getByRole('button', { name: 'Confirm' }).click()]);
    await page.getByLabel('Name for the new key').fill('Desk key');
    await Promise.all([page.waitForURL(/settings\/webauthn\?done=added/), page.getByRole('button', { name: 'Add security key / passkey' }).click()]);
    const stored = await storage.webauthn.list('alice');
    assert.deepEqual(stored.map((c) => [c.description, c.discoverable]), [['Desk key', false]]);
  });

  it('signed in again, the second-factor step uses the key: level 2', async () => {
    await context.clearCookies();
    await signInWithPassword();
    assert.equal(await authenticationLevel(), 1);
    await page.goto(`${base}2fa?method=webauthn`);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Use your security key' }).click()]);
    assert.equal(await authenticationLevel(), 2);
    assert.equal((await storage.webauthn.list('alice'))[0]!.signCount > 0, true, 'the counter the key signed is stored');
    await cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: securityKey });
  });

  it('the recent second factor elevates the session: the settings page registers a passkey with the real ceremony', async () => {
    platform = await addAuthenticator({ transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true });
    const response = await page.goto(`${base}settings/webauthn`);
    assert.equal(response?.status(), 200);
    assert.match(response?.headers()['content-security-policy'] ?? '', /script-src 'self'/);
    await page.getByLabel('Name for the new key').fill('Laptop passkey');
    await Promise.all([page.waitForURL(/settings\/webauthn\?done=added/), page.getByRole('button', { name: 'Add security key / passkey' }).click()]);
    const listed = await page.locator('ul.credentials li').allInnerTexts();
    assert.equal(listed.length, 2);
    assert.match(listed[1]!, /Laptop passkey · passkey/);
    const stored = (await storage.webauthn.list('alice')).find((c) => c.description === 'Laptop passkey');
    assert.equal(stored?.discoverable, true);
    assert.equal(stored?.verified, true);
  });

  it('the passkey alone signs in at level 2 when the authenticator verified the user', async () => {
    await context.clearCookies();
    await page.goto(base);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in with a passkey' }).click()]);
    await page.waitForLoadState();
    assert.equal(await authenticationLevel(), 2);
    assert.match(gw.logText(), /authentication success; rhost=\S+ user=alice method=passkey/);
  });

  it('a passkey sign-in without user verification is level 1', async () => {
    // Chromium uses no authenticator without user verification for a discoverable credential, so the
    // "without UV" case is a second gateway on the same database asking for none
    // (selection_criteria.user_verification: discouraged): the laptop's authenticator then signs without it
    const port = await freePort();
    const second = `http://localhost:${port}/`;
    const discouraged = await startInProcessGateway({
      dir: gw.dir,
      config: {
        server: { address: `tcp://127.0.0.1:${port}` },
        session: { cookies: [{ domain: 'localhost', authelia_url: second }] },
        access_control: { default_policy: 'one_factor' },
        webauthn: { selection_criteria: { user_verification: 'discouraged' } },
      },
    });
    try {
      await context.clearCookies();
      await page.goto(second);
      await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in with a passkey' }).click()]);
      assert.equal(await authenticationLevel(), 1);
      assert.match(discouraged.logText(), /authentication success; rhost=\S+ user=alice method=passkey/);
    } finally {
      await discouraged.close();
    }
  });

  it('the pages ran without script errors or CSP violations', () => {
    assert.deepEqual(pageProblems, []);
  });
});
