/**
 * Resetting a forgotten password in a real headless Chromium: "Forgot your password?" on the sign-in
 * page, the username form, the link from the mail a real SMTP server received, the new password, and
 * signing in with it. The portal is served on http://localhost (plain http is accepted only on
 * loopback), so the browser's Origin is the portal's own. Chromium is the Debian package.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { requireBinary } from '../helpers/binaries.ts';
import { freePort } from '../helpers/ports.ts';
import { ACCESS_CONTROL, linkIn, mailTo, startMailingGateway, USERS, waitFor, type MailingGateway } from '../helpers/self-service.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update'];
const NEW_PASSWORD = 'Harbour-Quartz-Lantern-83';

describe('password reset in Chromium', () => {
  let browser: Browser;
  let page: Page;
  let m: MailingGateway;
  let origin = '';
  const pageProblems: string[] = [];

  before(async () => {
    const executablePath = requireBinary('chromium', 'chromium');
    const port = await freePort();
    origin = `http://localhost:${port}`;
    m = await startMailingGateway({
      config: {
        server: { address: `tcp://127.0.0.1:${port}` },
        session: { cookies: [{ domain: 'localhost', authelia_url: `${origin}/` }] },
        access_control: ACCESS_CONTROL,
      },
    });
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ locale: 'en-GB' });
    page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') pageProblems.push(message.text());
    });
    page.on('pageerror', (error) => pageProblems.push(`uncaught: ${error.message}`));
  });

  after(async () => {
    await browser?.close();
    await m?.close();
  });

  it('from "Forgot your password?" to signing in with the new password', async () => {
    await page.goto(`${origin}/`);
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await page.getByRole('heading', { name: 'Reset your password' }).waitFor();
    await page.getByLabel('Username').fill('alice');
    await page.getByRole('button', { name: 'Send the link' }).click();
    await page.getByText('If the account exists, a link to reset its password was sent').waitFor();

    const mail = await waitFor('the reset mail', () => mailTo(m.smtp, 'alice@example.test')[0]);
    const link = linkIn(mail, '/reset-password/finish');
    assert.equal(link.origin, origin);
    await page.goto(link.href);
    await page.getByRole('heading', { name: 'Choose a new password' }).waitFor();
    await page.getByLabel(/^New password/).fill(NEW_PASSWORD);
    await page.getByLabel('Repeat the new password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Set the new password' }).click();
    await page.getByText('Your password was changed.').waitFor();

    await page.getByRole('link', { name: 'Sign in' }).click();
    await page.getByLabel('Username').fill('alice');
    await page.getByLabel('Password').fill(USERS.alice!.password);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByText('Incorrect username or password.').waitFor();
    await page.getByLabel('Password').fill(NEW_PASSWORD);
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'Signed in' }).waitFor();

    // the link is spent: opening it again says so
    await page.goto(link.href);
    await page.getByText('This link is not valid').waitFor();
    const notice = await waitFor('the notice', () => mailTo(m.smtp, 'alice@example.test').find((received) => /password was changed/.test(received.headers.get('subject') ?? '')));
    assert.match(notice.text, /just changed/);
    // the wrong password's 401, the spent link's 403 and the favicon's 404 are answers, not page faults (CSP violations would be)
    assert.deepEqual(pageProblems.filter((p) => !/Failed to load resource: the server responded with a status of 40[134]/.test(p)), []);
  });
});
