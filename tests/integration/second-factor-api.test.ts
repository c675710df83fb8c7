// The second factor through the JSON API (Authelia 4.39's TOTP endpoints, Gatehouse's recovery
// codes), on SQLite and on PostgreSQL, with two gateway instances sharing the database: a code is
// accepted once across both, wrong codes are recorded and then refused for a while, a recovery code
// works once, and only then is the session level 2.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generateSync } from 'otplib';
import pino from 'pino';
import { openStorage } from '../../gateway/storage/open.ts';
import { storageOptionsFromConfig } from '../../gateway/storage/options.ts';
import type { Storage } from '../../gateway/storage/storage.ts';
import type { HttpResponse } from '../helpers/http.ts';
import { login, makeClock, portal, PORTAL_ORIGIN, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';

const PASSWORD = 'correct horse battery staple';
const USERS = {
  alice: { password: PASSWORD, email: 'alice@example.test' },
  bob: { password: PASSWORD },
  carol: { password: PASSWORD },
  dave: { password: PASSWORD },
  frank: { password: PASSWORD },
};
const ACCESS_CONTROL = { default_policy: 'deny', rules: [{ domain: 'secure.example.test', policy: 'two_factor' }, { domain: 'app.example.test', policy: 'one_factor' }] };
const MFA_FAILED = { status: 'KO', message: 'Authentication failed, please retry later.' };

const codeAt = (secret: Buffer, ms: number) => generateSync({ secret: new Uint8Array(secret), epoch: Math.floor(ms / 1000) });

/** Moves the clock to 1 s into the next 30 s step, so a test's codes all fall in one step. */
function startOfStep(clock: { now(): number; advance(ms: number): void }): void {
  clock.advance(30_000 - (clock.now() % 30_000) + 1_000);
}

function api(gw: InProcessGateway, method: string, path: string, cookie: string, json?: unknown): Promise<HttpResponse> {
  return portal(gw, path, { method, headers: { cookie, origin: PORTAL_ORIGIN, accept: 'application/json' }, ...(json !== undefined ? { json } : {}) });
}

/** The session cookie after a response that may have replaced it (a second factor gives a new session id). */
function cookieAfter(response: HttpResponse, before: string): string {
  const fresh = response.cookies.find((c) => c.name === 'gatehouse_session');
  return fresh ? `gatehouse_session=${fresh.value}` : before;
}

async function level(gw: InProcessGateway, cookie: string): Promise<number> {
  const state = await api(gw, 'GET', '/api/state', cookie);
  return state.json<{ data: { authentication_level: number } }>().data.authentication_level;
}

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`second factors through the API (${engine}, two instances)`, () => {
    const clock = makeClock();
    beforeEach(() => startOfStep(clock));
    let one: InProcessGateway;
    let two: InProcessGateway;
    let database: TestDatabase | undefined;
    let storage: Storage;
    const secrets = new Map<string, Buffer>();

    /** Stores a TOTP key for `username` as a finished registration would. */
    async function seedTotp(username: string): Promise<Buffer> {
      const secret = randomBytes(20);
      await storage.totp.save({ username, issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret, createdAt: clock.now() });
      secrets.set(username, secret);
      return secret;
    }

    /** Signs in with password then TOTP; returns the level-2 cookie. */
    async function twoFactors(gw: InProcessGateway, username: string): Promise<string> {
      const cookie = await login(gw, username, PASSWORD);
      const response = await api(gw, 'POST', '/api/secondfactor/totp', cookie, { token: codeAt(secrets.get(username)!, clock.now()) });
      assert.equal(response.status, 200, response.body);
      return cookieAfter(response, cookie);
    }

    before(async () => {
      const config: Record<string, unknown> = { access_control: ACCESS_CONTROL, regulation: { max_retries: 3, find_time: '2m', ban_time: '5m' } };
      if (engine === 'postgres') {
        database = await createTestDatabase();
        const { timeout: _ms, ...connection } = database.options;
        config['storage'] = { local: undefined, postgres: { ...connection, timeout: '5s' } };
      }
      one = await startInProcessGateway({ users: USERS, clock, config });
      // SQLite: the same database file (and users file) in the first gateway's directory
      two = await startInProcessGateway({ users: USERS, clock, config, ...(engine === 'sqlite' ? { dir: one.dir } : {}) });
      storage = await openStorage(storageOptionsFromConfig(one.config.storage), { logger: pino({ level: 'silent' }), migrate: false });
    });
    after(async () => {
      await storage?.close();
      await two?.close();
      await one?.close();
      await database?.drop();
    });

    it('password → level 1; a TOTP code → level 2, redirected to the two_factor target; user info says has_totp', async () => {
      const secret = await seedTotp('alice');
      let cookie = await login(one, 'alice', PASSWORD, { targetURL: 'https://secure.example.test/' });
      assert.equal(await level(one, cookie), 1);
      const info = await api(one, 'GET', '/api/user/info', cookie);
      assert.deepEqual(info.json<{ data: Record<string, unknown> }>().data, {
        display_name: 'alice', emails: ['alice@example.test'], groups: [], method: 'totp', has_totp: true, has_webauthn: false, has_duo: false,
        recovery_codes: { remaining: 0, low: true },
      });
      const wrong = await api(one, 'POST', '/api/secondfactor/totp', cookie, { token: '000000' === codeAt(secret, clock.now()) ? '111111' : '000000' });
      assert.equal(wrong.status, 401);
      assert.deepEqual(wrong.json(), MFA_FAILED);
      assert.equal(await level(one, cookie), 1);
      const right = await api(one, 'POST', '/api/secondfactor/totp', cookie, { token: codeAt(secret, clock.now()), targetURL: 'https://secure.example.test/x?y=1' });
      assert.equal(right.status, 200, right.body);
      assert.deepEqual(right.json(), { status: 'OK', data: { redirect: 'https://secure.example.test/x?y=1' } });
      const fresh = cookieAfter(right, cookie);
      assert.notEqual(fresh, cookie, 'a new session id after the second factor');
      assert.equal(await level(one, cookie), 0, 'the pre-second-factor session id is gone');
      cookie = fresh;
      assert.equal(await level(one, cookie), 2);
    });

    it('a code already accepted on one instance is refused on the other, and again on the first', async () => {
      const secret = await seedTotp('bob');
      // a step recorded a day and more ago: forgotten at the next accepted code, a recent one is kept
      assert.equal(await storage.totp.markStepUsed('bob', 1, clock.now() - 25 * 3_600_000), true);
      assert.equal(await storage.totp.markStepUsed('bob', 2, clock.now() - 3_600_000), true);
      const code = codeAt(secret, clock.now());
      const onOne = await login(one, 'bob', PASSWORD);
      const onTwo = await login(two, 'bob', PASSWORD);
      const again = await login(one, 'bob', PASSWORD);
      assert.equal((await api(one, 'POST', '/api/secondfactor/totp', onOne, { token: code })).status, 200);
      assert.equal(await storage.totp.markStepUsed('bob', 1, clock.now()), true, 'the old step was forgotten');
      assert.equal(await storage.totp.markStepUsed('bob', 2, clock.now()), false, 'the recent step is still known');
      const replayed = await api(two, 'POST', '/api/secondfactor/totp', onTwo, { token: code });
      assert.equal(replayed.status, 401);
      assert.deepEqual(replayed.json(), MFA_FAILED);
      assert.equal((await api(one, 'POST', '/api/secondfactor/totp', again, { token: code })).status, 401);
      assert.equal(await level(two, onTwo), 1);
      // the next step's code is new
      clock.advance(30_000);
      assert.equal((await api(two, 'POST', '/api/secondfactor/totp', onTwo, { token: codeAt(secret, clock.now()) })).status, 200);
    });

    it('wrong codes are recorded; max_retries of them ban the account for ban_time: the right code and the password are refused on both instances until it ends', async () => {
      const secret = await seedTotp('carol');
      const cookie = await login(one, 'carol', PASSWORD);
      for (const token of ['000001', '000002', '000003']) assert.equal((await api(one, 'POST', '/api/secondfactor/totp', cookie, { token })).status, 401);
      const logs = await storage.authenticationLogs.loadByUsername('carol', 0, 10, { authTypes: ['totp'] });
      assert.deepEqual(logs.map((l) => [l.authType, l.successful]), [['totp', false], ['totp', false], ['totp', false]]);
      const refused = await api(one, 'POST', '/api/secondfactor/totp', cookie, { token: codeAt(secret, clock.now()) });
      assert.equal(refused.status, 429, refused.body);
      assert.match(refused.json<{ message: string }>().message, /^Too many attempts: try again in \d+ minutes?\.$/);
      assert.ok(Number(refused.headers['retry-after']) > 0);
      // whoever guesses codes has the password: it is refused too while the ban lasts, on every instance
      await assert.rejects(login(two, 'carol', PASSWORD), /login as carol failed: 401/);
      assert.equal(await level(one, cookie), 1);
      const bans = await storage.bans.activeUserBan('carol', clock.now());
      assert.equal(bans?.source, 'regulation');
      assert.match(bans?.reason ?? '', /^3 wrong second-factor codes within 120s$/);
      clock.advance(121_000);
      assert.equal((await api(one, 'POST', '/api/secondfactor/totp', cookie, { token: codeAt(secret, clock.now()) })).status, 429, 'find_time is over, the ban (5m) is not');
      clock.advance(180_000);
      const elsewhere = await login(two, 'carol', PASSWORD);
      const later = await api(two, 'POST', '/api/secondfactor/totp', elsewhere, { token: codeAt(secret, clock.now()) });
      assert.equal(later.status, 200, later.body);
    });

    it('a burst of wrong codes in parallel gets no more than max_retries of them checked', async () => {
      await seedTotp('frank');
      const cookies = await Promise.all([one, two, one, two].map((gw) => login(gw, 'frank', PASSWORD)));
      const answers = await Promise.all(
        Array.from({ length: 12 }, (_, i) => api(i % 2 ? two : one, 'POST', '/api/secondfactor/totp', cookies[i % 4]!, { token: String(100000 + i) })),
      );
      const statuses = answers.map((a) => a.status);
      assert.ok(statuses.every((s) => s === 401 || s === 429), statuses.join());
      const checked = await storage.authenticationLogs.loadByUsername('frank', 0, 50, { authTypes: ['totp'], banned: false });
      assert.ok(checked.length <= 3, `${checked.length} codes were checked`);
      assert.equal(statuses.filter((s) => s === 401).length, checked.length);
    });

    it('registration needs elevation; a recent second factor elevates; the new key replaces the old after one valid code', async () => {
      clock.advance(30_000);
      const oneFactor = await login(one, 'alice', PASSWORD);
      const refused = await api(one, 'PUT', '/api/secondfactor/totp/register', oneFactor, { algorithm: 'SHA1', length: 6, period: 30 });
      assert.equal(refused.status, 403);
      assert.equal(refused.json<{ message: string }>().message, 'Confirm your identity again to continue.');

      const cookie = await twoFactors(one, 'alice');
      const options = await api(one, 'GET', '/api/secondfactor/totp/register', cookie);
      assert.deepEqual(options.json(), { status: 'OK', data: { algorithm: 'SHA1', algorithms: ['SHA1'], length: 6, lengths: [6], period: 30, periods: [30] } });
      const notAllowed = await api(one, 'PUT', '/api/secondfactor/totp/register', cookie, { algorithm: 'SHA512', length: 6, period: 30 });
      assert.equal(notAllowed.status, 400);
      const started = await api(one, 'PUT', '/api/secondfactor/totp/register', cookie, { algorithm: 'SHA1', length: 6, period: 30 });
      assert.equal(started.status, 200, started.body);
      const { base32_secret, otpauth_url } = started.json<{ data: { base32_secret: string; otpauth_url: string } }>().data;
      assert.equal(new URL(otpauth_url).searchParams.get('secret'), base32_secret);
      const newSecret = Buffer.from(new (await import('otplib')).ScureBase32Plugin().decode(base32_secret));
      assert.equal((await api(one, 'POST', '/api/secondfactor/totp/register', cookie, { token: '123456' === codeAt(newSecret, clock.now()) ? '654321' : '123456' })).status, 403);
      assert.equal((await storage.totp.load('alice'))!.secret.equals(secrets.get('alice')!), true, 'nothing stored before a valid code');
      const finished = await api(one, 'POST', '/api/secondfactor/totp/register', cookie, { token: codeAt(newSecret, clock.now()) });
      assert.equal(finished.status, 200, finished.body);
      assert.equal((await storage.totp.load('alice'))!.secret.equals(newSecret), true);
      const shown = await api(one, 'GET', '/api/secondfactor/totp', cookie);
      assert.deepEqual(Object.keys(shown.json<{ data: object }>().data).sort(), ['algorithm', 'created_at', 'digits', 'issuer', 'period']);
      assert.doesNotMatch(shown.body, new RegExp(base32_secret));
      // the code that confirmed the app is used up; the next one signs in
      const next = await login(two, 'alice', PASSWORD);
      assert.equal((await api(two, 'POST', '/api/secondfactor/totp', next, { token: codeAt(newSecret, clock.now()) })).status, 401);
      clock.advance(30_000);
      assert.equal((await api(two, 'POST', '/api/secondfactor/totp', next, { token: codeAt(secrets.get('alice')!, clock.now()) })).status, 401, 'the old key no longer works');
      assert.equal((await api(two, 'POST', '/api/secondfactor/totp', next, { token: codeAt(newSecret, clock.now()) })).status, 200);
      secrets.set('alice', newSecret);
    });

    it('recovery codes: ten shown once, each works once (any instance), regenerating invalidates the old set', async () => {
      clock.advance(30_000);
      await seedTotp('dave');
      const elevated = await twoFactors(one, 'dave');
      assert.equal((await api(one, 'PUT', '/api/secondfactor/recovery-codes', await login(one, 'dave', PASSWORD), {})).status, 403, 'not elevated');
      const made = await api(one, 'PUT', '/api/secondfactor/recovery-codes', elevated, {});
      const { codes } = made.json<{ data: { codes: string[] } }>().data;
      assert.equal(codes.length, 10);
      assert.equal(new Set(codes).size, 10);
      for (const code of codes) assert.match(code, /^[A-Z2-9]{5}-[A-Z2-9]{5}$/);

      const session = await login(two, 'dave', PASSWORD);
      assert.deepEqual((await api(two, 'GET', '/api/secondfactor/recovery-codes', session)).json(), { status: 'OK', data: { remaining: 10, low: false } });
      const used = await api(two, 'POST', '/api/secondfactor/recovery-code', session, { code: codes[0]!.toLowerCase().replace('-', ' '), targetURL: 'https://secure.example.test/' });
      assert.equal(used.status, 200, used.body);
      assert.deepEqual(used.json(), { status: 'OK', data: { redirect: 'https://secure.example.test/', remaining: 9, low: false } });
      assert.equal(await level(two, cookieAfter(used, session)), 2);
      const reuse = await api(one, 'POST', '/api/secondfactor/recovery-code', await login(one, 'dave', PASSWORD), { code: codes[0] });
      assert.equal(reuse.status, 401);
      const logs = await storage.authenticationLogs.loadByUsername('dave', 0, 10, { authTypes: ['recovery_code'] });
      assert.deepEqual(logs.map((l) => l.successful), [false, true]);

      const again = await api(one, 'PUT', '/api/secondfactor/recovery-codes', elevated, {});
      const fresh = again.json<{ data: { codes: string[] } }>().data.codes;
      const later = await login(one, 'dave', PASSWORD);
      assert.equal((await api(one, 'POST', '/api/secondfactor/recovery-code', later, { code: codes[1] })).status, 401, 'the old set is gone');
      assert.deepEqual((await api(one, 'GET', '/api/secondfactor/recovery-codes', later)).json(), { status: 'OK', data: { remaining: 10, low: false } });
      assert.equal((await api(one, 'POST', '/api/secondfactor/recovery-code', later, { code: fresh[3] })).status, 200);
    });

    it('preferred method and configuration follow Authelia; removing the app (elevated) clears has_totp', async () => {
      const cookie = await twoFactors(one, 'bob');
      assert.deepEqual((await api(one, 'GET', '/api/configuration', cookie)).json(), {
        status: 'OK', data: { available_methods: ['totp', 'webauthn'], password_change_disabled: false, password_reset_disabled: false },
      });
      const bad = await api(one, 'POST', '/api/user/info/2fa_method', cookie, { method: 'duo' });
      assert.equal(bad.status, 400);
      assert.equal((await api(one, 'POST', '/api/user/info/2fa_method', cookie, { method: 'webauthn' })).status, 200);
      assert.equal((await api(one, 'GET', '/api/user/info', cookie)).json<{ data: { method: string } }>().data.method, 'webauthn');
      const removed = await api(one, 'DELETE', '/api/secondfactor/totp', cookie);
      assert.equal(removed.status, 200, removed.body);
      assert.equal((await api(one, 'GET', '/api/user/info', cookie)).json<{ data: { has_totp: boolean } }>().data.has_totp, false);
      assert.equal((await api(one, 'GET', '/api/secondfactor/totp', cookie)).status, 404);
      // without a key there is nothing to check: refused, and not counted as a guess
      const next = await login(one, 'bob', PASSWORD);
      assert.equal((await api(one, 'POST', '/api/secondfactor/totp', next, { token: '123456' })).status, 401);
      assert.equal(await level(one, next), 1);
    });
  });
}
