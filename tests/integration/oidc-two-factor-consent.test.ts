/**
 * The portal decides OpenID Connect authorizations: a two_factor client sends a one-factor session to
 * the second-factor step and no code leaves before it (TOTP codes from oathtool, an independent RFC
 * 6238 implementation); consent pages for explicit clients (accept, reject); a pre-configured consent
 * remembered, listed, and skipped the next time.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import * as client from 'openid-client';
import { openStorage } from '../../gateway/storage/open.ts';
import { storageOptionsFromConfig } from '../../gateway/storage/options.ts';
import type { Storage } from '../../gateway/storage/storage.ts';
import { requireBinary } from '../helpers/binaries.ts';
import { login, portal, PORTAL_ORIGIN, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { clientDigest, codeFlowStart, discover, OidcBrowser, testSigningKey } from '../helpers/oidc.ts';

const REDIRECT = 'https://app.example.test/oauth2/callback';
const SECRET = 'app-secret-that-is-long-enough-123';
const PASSWORD = 'Old-Lantern-Orbit-47';
const oathtool = requireBinary('oathtool', 'oathtool');

/** The TOTP code oathtool computes for `secret` at the gateway's `nowMs`. */
function oathCode(secret: Buffer, nowMs: number): string {
  const when = new Date(nowMs).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  return execFileSync(oathtool, ['--totp=sha1', '-d', '6', '-s', '30', '--now', when, secret.toString('hex')], { encoding: 'utf8' }).trim();
}

describe('OpenID Connect: two factors and consent, decided by the portal', () => {
  let gw: InProcessGateway;
  let storage: Storage;
  const totpSecret = randomBytes(20);
  before(async () => {
    const digest = await clientDigest(SECRET);
    const base = { client_secret: digest, redirect_uris: [REDIRECT], scopes: ['openid', 'profile', 'email', 'groups'] };
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD, email: 'alice@example.test' }, bob: { password: PASSWORD } },
      config: {
        access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
        identity_providers: {
          oidc: {
            jwks: [{ key: testSigningKey() }],
            clients: [
              { client_id: 'vault', client_name: 'The Vault', ...base, authorization_policy: 'two_factor', consent_mode: 'implicit' },
              { client_id: 'wiki', client_name: 'The Wiki', ...base, authorization_policy: 'one_factor', consent_mode: 'explicit' },
              { client_id: 'chat', client_name: 'The Chat', ...base, authorization_policy: 'one_factor', consent_mode: 'pre-configured', pre_configured_consent_duration: '1w' },
            ],
          },
        },
      },
    });
    storage = await openStorage(storageOptionsFromConfig(gw.config.storage), { logger: pino({ level: 'silent' }), migrate: false });
    await storage.totp.save({ username: 'alice', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret: totpSecret, createdAt: gw.clock.now() });
  });
  after(async () => {
    await storage?.close();
    await gw?.close();
  });

  it('two_factor client: a one-factor session goes to /2fa and gets no code; after TOTP the ID token says pwd+otp, two_factor', async () => {
    const config = await discover(gw.port, 'vault', SECRET);
    const browser = new OidcBrowser(gw.port, await login(gw, 'alice', PASSWORD));
    const start = await codeFlowStart(config, REDIRECT);
    const first = await browser.visit(start.url.href);
    assert.equal(first.leftTo, null, `a code left with one factor: ${first.leftTo?.href}`);
    assert.ok(browser.seen.every((seen) => !String(seen.headers.location ?? '').startsWith(REDIRECT)), 'no redirect to the client');
    const toStep = browser.seen.find((seen) => String(seen.headers.location ?? '').includes('2fa?rd='));
    assert.ok(toStep, `never sent to the second factor: ${browser.seen.map((s) => `${s.status} ${s.headers.location ?? ''}`).join(', ')}`);
    const back = new URL(String(toStep.headers.location), PORTAL_ORIGIN).searchParams.get('rd')!;
    assert.match(back, /^https:\/\/auth\.example\.test\/oidc\/interaction\//);
    // the interaction page again, still one factor: still the step
    const again = await browser.visit(back);
    assert.equal(again.leftTo, null);
    // nor does a consent form posted straight to it
    const forced = await browser.visit(back, { decision: 'accept' });
    assert.equal(forced.leftTo, null);
    assert.ok(browser.seen.every((seen) => !String(seen.headers.location ?? '').startsWith(REDIRECT)), 'no redirect to the client');

    // the TOTP step over HTTP, with oathtool's code
    const step = await portal(gw, '/api/secondfactor/totp', {
      method: 'POST',
      headers: { ...browser.jar.headers(), origin: PORTAL_ORIGIN, accept: 'application/json' },
      json: { token: oathCode(totpSecret, gw.clock.now()), targetURL: back },
    });
    assert.equal(step.status, 200, step.body);
    browser.jar.store(step);
    const { leftTo, last } = await browser.visit(back);
    assert.ok(leftTo, `the flow never left the portal after the second factor: ${last.status} ${last.body.slice(0, 200)}`);
    assert.equal(`${leftTo.origin}${leftTo.pathname}`, REDIRECT);
    const tokens = await client.authorizationCodeGrant(config, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    const claims = tokens.claims()!;
    assert.ok(Array.isArray(claims.amr) && claims.amr.includes('pwd') && claims.amr.includes('otp'), `amr: ${JSON.stringify(claims.amr)}`);
    assert.equal(claims.acr, 'two_factor');
  });

  it('acr_values=two_factor from a one_factor client: a one-factor session is sent to the second factor too', async () => {
    const config = await discover(gw.port, 'wiki', SECRET);
    const browser = new OidcBrowser(gw.port, await login(gw, 'bob', PASSWORD));
    const { leftTo } = await browser.visit((await codeFlowStart(config, REDIRECT, 'openid', { acr_values: 'two_factor' })).url.href);
    assert.equal(leftTo, null);
    assert.ok(browser.seen.some((seen) => String(seen.headers.location ?? '').includes('2fa?rd=')));
    assert.ok(browser.seen.every((seen) => !String(seen.headers.location ?? '').startsWith(REDIRECT)));
  });

  it('explicit consent: the page names the client; accept completes the flow', async () => {
    const config = await discover(gw.port, 'wiki', SECRET);
    const browser = new OidcBrowser(gw.port, await login(gw, 'bob', PASSWORD));
    const start = await codeFlowStart(config, REDIRECT);
    const page = await browser.visit(start.url.href);
    assert.equal(page.leftTo, null);
    assert.equal(page.last.status, 200);
    assert.match(String(page.last.headers['content-type']), /text\/html/);
    assert.match(page.last.body, /The Wiki/);
    const action = /<form method="post" action="([^"]+)"/.exec(page.last.body)?.[1];
    assert.ok(action, 'a consent form');
    assert.doesNotMatch(page.last.body, /name="remember"/, 'explicit: nothing to remember');
    // a remember=on sent anyway is ignored
    const { leftTo } = await browser.visit(new URL(action, PORTAL_ORIGIN).href, { decision: 'accept', remember: 'on' });
    assert.ok(leftTo);
    assert.equal(`${leftTo.origin}${leftTo.pathname}`, REDIRECT);
    const tokens = await client.authorizationCodeGrant(config, leftTo, { pkceCodeVerifier: start.verifier, expectedState: start.state, expectedNonce: start.nonce });
    assert.equal(tokens.claims()!.aud, 'wiki');
    assert.deepEqual(await storage.oidc.listConsents('bob', gw.clock.now()), []);
    // explicit: asked again next time
    const next = await browser.visit((await codeFlowStart(config, REDIRECT)).url.href);
    assert.equal(next.leftTo, null);
    assert.match(next.last.body, /The Wiki/);
  });

  it('explicit consent: reject gives the client error=access_denied and no code', async () => {
    const config = await discover(gw.port, 'wiki', SECRET);
    const browser = new OidcBrowser(gw.port, await login(gw, 'bob', PASSWORD));
    const start = await codeFlowStart(config, REDIRECT);
    const page = await browser.visit(start.url.href);
    const action = /<form method="post" action="([^"]+)"/.exec(page.last.body)?.[1];
    assert.ok(action);
    const { leftTo } = await browser.visit(new URL(action, PORTAL_ORIGIN).href, { decision: 'reject' });
    assert.ok(leftTo);
    assert.equal(`${leftTo.origin}${leftTo.pathname}`, REDIRECT);
    assert.equal(leftTo.searchParams.get('error'), 'access_denied');
    assert.equal(leftTo.searchParams.get('code'), null);
    assert.equal(leftTo.searchParams.get('state'), start.state);
  });

  // last: it moves the gateway's clock
  it('pre-configured consent: remember=on stores it (listed), the next authorization skips the page, until it expires', async () => {
    const config = await discover(gw.port, 'chat', SECRET);
    const browser = new OidcBrowser(gw.port, await login(gw, 'bob', PASSWORD));
    const start = await codeFlowStart(config, REDIRECT);
    const page = await browser.visit(start.url.href);
    assert.match(page.last.body, /The Chat/);
    assert.match(page.last.body, /name="remember"/);
    const action = /<form method="post" action="([^"]+)"/.exec(page.last.body)?.[1];
    assert.ok(action);
    const { leftTo } = await browser.visit(new URL(action, PORTAL_ORIGIN).href, { decision: 'accept', remember: 'on' });
    assert.ok(leftTo && leftTo.searchParams.get('code'));
    const consents = await storage.oidc.listConsents('bob', gw.clock.now());
    assert.equal(consents.length, 1);
    assert.equal(consents[0]!.clientId, 'chat');
    assert.deepEqual([...consents[0]!.scopes].sort(), ['email', 'groups', 'openid', 'profile']);
    const week = 7 * 86_400_000;
    assert.ok(consents[0]!.expiresAt !== null && Math.abs(consents[0]!.expiresAt - (consents[0]!.grantedAt + week)) < 1_000);
    // the next authorization goes straight back to the client
    const next = await codeFlowStart(config, REDIRECT);
    const skipped = await browser.visit(next.url.href);
    assert.ok(skipped.leftTo, `the consent page again: ${skipped.last.status}`);
    const tokens = await client.authorizationCodeGrant(config, skipped.leftTo, { pkceCodeVerifier: next.verifier, expectedState: next.state, expectedNonce: next.nonce });
    assert.equal(tokens.claims()!.aud, 'chat');
    // a week later (by the gateway's clock) the remembered consent is over: asked again
    gw.clock.advance(week + 60_000);
    assert.deepEqual(await storage.oidc.listConsents('bob', gw.clock.now()), []);
    const later = new OidcBrowser(gw.port, await login(gw, 'bob', PASSWORD));
    const asked = await later.visit((await codeFlowStart(config, REDIRECT)).url.href);
    assert.equal(asked.leftTo, null);
    assert.match(asked.last.body, /The Chat/);
  });
});
