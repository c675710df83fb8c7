// Adding or removing an authenticator app mails the user (a real SMTP server reads what arrived), in
// the language of the request; the device is named in words for people, in that language.
import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generateSync, ScureBase32Plugin } from 'otplib';
import pino from 'pino';
import { openStorage } from '../../gateway/storage/open.ts';
import { storageOptionsFromConfig } from '../../gateway/storage/options.ts';
import type { Storage } from '../../gateway/storage/storage.ts';
import { login, makeClock, portal, PORTAL_ORIGIN, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp-server.ts';

const PASSWORD = 'correct horse battery staple';
const codeAt = (secret: Buffer, ms: number) => generateSync({ secret: new Uint8Array(secret), epoch: Math.floor(ms / 1000) });

/** Moves the clock to 1 s into the next 30 s step, so a test's codes all fall in one step. */
function startOfStep(clock: { now(): number; advance(ms: number): void }): void {
  clock.advance(30_000 - (clock.now() % 30_000) + 1_000);
}

describe('mail when an authenticator app is added or removed', () => {
  const clock = makeClock();
  beforeEach(() => startOfStep(clock));
  let smtp: TestSmtpServer;
  let gw: InProcessGateway;
  let storage: Storage;
  const secret = randomBytes(20);

  before(async () => {
    smtp = await startSmtpServer({ tls: 'none' });
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD, displayname: 'Alice Liddell', email: 'alice@example.test' } },
      clock,
      config: {
        access_control: { default_policy: 'one_factor' },
        notifier: { disable_startup_check: true, smtp: { address: `smtp://127.0.0.1:${smtp.port}`, sender: 'Gatehouse <auth@example.test>', disable_require_tls: true } },
      },
    });
    storage = await openStorage(storageOptionsFromConfig(gw.config.storage), { logger: pino({ level: 'silent' }), migrate: false });
    await storage.totp.save({ username: 'alice', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret, createdAt: clock.now() });
  });
  after(async () => {
    await storage?.close();
    await gw?.close();
    await smtp?.close();
  });

  const api = (method: string, path: string, cookie: string, json?: unknown, language = 'en') =>
    portal(gw, path, { method, headers: { cookie, origin: PORTAL_ORIGIN, accept: 'application/json', 'accept-language': language }, ...(json !== undefined ? { json } : {}) });

  it('a new app (Spanish request) and its removal (English request) each send one mail to the user', async () => {
    const first = await login(gw, 'alice', PASSWORD);
    const second = await api('POST', '/api/secondfactor/totp', first, { token: codeAt(secret, clock.now()) });
    const cookie = `gatehouse_session=${second.cookies.find((c) => c.name === 'gatehouse_session')!.value}`;
    const started = await api('PUT', '/api/secondfactor/totp/register', cookie, { algorithm: 'SHA1', length: 6, period: 30 });
    const newSecret = Buffer.from(new ScureBase32Plugin().decode(started.json<{ data: { base32_secret: string } }>().data.base32_secret));
    const finished = await api('POST', '/api/secondfactor/totp/register', cookie, { token: codeAt(newSecret, clock.now()) }, 'es-ES,es;q=0.9');
    assert.deepEqual(finished.json(), { status: 'OK' });
    const toAlice = () => smtp.received.filter((mail) => mail.envelopeTo.includes('alice@example.test'));
    assert.equal(toAlice().length, 1);
    assert.match(toAlice()[0]!.headers.get('subject')!, /Se añadió un dispositivo a tu cuenta/);
    assert.match(toAlice()[0]!.text, /El dispositivo 'App de autenticación' ya puede usarse/);

    const removed = await api('DELETE', '/api/secondfactor/totp', cookie);
    assert.deepEqual(removed.json(), { status: 'OK' });
    assert.equal(toAlice().length, 2);
    assert.match(toAlice()[1]!.headers.get('subject')!, /A device was removed from your account/);
    assert.match(toAlice()[1]!.text, /The device 'Authenticator app' can no longer be used/);
  });

  it('a new set of recovery codes mails the user too: a session taken over could otherwise mint a silent way past the second factor', async () => {
    // the test before removed alice's app: she has one again
    await storage.totp.save({ username: 'alice', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret, createdAt: clock.now() });
    const first = await login(gw, 'alice', PASSWORD);
    const second = await api('POST', '/api/secondfactor/totp', first, { token: codeAt(secret, clock.now()) });
    assert.equal(second.status, 200, second.body);
    const cookie = `gatehouse_session=${second.cookies.find((c) => c.name === 'gatehouse_session')!.value}`;
    const before = smtp.received.length;
    const made = await api('PUT', '/api/secondfactor/recovery-codes', cookie, {});
    assert.equal(made.json<{ data: { codes: string[] } }>().data.codes.length, 10);
    const mails = smtp.received.slice(before);
    assert.equal(mails.length, 1);
    assert.match(mails[0]!.headers.get('subject')!, /New recovery codes were made for your account/);
    assert.ok(!mails[0]!.text.includes(made.json<{ data: { codes: string[] } }>().data.codes[0]!), 'the codes themselves are never mailed');
  });
});
