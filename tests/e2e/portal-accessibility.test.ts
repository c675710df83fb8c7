/**
 * Every portal page in a real headless Chromium, in English and Spanish, light and dark: axe-core finds
 * no serious or critical violation (contrast, names, labels, landmarks, language). A new page is one
 * row of PAGES: its path, and a setup that signs in, posts a form or picks the gateway without users.
 * Chromium is the Debian package; no browser is ever downloaded.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser } from 'playwright-core';
import { describeViolations, seriousViolations } from '../helpers/axe.ts';
import { requireBinary } from '../helpers/binaries.ts';
import { login, portal, PORTAL_ORIGIN, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { clientDigest, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';
import { openStorage } from '../../gateway/storage/open.ts';
import { generateRecoveryCodes } from '../../gateway/secondfactor/recovery-codes.ts';
import { silentLogger } from '../unit/storage/backends.ts';

const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--host-resolver-rules=MAP auth.example.test 127.0.0.1'];
const PASSWORD = 'correct horse battery staple';

interface PageContext {
  /** A fresh session cookie for alice on the gateway with users. */
  signIn(): Promise<string>;
  /** A session of bob's with his password only (bob has an authenticator app and recovery codes). */
  signInBob(): Promise<string>;
  /** A session of bob's with both factors, so elevated for the settings pages that need it. */
  signInTwoFactors(): Promise<string>;
  /** Posts a portal form as its page would (same origin), for a page that shows what the post did. */
  post(path: string, cookie: string, form: Record<string, string>): Promise<void>;
  /** The one-time setup token of the gateway without users. */
  setupToken: string;
  /** alice's session in the middle of an authorization of a client with this consent mode: the consent page's path and cookies. */
  startAuthorization(consent: 'explicit' | 'implicit'): Promise<Visit>;
  /** alice signed in to an app (implicit consent): her cookies, the provider's session among them. */
  signedInToApp(): Promise<Visit>;
}

interface Visit {
  /** 'fresh': the gateway without users (setup is open) */
  gateway?: 'fresh';
  /** the Cookie header to send */
  cookie?: string;
  /** send the navigation as this same-origin form post instead of a GET */
  form?: Record<string, string>;
  /** the path, when the setup made it (an OpenID Connect interaction's uid) */
  path?: string;
}

interface PortalPage {
  name: string;
  path: string | ((c: PageContext) => string);
  setup?: (c: PageContext) => Promise<Visit>;
  /** the status the page is answered with, when it is a refusal page of its own (a link that is not valid) */
  status?: number;
}

const signedIn = async (c: PageContext): Promise<Visit> => ({ cookie: await c.signIn() });
const fresh = async (): Promise<Visit> => ({ gateway: 'fresh' });
const bob = async (c: PageContext): Promise<Visit> => ({ cookie: await c.signInBob() });
const elevated = async (c: PageContext): Promise<Visit> => ({ cookie: await c.signInTwoFactors() });

/** bob's authenticator-app seed (SHA1, 6 digits, 30 s) and its code at `nowMs` (RFC 6238, written out here). */
const BOB_SEED = Buffer.from('3132333435363738393031323334353637383930', 'hex');
function totpCode(nowMs: number): string {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(nowMs / 30_000)));
  const mac = createHmac('sha1', BOB_SEED).update(counter).digest();
  const offset = mac[mac.length - 1]! & 0x0f;
  return String((mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000).padStart(6, '0');
}

/** Every portal page (other engineers' pages are added here as rows). */
const PAGES: readonly PortalPage[] = [
  { name: 'sign in', path: '/?rd=https%3A%2F%2Fapp.example.test%2F' },
  { name: 'sign in with an error', path: '/login', setup: async () => ({ form: { username: 'someone', password: 'wrong', rd: '', rm: '' } }) },
  { name: 'setup required (message)', path: '/', setup: fresh },
  { name: 'setup', path: (c) => `/setup?token=${c.setupToken}`, setup: fresh },
  { name: 'setup with an error', path: '/setup', setup: async (c) => ({ gateway: 'fresh', form: { token: c.setupToken, username: 'root', password: 'short', confirm: 'short' } }) },
  { name: 'setup link not valid (message)', path: '/setup?token=wrong', setup: fresh },
  { name: 'signed in', path: '/', setup: signedIn },
  // alice's settings list her OpenID Connect app and remembered consent (seeded in before())
  { name: 'settings', path: '/settings', setup: signedIn },
  { name: 'settings with second factors', path: '/settings', setup: bob },
  { name: 'settings: a consent revoked', path: '/settings?apps=revoked', setup: signedIn },
  // the second-factor step
  { name: 'second factor: none enrolled', path: '/2fa', setup: signedIn },
  { name: 'second factor: authenticator app', path: '/2fa?rd=https%3A%2F%2Fapp.example.test%2F', setup: bob },
  { name: 'second factor: recovery code', path: '/2fa?method=recovery', setup: bob },
  { name: 'second factor: wrong code', path: '/2fa/totp', setup: async (c) => ({ cookie: await c.signInBob(), form: { code: '000000', rd: '', rm: '' } }) },
  // confirming identity, reset and change of password
  { name: 'confirm identity', path: '/elevate?rd=https%3A%2F%2Fauth.example.test%2Fsettings%2Fpassword', setup: signedIn },
  {
    name: 'confirm identity: code sent',
    path: '/elevate',
    setup: async (c) => {
      const cookie = await c.signIn();
      await c.post('/elevate/send', cookie, { rd: '' });
      return { cookie };
    },
  },
  { name: 'revoke a one-time code', path: '/elevate/revoke?id=00000000-0000-0000-0000-000000000000', setup: async () => ({}) },
  { name: 'reset password', path: '/reset-password' },
  { name: 'reset password: link sent', path: '/reset-password', setup: async () => ({ form: { username: 'alice' } }) },
  { name: 'reset password: link not valid', path: '/reset-password/finish?token=not-a-token', status: 403 },
  { name: 'revoke a reset link', path: '/reset-password/revoke?token=not-a-token' },
  { name: 'change password', path: '/settings/password', setup: elevated },
  // second-factor settings (elevated)
  { name: 'authenticator app registration', path: '/settings/totp', setup: elevated },
  { name: 'security keys and passkeys', path: '/settings/webauthn', setup: elevated },
  { name: 'new recovery codes', path: '/settings/recovery-codes', setup: async (c) => ({ cookie: await c.signInTwoFactors(), form: {} }) },
  // the OpenID Connect provider's pages
  { name: 'OpenID Connect consent', path: '/', setup: async (c) => c.startAuthorization('explicit') },
  { name: 'OpenID Connect sign-out question', path: '/api/oidc/end-session', setup: async (c) => c.signedInToApp() },
  { name: 'OpenID Connect signed out', path: '/api/oidc/end-session/success' },
  { name: 'OpenID Connect request refused', path: '/api/oidc/authorization?client_id=nobody&response_type=code&scope=openid', status: 400 },
];

const RP_REDIRECT = 'https://app.example.test/callback';
const rpClient = (id: string, consent: string) => ({ client_id: id, public: true, redirect_uris: [RP_REDIRECT], authorization_policy: 'one_factor', consent_mode: consent });
/** An authorization request of the public client `id`, as the app would send the browser to it. */
function authorizationPath(id: string): string {
  const query = new URLSearchParams({ client_id: id, response_type: 'code', scope: 'openid profile email groups', redirect_uri: RP_REDIRECT, code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 'st-123456789' });
  return `/api/oidc/authorization?${query}`;
}

const LANGUAGES = ['en', 'es'] as const;
const SCHEMES = ['light', 'dark'] as const;

describe('portal pages in Chromium: no serious or critical axe-core violation', () => {
  let browser: Browser;
  let withUsers: InProcessGateway;
  let withoutUsers: InProcessGateway;
  let context: PageContext;
  let temp: { dir: string; cleanup(): Promise<void> };

  before(async () => {
    // fails with "install the Debian package chromium" rather than skipping
    const executablePath = requireBinary('chromium', 'chromium');
    temp = await makeTempDir('gatehouse-a11y-');
    withUsers = await startInProcessGateway({
      dir: temp.dir,
      users: {
        alice: { password: PASSWORD, displayname: 'Alice Liddell', email: 'alice@example.test', groups: ['dev'] },
        bob: { password: PASSWORD, displayname: 'Bob', email: 'bob@example.test', groups: ['dev'] },
      },
      // the error pages are posted once per language and theme: no ban in between
      config: {
        access_control: { default_policy: 'one_factor' },
        regulation: { max_retries: 100 },
        notifier: { filesystem: { filename: join(temp.dir, 'notifications.txt') } },
        identity_providers: {
          oidc: {
            jwks: [{ key: testSigningKey() }],
            clients: [
              rpClient('explicit', 'explicit'),
              rpClient('implicit', 'implicit'),
              {
                client_id: 'wiki',
                client_name: 'The Wiki',
                client_secret: await clientDigest('app-secret-that-is-long-enough-123'),
                redirect_uris: ['https://wiki.example.test/oauth2/callback'],
                scopes: ['openid', 'profile', 'email'],
                authorization_policy: 'one_factor',
                consent_mode: 'pre-configured',
                pre_configured_consent_duration: '1w',
              },
            ],
          },
        },
      },
    });
    // bob has an authenticator app and recovery codes, as the settings and second-factor pages show them
    const storage = await openStorage({ encryption_key: 'a-test-encryption-key-long-enough', local: { path: join(temp.dir, 'db.sqlite3') } }, { logger: silentLogger, migrate: false });
    try {
      await storage.totp.save({ username: 'bob', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret: BOB_SEED, createdAt: withUsers.clock.now() });
      await storage.recoveryCodes.replace('bob', generateRecoveryCodes(), withUsers.clock.now());
      // alice is signed in to the wiki (a grant) and asked it to remember her consent
      const now = withUsers.clock.now();
      const sub = await storage.oidc.subjectFor('alice', now);
      await storage.oidc.upsert('Grant', 'a11y-grant', { kind: 'Grant', accountId: sub, clientId: 'wiki', openid: { scope: 'openid profile email' } }, 3600, now);
      await storage.oidc.recordConsent({ username: 'alice', clientId: 'wiki', scopes: ['openid', 'profile', 'email'], claims: [], grantedAt: now, expiresAt: now + 7 * 86_400_000 });
    } finally {
      await storage.close();
    }
    withoutUsers = await startInProcessGateway({ config: { access_control: { default_policy: 'one_factor' } } });
    const setupUrl = withoutUsers.gateway.setupUrl();
    assert.ok(setupUrl);
    context = {
      signIn: () => login(withUsers, 'alice', PASSWORD),
      signInBob: () => login(withUsers, 'bob', PASSWORD),
      async post(path, cookie, form) {
        const answer = await portal(withUsers, path, { method: 'POST', body: new URLSearchParams(form).toString(), headers: { cookie, origin: PORTAL_ORIGIN, 'content-type': 'application/x-www-form-urlencoded' } });
        assert.ok(answer.status < 400, `${path}: ${answer.status} ${answer.body}`);
      },
      async signInTwoFactors() {
        // a code is accepted once per step: each sign-in moves the gateway's clock to a fresh one
        withUsers.clock.advance(30_000);
        const cookie = await login(withUsers, 'bob', PASSWORD);
        const answer = await portal(withUsers, '/api/secondfactor/totp', { method: 'POST', json: { token: totpCode(withUsers.clock.now()) }, headers: { cookie, origin: PORTAL_ORIGIN } });
        const renewed = answer.cookies.find((c) => c.name === 'gatehouse_session');
        assert.ok(answer.status === 200 && renewed, `second factor: ${answer.status} ${answer.body}`);
        return `gatehouse_session=${renewed.value}`;
      },
      setupToken: new URL(setupUrl).searchParams.get('token') ?? '',
      async startAuthorization(consent) {
        const browser = new OidcBrowser(withUsers.port, await login(withUsers, 'alice', PASSWORD));
        const { last } = await browser.visit(authorizationPath(consent));
        const at = browser.seen.find((answer) => String(answer.headers.location ?? '').includes('/oidc/interaction/'));
        assert.ok(at, `no interaction: ${last.status} ${last.body.slice(0, 200)}`);
        return { cookie: browser.jar.headers().cookie!, path: new URL(String(at.headers.location), PORTAL_ORIGIN).pathname };
      },
      async signedInToApp() {
        const browser = new OidcBrowser(withUsers.port, await login(withUsers, 'alice', PASSWORD));
        const { leftTo } = await browser.visit(authorizationPath('implicit'));
        assert.ok(leftTo?.searchParams.get('code'), 'the app got a code');
        return { cookie: browser.jar.headers().cookie! };
      },
    };
    browser = await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  });

  after(async () => {
    await browser?.close();
    await withUsers?.close();
    await withoutUsers?.close();
    await temp?.cleanup();
  });

  for (const entry of PAGES) {
    for (const lang of LANGUAGES) {
      {
        // one load per page and language; both themes are checked on it (the media query is switched)
        it(`${entry.name} (${lang}, light and dark)`, async () => {
          const visit = (await entry.setup?.(context)) ?? {};
          const gw = visit.gateway === 'fresh' ? withoutUsers : withUsers;
          const path = visit.path ?? (typeof entry.path === 'function' ? entry.path(context) : entry.path);
          // the gateway sits behind a TLS-terminating proxy: plain http to it, X-Forwarded-Proto https
          const page = await browser.newPage({
            bypassCSP: true,
            colorScheme: 'light',
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
            if (entry.status) assert.equal(response.status(), entry.status);
            else assert.ok(response.status() < 500 && response.status() !== 403, `status ${response.status()}: ${await response.text()}`);
            assert.equal(await page.getAttribute('html', 'lang'), lang);
            assert.equal(await page.locator('h1').count(), 1, 'one h1');
            for (const colorScheme of SCHEMES) {
              await page.emulateMedia({ colorScheme });
              const violations = await seriousViolations(page);
              assert.equal(violations.length, 0, `${colorScheme}: ${describeViolations(violations)}`);
            }
          } finally {
            await page.close();
          }
        });
      }
    }
  }
});
