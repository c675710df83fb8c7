/**
 * Every portal page in a real headless Chromium, in English and Spanish, light and dark: axe-core finds
 * no serious or critical violation (contrast, names, labels, landmarks, language). A new page is one
 * row of PAGES: its path, and a setup that signs in, posts a form or picks the gateway without users.
 * Chromium is the Debian package; no browser is ever downloaded.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { describeViolations, seriousViolations } from '../helpers/axe.ts';
import { requireBinary } from '../helpers/binaries.ts';
import { login, portal, PORTAL_ORIGIN, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--host-resolver-rules=MAP auth.example.test 127.0.0.1'];
const PASSWORD = 'correct horse battery staple';

interface PageContext {
  /** A fresh session cookie for alice on the gateway with users. */
  signIn(): Promise<string>;
  /** The one-time setup token of the gateway without users. */
  setupToken: string;
}

interface Visit {
  /** 'fresh': the gateway without users (setup is open) */
  gateway?: 'fresh';
  /** the Cookie header to send */
  cookie?: string;
  /** send the navigation as this same-origin form post instead of a GET */
  form?: Record<string, string>;
}

interface PortalPage {
  name: string;
  path: string | ((c: PageContext) => string);
  setup?: (c: PageContext) => Promise<Visit>;
}

const signedIn = async (c: PageContext): Promise<Visit> => ({ cookie: await c.signIn() });
const fresh = async (): Promise<Visit> => ({ gateway: 'fresh' });

/** Every portal page (other engineers' pages are added here as rows). */
const PAGES: readonly PortalPage[] = [
  { name: 'sign in', path: '/?rd=https%3A%2F%2Fapp.example.test%2F' },
  { name: 'sign in with an error', path: '/login', setup: async () => ({ form: { username: 'someone', password: 'wrong', rd: '', rm: '' } }) },
  { name: 'setup required (message)', path: '/', setup: fresh },
  { name: 'setup', path: (c) => `/setup?token=${c.setupToken}`, setup: fresh },
  { name: 'setup with an error', path: '/setup', setup: async (c) => ({ gateway: 'fresh', form: { token: c.setupToken, username: 'root', password: 'short', confirm: 'short' } }) },
  { name: 'setup link not valid (message)', path: '/setup?token=wrong', setup: fresh },
  { name: 'signed in', path: '/', setup: signedIn },
  { name: 'settings', path: '/settings', setup: signedIn },
];

const LANGUAGES = ['en', 'es'] as const;
const SCHEMES = ['light', 'dark'] as const;

describe('portal pages in Chromium: no serious or critical axe-core violation', () => {
  let browser: Browser;
  let withUsers: InProcessGateway;
  let withoutUsers: InProcessGateway;
  let context: PageContext;

  before(async () => {
    // fails with "install the Debian package chromium" rather than skipping
    const executablePath = requireBinary('chromium', 'chromium');
    withUsers = await startInProcessGateway({
      users: { alice: { password: PASSWORD, displayname: 'Alice Liddell', email: 'alice@example.test', groups: ['dev'] } },
      // the error page is posted once per language and theme: no ban in between
      config: { access_control: { default_policy: 'one_factor' }, regulation: { max_retries: 100 } },
    });
    withoutUsers = await startInProcessGateway({ config: { access_control: { default_policy: 'one_factor' } } });
    const setupUrl = withoutUsers.gateway.setupUrl();
    assert.ok(setupUrl);
    context = { signIn: () => login(withUsers, 'alice', PASSWORD), setupToken: new URL(setupUrl).searchParams.get('token') ?? '' };
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    await withUsers?.close();
    await withoutUsers?.close();
  });

  for (const entry of PAGES) {
    for (const lang of LANGUAGES) {
      for (const colorScheme of SCHEMES) {
        it(`${entry.name} (${lang}, ${colorScheme})`, async () => {
          const visit = (await entry.setup?.(context)) ?? {};
          const gw = visit.gateway === 'fresh' ? withoutUsers : withUsers;
          const path = typeof entry.path === 'function' ? entry.path(context) : entry.path;
          // the gateway sits behind a TLS-terminating proxy: plain http to it, X-Forwarded-Proto https
          const page = await browser.newPage({
            bypassCSP: true,
            colorScheme,
            extraHTTPHeaders: { 'x-forwarded-proto': 'https', 'accept-language': lang, ...(visit.cookie ? { cookie: visit.cookie } : {}) },
          });
          try {
            const url = `http://auth.example.test:${gw.port}${path}`;
            if (visit.form) {
              // the browser cannot be made to send the portal's own Origin from here: the post is made as
              // the portal's page would make it, and its answer is what the browser renders
              const body = new URLSearchParams(visit.form).toString();
              const headers = { origin: PORTAL_ORIGIN, 'content-type': 'application/x-www-form-urlencoded', 'accept-language': lang, ...(visit.cookie ? { cookie: visit.cookie } : {}) };
              await page.route(url, async (route) => {
                const answer = await portal(gw, path, { method: 'POST', body, headers });
                await route.fulfill({ status: answer.status, contentType: String(answer.headers['content-type'] ?? 'text/html'), body: answer.body });
              });
            }
            const response = await page.goto(url);
            assert.ok(response, 'a response');
            assert.ok(response.status() < 500 && response.status() !== 403, `status ${response.status()}: ${await response.text()}`);
            await page.emulateMedia({ colorScheme });
            assert.equal(await page.getAttribute('html', 'lang'), lang);
            assert.equal(await page.locator('h1').count(), 1, 'one h1');
            const violations = await seriousViolations(page);
            assert.equal(violations.length, 0, describeViolations(violations));
          } finally {
            await page.close();
          }
        });
      }
    }
  }
});
