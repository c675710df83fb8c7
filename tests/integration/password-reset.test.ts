/**
 * Password reset by e-mail against a real SMTP server: the uniform answer, the link (single use, 5
 * minutes, revocable by a POST), the new password under the one policy, the sessions it ends, the
 * "password changed" notice, the limits, `password_reset.disable`, the filesystem notifier and a
 * mail server that refuses the message.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { firstFactor, login, portal, startInProcessGateway } from '../helpers/inprocess-gateway.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { ACCESS_CONTROL, auditLines, linkIn, mailTo, postForm, postJson, sessionCookie, startMailingGateway, USERS, waitFor, type MailingGateway } from '../helpers/self-service.ts';

const NEW_PASSWORD = 'Fresh-Quartz-Harbour-83';
const FIFTEEN_MINUTES = 15 * 60_000;

describe('password reset by e-mail', () => {
  let m: MailingGateway;
  before(async () => {
    m = await startMailingGateway();
  });
  after(() => m.close());
  // each test starts with fresh rate-limit windows
  beforeEach(() => m.gw.clock.advance(FIFTEEN_MINUTES + 1000));

  async function requestLink(username: string, headers: Record<string, string> = {}) {
    const before = m.smtp.received.length;
    const answer = await postJson(m.gw, '/api/reset-password/identity/start', { username }, headers);
    return { answer, mail: () => mailTo(m.smtp, `${username}@example.test`, before)[0] };
  }

  it('start answers OK and mails a link in the language of the request (es), with a revocation link', async () => {
    const { answer, mail } = await requestLink('alice', { 'accept-language': 'es-ES,es;q=0.9' });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.json(), { status: 'OK' });
    const received = await waitFor('the reset mail', mail);
    assert.match(received.headers.get('subject') ?? '', /Restablece tu contraseña/);
    assert.match(received.text, /Alguien pidió restablecer la contraseña/);
    const link = linkIn(received, '/reset-password/finish');
    assert.equal(link.origin, 'https://auth.example.test');
    assert.match(link.searchParams.get('token') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.equal(linkIn(received, '/reset-password/revoke').searchParams.get('token'), link.searchParams.get('token'));
  });

  it('an unknown user gets the very same answer and no mail; the audit says nothing was sent', async () => {
    const known = await requestLink('alice');
    await waitFor('the reset mail', known.mail);
    const before = m.smtp.received.length;
    const unknown = await postJson(m.gw, '/api/reset-password/identity/start', { username: 'mallory' });
    assert.equal(unknown.status, known.answer.status);
    assert.equal(unknown.body, known.answer.body);
    await waitFor('the audit line', () => auditLines(m.gw).find((l) => l.includes('password reset requested') && l.includes('user=mallory')));
    assert.match(auditLines(m.gw).find((l) => l.includes('user=mallory'))!, /nothing_sent/);
    assert.equal(m.smtp.received.length, before);
  });

  it('the page sets the new password: the old one stops working, older sessions end, a notice is mailed, the link is spent', async () => {
    // a fresh gateway: this test changes alice's password
    const own = await startMailingGateway();
    try {
      const oldSession = await login(own.gw, 'alice', USERS.alice!.password);
      const before = own.smtp.received.length;
      await postForm(own.gw, '/reset-password', { username: 'alice' });
      const mail = await waitFor('the reset mail', () => mailTo(own.smtp, 'alice@example.test', before)[0]);
      const link = linkIn(mail, '/reset-password/finish');
      const page = await portal(own.gw, `${link.pathname}${link.search}`);
      assert.equal(page.status, 200);
      assert.match(page.body, /<label for="password">/);
      const token = link.searchParams.get('token')!;
      // a password the policy refuses is refused before the link is spent
      const weak = await postForm(own.gw, '/reset-password/finish', { token, password: 'short', confirm: 'short' });
      assert.equal(weak.status, 400);
      assert.match(weak.body, /at least 10 characters/);
      const differ = await postForm(own.gw, '/reset-password/finish', { token, password: NEW_PASSWORD, confirm: `${NEW_PASSWORD}x` });
      assert.equal(differ.status, 400);
      const done = await postForm(own.gw, '/reset-password/finish', { token, password: NEW_PASSWORD, confirm: NEW_PASSWORD });
      assert.equal(done.status, 200);
      assert.match(done.body, /Your password was changed/);
      assert.equal((await firstFactor(own.gw, { username: 'alice', password: USERS.alice!.password })).status, 401);
      assert.equal((await firstFactor(own.gw, { username: 'alice', password: NEW_PASSWORD })).status, 200);
      assert.equal((await portal(own.gw, '/api/user/info', { headers: { cookie: oldSession } })).status, 403, 'the session from before the reset ended');
      const notice = await waitFor('the notice', () => mailTo(own.smtp, 'alice@example.test', before).find((m) => /password was changed/.test(m.headers.get('subject') ?? '')));
      assert.match(notice.text, /just changed/);
      const again = await postForm(own.gw, '/reset-password/finish', { token, password: 'Another-Pass-Word-55', confirm: 'Another-Pass-Word-55' });
      assert.equal(again.status, 403, 'single use');
      assert.match(again.body, /already used|not valid/);
      assert.ok(auditLines(own.gw).some((l) => l.startsWith('gatehouse-account: password changed;') && l.includes('user=alice')));
    } finally {
      await own.close();
    }
  });

  it('the link expires after jwt_lifespan (5 minutes)', async () => {
    const { mail } = await requestLink('bob');
    const link = linkIn(await waitFor('the reset mail', mail), '/reset-password/finish');
    assert.equal((await portal(m.gw, `${link.pathname}${link.search}`)).status, 200);
    m.gw.clock.advance(5 * 60_000 + 1000);
    const expired = await portal(m.gw, `${link.pathname}${link.search}`);
    assert.equal(expired.status, 403);
    assert.match(expired.body, /expired, was already used or was revoked/);
  });

  it('revocation: the link in the mail shows a button (a GET revokes nothing); the POST revokes', async () => {
    const { mail } = await requestLink('bob');
    const received = await waitFor('the reset mail', mail);
    const revoke = linkIn(received, '/reset-password/revoke');
    const finish = linkIn(received, '/reset-password/finish');
    const page = await portal(m.gw, `${revoke.pathname}${revoke.search}`);
    assert.equal(page.status, 200);
    assert.match(page.body, /<form method="post" action="\/reset-password\/revoke">/);
    assert.equal((await portal(m.gw, `${finish.pathname}${finish.search}`)).status, 200, 'still valid after the GET');
    const revoked = await postForm(m.gw, '/reset-password/revoke', { token: revoke.searchParams.get('token')! });
    assert.equal(revoked.status, 200);
    assert.equal((await portal(m.gw, `${finish.pathname}${finish.search}`)).status, 403);
    assert.ok(auditLines(m.gw).some((l) => l.includes('password reset link revoked') && l.includes('user=bob')));
  });

  it('the JSON API as Authelia: start, finish {token} lets this browser set the password, DELETE revokes', async () => {
    const own = await startMailingGateway();
    try {
      let before = own.smtp.received.length;
      await postJson(own.gw, '/api/reset-password/identity/start', { username: 'bob' });
      let token = linkIn(await waitFor('mail', () => mailTo(own.smtp, 'bob@example.test', before)[0]), '/finish').searchParams.get('token')!;
      assert.equal((await postJson(own.gw, '/api/reset-password', { password: NEW_PASSWORD })).status, 403, 'no link used yet');
      const finish = await postJson(own.gw, '/api/reset-password/identity/finish', { token });
      assert.equal(finish.status, 200);
      const cookie = sessionCookie(finish);
      assert.ok(cookie);
      const weak = await postJson(own.gw, '/api/reset-password', { password: 'bob' }, { cookie });
      assert.equal(weak.status, 400);
      const set = await postJson(own.gw, '/api/reset-password', { password: NEW_PASSWORD }, { cookie });
      assert.equal(set.status, 200);
      assert.equal((await firstFactor(own.gw, { username: 'bob', password: NEW_PASSWORD })).status, 200);
      assert.equal((await postJson(own.gw, '/api/reset-password', { password: 'Yet-Another-Pass-77' }, { cookie })).status, 403, 'the grant is used up');
      // DELETE /api/reset-password {token}
      before = own.smtp.received.length;
      await postJson(own.gw, '/api/reset-password/identity/start', { username: 'bob' });
      token = linkIn(await waitFor('mail', () => mailTo(own.smtp, 'bob@example.test', before).find((m) => m.text.includes('/finish'))), '/finish').searchParams.get('token')!;
      assert.equal((await postJson(own.gw, '/api/reset-password', { token }, {}, 'DELETE')).status, 200);
      assert.equal((await postJson(own.gw, '/api/reset-password/identity/finish', { token })).status, 403);
    } finally {
      await own.close();
    }
  });

  it('rate-limited per user: the fourth request in 15 minutes is refused, for a known and an unknown name alike', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await postJson(m.gw, '/api/reset-password/identity/start', { username: 'alice' })).status, 200);
    const limited = await postJson(m.gw, '/api/reset-password/identity/start', { username: 'alice' });
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers['retry-after']) > 0);
    for (let i = 0; i < 3; i++) await postJson(m.gw, '/api/reset-password/identity/start', { username: 'nobody-here' });
    const unknown = await postJson(m.gw, '/api/reset-password/identity/start', { username: 'nobody-here' });
    assert.equal(unknown.status, 429);
    assert.deepEqual(unknown.json(), limited.json());
  });

  it('rate-limited per address: many names from one address stop after 10', async () => {
    for (let i = 0; i < 10; i++) assert.equal((await postJson(m.gw, '/api/reset-password/identity/start', { username: `name${i}` })).status, 200);
    assert.equal((await postJson(m.gw, '/api/reset-password/identity/start', { username: 'name-eleven' })).status, 429);
  });

  it('the sign-in page offers "Forgot your password?" when reset is on and a notifier is configured', async () => {
    const page = await portal(m.gw, '/');
    assert.match(page.body, /<a href="\/reset-password">Forgot your password\?<\/a>/);
  });
});

describe('password reset turned off, or without a working mail', () => {
  it('authentication_backend.password_reset.disable: 404 with a clear message, no link on the sign-in page', async () => {
    const m = await startMailingGateway({ config: { authentication_backend: { password_reset: { disable: true } } } });
    try {
      const api = await postJson(m.gw, '/api/reset-password/identity/start', { username: 'alice' });
      assert.equal(api.status, 404);
      assert.match(api.json<{ message: string }>().message, /turned off/);
      const page = await portal(m.gw, '/reset-password');
      assert.equal(page.status, 404);
      assert.match(page.body, /turned off on this server/);
      assert.doesNotMatch((await portal(m.gw, '/')).body, /reset-password/);
      assert.equal(m.smtp.received.length, 0);
    } finally {
      await m.close();
    }
  });

  it('no notifier: reset is off (404), the page says why, startup logs it', async () => {
    const gw = await startInProcessGateway({ users: USERS, config: { access_control: ACCESS_CONTROL } });
    try {
      const api = await postJson(gw, '/api/reset-password/identity/start', { username: 'alice' });
      assert.equal(api.status, 404);
      assert.match(api.json<{ message: string }>().message, /cannot send e-mail/);
      assert.doesNotMatch((await portal(gw, '/')).body, /reset-password/);
      assert.match(gw.logText(), /password_reset: no notifier is configured, so password reset is off/);
    } finally {
      await gw.close();
    }
  });

  it('the filesystem notifier: a warning at startup, and the link is written to the file', async () => {
    const temp = await makeTempDir('gatehouse-mail-');
    const file = join(temp.dir, 'mail.txt');
    const gw = await startInProcessGateway({ users: USERS, config: { access_control: ACCESS_CONTROL, notifier: { filesystem: { filename: file } } } });
    try {
      assert.ok(gw.warnings.some((w) => /notifier\.filesystem: writes mail to a file on the server while password reset is enabled/.test(w)), gw.warnings.join('\n'));
      assert.equal((await postJson(gw, '/api/reset-password/identity/start', { username: 'alice' })).status, 200);
      await waitFor('the mail line in the audit', () => auditLines(gw).find((l) => l.includes('mail sent') && l.includes('reset_password')));
      assert.match(await readFile(file, 'utf8'), /\/reset-password\/finish\?token=/);
    } finally {
      await gw.close();
      await temp.cleanup();
    }
  });

  it('a mail server that refuses the message: the same answer to the person, a failed audit line and an error for the operator', async () => {
    const m = await startMailingGateway({ smtp: { refuseRecipients: ['alice@example.test'] } });
    try {
      const answer = await postJson(m.gw, '/api/reset-password/identity/start', { username: 'alice' });
      assert.equal(answer.status, 200);
      const line = await waitFor('the failed mail audit line', () => auditLines(m.gw).find((l) => l.startsWith('gatehouse-account: mail not sent;') && l.includes('user=alice')));
      assert.match(line, /reset_password/);
      await waitFor('the operator log line', () => m.gw.logs().find((r) => r.msg === 'password reset: the link could not be mailed'));
      assert.equal(m.smtp.received.length, 0);
    } finally {
      await m.close();
    }
  });
});
