/**
 * Elevation with an e-mailed one-time code, against a real SMTP server: what the ELEVATED pages ask,
 * the code (single use, bound to the session, 5 minutes, limited), its revocation, the JSON API as
 * Authelia 4.39 has it, require_second_factor, a refused mail, and changing the password behind it.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { pino } from 'pino';
import { openStorage } from '../../gateway/storage/open.ts';
import { storageOptionsFromConfig } from '../../gateway/storage/options.ts';
import { CODE_ALPHABET } from '../../gateway/portal/elevation.ts';
import { firstFactor, login, portal } from '../helpers/inprocess-gateway.ts';
import { auditLines, linkIn, mailTo, postForm, postJson, startMailingGateway, USERS, type MailingGateway } from '../helpers/self-service.ts';
import type { ReceivedMail } from '../helpers/smtp-server.ts';

const SETTINGS = 'https://auth.example.test/settings/password';
const FIFTEEN_MINUTES = 15 * 60_000;

function codeIn(mail: ReceivedMail): string {
  const code = /(?:Your code|Tu código):\s*([A-Z0-9]+)/.exec(mail.text)?.[1];
  if (!code) throw new Error(`no code in: ${mail.text}`);
  return code;
}

describe('elevation by e-mailed one-time code', () => {
  let m: MailingGateway;
  before(async () => {
    // sessions outlive the code, so its expiry is what a late code meets
    m = await startMailingGateway({ config: { session: { inactivity: '1h' } } });
  });
  after(() => m.close());
  beforeEach(() => m.gw.clock.advance(FIFTEEN_MINUTES + 1000));

  /** Asks for a code for the session `cookie` through the page; returns the code mailed. */
  async function sendCode(cookie: string, user = 'alice', headers: Record<string, string> = {}): Promise<{ code: string; mail: ReceivedMail }> {
    const before = m.smtp.received.length;
    const sent = await postForm(m.gw, '/elevate/send', { rd: SETTINGS }, { cookie, ...headers });
    assert.equal(sent.status, 303, sent.body);
    assert.equal(sent.headers.location, `/elevate?rd=${encodeURIComponent(SETTINGS)}`);
    const mail = mailTo(m.smtp, `${user}@example.test`, before)[0];
    assert.ok(mail, 'the code is mailed before the answer');
    return { code: codeIn(mail), mail };
  }

  it('an ELEVATED page sends a signed-in browser to /elevate, which mails a code that lets it through', async () => {
    const cookie = await login(m.gw, 'alice', USERS.alice!.password);
    const refused = await portal(m.gw, '/settings/password', { headers: { cookie } });
    assert.equal(refused.status, 303);
    assert.equal(refused.headers.location, `/elevate?rd=${encodeURIComponent(SETTINGS)}`);
    const page = await portal(m.gw, refused.headers.location, { headers: { cookie } });
    assert.equal(page.status, 200);
    assert.match(page.body, /E-mail me a code/);
    const { code, mail } = await sendCode(cookie, 'alice', { 'accept-language': 'es' });
    assert.match(mail.headers.get('subject') ?? '', /Tu código de un solo uso/);
    assert.equal(code.length, 8);
    assert.ok([...code].every((c) => CODE_ALPHABET.includes(c)), code);
    assert.match(linkIn(mail, '/elevate/revoke').search, /^\?id=[0-9a-f-]{36}$/);
    const withField = await portal(m.gw, refused.headers.location, { headers: { cookie } });
    assert.match(withField.body, /<label for="code">/);
    const wrong = await postForm(m.gw, '/elevate', { rd: SETTINGS, code: code === 'AAAAAAAA' ? 'BBBBBBBB' : 'AAAAAAAA' }, { cookie });
    assert.equal(wrong.status, 403);
    assert.match(wrong.body, /That code is not right/);
    assert.ok(auditLines(m.gw).some((l) => l.startsWith('gatehouse-auth: authentication failure;') && l.includes('method=one_time_code') && l.includes('wrong_code')));
    // typed in lower case with a space: still the code
    const right = await postForm(m.gw, '/elevate', { rd: SETTINGS, code: `${code.slice(0, 4).toLowerCase()} ${code.slice(4)}` }, { cookie });
    assert.equal(right.status, 303);
    assert.equal(right.headers.location, '/settings/password');
    assert.equal((await portal(m.gw, '/settings/password', { headers: { cookie } })).status, 200);
    assert.ok(auditLines(m.gw).some((l) => l.includes('session elevated') && l.includes('user=alice')));
    // single use
    const again = await postJson(m.gw, '/api/user/session/elevation', { otc: code }, { cookie }, 'PUT');
    assert.equal(again.status, 403);
  });

  it('the code is bound to the session that asked: another session of the same user cannot use it', async () => {
    const a = await login(m.gw, 'alice', USERS.alice!.password);
    const b = await login(m.gw, 'alice', USERS.alice!.password);
    const { code } = await sendCode(a);
    const withoutOwn = await postJson(m.gw, '/api/user/session/elevation', { otc: code }, { cookie: b }, 'PUT');
    assert.equal(withoutOwn.status, 403);
    await sendCode(b);
    const withOwn = await postJson(m.gw, '/api/user/session/elevation', { otc: code }, { cookie: b }, 'PUT');
    assert.equal(withOwn.status, 403, "B's own code is not A's");
    assert.equal((await postJson(m.gw, '/api/user/session/elevation', { otc: code }, { cookie: a }, 'PUT')).status, 200);
  });

  it('the code expires after code_lifespan (5 minutes)', async () => {
    const cookie = await login(m.gw, 'bob', USERS.bob!.password);
    const { code } = await sendCode(cookie, 'bob');
    m.gw.clock.advance(5 * 60_000 + 1000);
    const late = await postForm(m.gw, '/elevate', { rd: SETTINGS, code }, { cookie });
    assert.equal(late.status, 403);
    assert.match(late.body, /That code has expired/);
  });

  it('wrong codes are limited: after 5, even the right code waits', async () => {
    const cookie = await login(m.gw, 'bob', USERS.bob!.password);
    const { code } = await sendCode(cookie, 'bob');
    for (let i = 0; i < 5; i++) assert.equal((await postJson(m.gw, '/api/user/session/elevation', { otc: `WRONG${i}ZZ` }, { cookie }, 'PUT')).status, 403);
    const limited = await postJson(m.gw, '/api/user/session/elevation', { otc: code }, { cookie }, 'PUT');
    assert.equal(limited.status, 429);
    assert.match(limited.json<{ message: string }>().message, /Too many wrong codes/);
    assert.ok(Number(limited.headers['retry-after']) > 0);
  });

  it('the JSON API: GET state, POST mails and returns delete_id, DELETE revokes (the code then fails)', async () => {
    const cookie = await login(m.gw, 'bob', USERS.bob!.password);
    const state = await portal(m.gw, '/api/user/session/elevation', { headers: { cookie } });
    assert.deepEqual(state.json(), { status: 'OK', data: { require_second_factor: false, skip_second_factor: false, can_skip_second_factor: false, factor_knowledge: true, elevated: false, expires: 0 } });
    const before = m.smtp.received.length;
    const sent = await postJson(m.gw, '/api/user/session/elevation', {}, { cookie });
    assert.equal(sent.status, 200);
    const id = sent.json<{ data: { delete_id: string } }>().data.delete_id;
    const code = codeIn(mailTo(m.smtp, 'bob@example.test', before)[0]!);
    assert.equal((await portal(m.gw, `/api/user/session/elevation/${id}`, { method: 'DELETE' })).status, 200);
    const revoked = await postJson(m.gw, '/api/user/session/elevation', { otc: code }, { cookie }, 'PUT');
    assert.equal(revoked.status, 403);
    assert.match(revoked.json<{ message: string }>().message, /revoked/);
    assert.equal((await portal(m.gw, `/api/user/session/elevation/${id}`, { method: 'DELETE' })).status, 404);
    // and elevated state once a code works
    const { code: next } = await sendCode(cookie, 'bob');
    assert.equal((await postJson(m.gw, '/api/user/session/elevation', { otc: next }, { cookie }, 'PUT')).status, 200);
    const elevated = (await portal(m.gw, '/api/user/session/elevation', { headers: { cookie } })).json<{ data: { elevated: boolean; expires: number } }>();
    assert.equal(elevated.data.elevated, true);
    assert.ok(elevated.data.expires > 500 && elevated.data.expires <= 600, String(elevated.data.expires));
  });

  it('the revocation link of the mail shows a button; the POST revokes', async () => {
    const cookie = await login(m.gw, 'bob', USERS.bob!.password);
    const { code, mail } = await sendCode(cookie, 'bob');
    const link = linkIn(mail, '/elevate/revoke');
    const page = await portal(m.gw, `${link.pathname}${link.search}`);
    assert.equal(page.status, 200);
    assert.match(page.body, /Revoke the code/);
    assert.equal((await postForm(m.gw, '/elevate/revoke', { id: link.searchParams.get('id')! })).status, 200);
    assert.equal((await postForm(m.gw, '/elevate', { code }, { cookie })).status, 403);
  });

  it('rd outside the portal is never followed (no open redirect)', async () => {
    const cookie = await login(m.gw, 'bob', USERS.bob!.password);
    const { code } = await sendCode(cookie, 'bob');
    const done = await postForm(m.gw, '/elevate', { rd: 'https://evil.example/steal', code }, { cookie });
    assert.equal(done.status, 303);
    assert.equal(done.headers.location, '/settings');
  });

  it('a user without an e-mail address is told so (503), and no code is made', async () => {
    const cookie = await login(m.gw, 'nomail', USERS.nomail!.password);
    const page = await portal(m.gw, '/elevate', { headers: { cookie } });
    assert.match(page.body, /has no e-mail address/);
    const api = await postJson(m.gw, '/api/user/session/elevation', {}, { cookie });
    assert.equal(api.status, 503);
  });

  it('without a session: /elevate sends the browser to sign in; the API answers 403', async () => {
    const page = await portal(m.gw, '/elevate');
    assert.equal(page.status, 303);
    assert.match(page.headers.location ?? '', /^\/\?rd=/);
    assert.equal((await postJson(m.gw, '/api/user/session/elevation', {})).status, 403);
  });
});

describe('elevation when the mail fails, and require_second_factor', () => {
  it('a refused mail is a clear 503 on the page and in the API, with a failed audit line', async () => {
    const m = await startMailingGateway({ smtp: { refuseRecipients: ['alice@example.test'] } });
    try {
      const cookie = await login(m.gw, 'alice', USERS.alice!.password);
      const page = await postForm(m.gw, '/elevate/send', { rd: SETTINGS }, { cookie });
      assert.equal(page.status, 503);
      assert.match(page.body, /The e-mail could not be sent/);
      const api = await postJson(m.gw, '/api/user/session/elevation', {}, { cookie });
      assert.equal(api.status, 503);
      assert.match(api.json<{ message: string }>().message, /could not be sent/);
      assert.ok(auditLines(m.gw).some((l) => l.startsWith('gatehouse-account: mail not sent;') && l.includes('one_time_code')));
    } finally {
      await m.close();
    }
  });

  it('require_second_factor: a user who has a second factor is sent to /2fa, and gets no code', async () => {
    const m = await startMailingGateway({ config: { identity_validation: { elevated_session: { require_second_factor: true } } } });
    const storage = await openStorage(storageOptionsFromConfig(m.gw.config.storage), { logger: pino({ level: 'silent' }), migrate: false, now: m.gw.clock.now });
    try {
      await storage.totp.save({ username: 'alice', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret: Buffer.alloc(20, 7), createdAt: m.gw.clock.now() });
      const cookie = await login(m.gw, 'alice', USERS.alice!.password);
      const page = await portal(m.gw, `/elevate?rd=${encodeURIComponent(SETTINGS)}`, { headers: { cookie } });
      assert.equal(page.status, 303);
      assert.match(page.headers.location ?? '', /^\/2fa\?rd=https%3A%2F%2Fauth\.example\.test%2Felevate/);
      const api = await postJson(m.gw, '/api/user/session/elevation', {}, { cookie });
      assert.equal(api.status, 403);
      const state = (await portal(m.gw, '/api/user/session/elevation', { headers: { cookie } })).json<{ data: { require_second_factor: boolean } }>();
      assert.equal(state.data.require_second_factor, true);
      assert.equal(m.smtp.received.length, 0);
      // bob has no second factor: the code as usual
      const bob = await login(m.gw, 'bob', USERS.bob!.password);
      assert.equal((await postJson(m.gw, '/api/user/session/elevation', {}, { cookie: bob })).status, 200);
    } finally {
      await storage.close();
      await m.close();
    }
  });
});

describe('change password (behind elevation)', () => {
  it('checks the old password, keeps this session, ends the others and mails a notice; the JSON twin too', async () => {
    const m = await startMailingGateway();
    try {
      const other = await login(m.gw, 'alice', USERS.alice!.password);
      const cookie = await login(m.gw, 'alice', USERS.alice!.password);
      assert.equal((await postJson(m.gw, '/api/change-password', { old_password: USERS.alice!.password, new_password: 'Brand-New-Lantern-88' }, { cookie })).status, 403, 'not elevated');
      const before = m.smtp.received.length;
      await postForm(m.gw, '/elevate/send', { rd: SETTINGS }, { cookie });
      const code = codeIn(mailTo(m.smtp, 'alice@example.test', before)[0]!);
      assert.equal((await postForm(m.gw, '/elevate', { rd: SETTINGS, code }, { cookie })).status, 303);
      const wrongOld = await postForm(m.gw, '/settings/password', { old_password: 'not-the-password', new_password: 'Brand-New-Lantern-88', confirm: 'Brand-New-Lantern-88' }, { cookie });
      assert.equal(wrongOld.status, 401);
      assert.match(wrongOld.body, /current password is not right/);
      const weak = await postForm(m.gw, '/settings/password', { old_password: USERS.alice!.password, new_password: 'alice', confirm: 'alice' }, { cookie });
      assert.equal(weak.status, 400);
      const differ = await postForm(m.gw, '/settings/password', { old_password: USERS.alice!.password, new_password: 'Brand-New-Lantern-88', confirm: 'Brand-New-Lantern-89' }, { cookie });
      assert.equal(differ.status, 400);
      const done = await postForm(m.gw, '/settings/password', { old_password: USERS.alice!.password, new_password: 'Brand-New-Lantern-88', confirm: 'Brand-New-Lantern-88' }, { cookie });
      assert.equal(done.status, 200, done.body);
      assert.match(done.body, /You are still signed in here/);
      assert.equal((await portal(m.gw, '/api/user/info', { headers: { cookie } })).status, 200, 'this session survives');
      assert.equal((await portal(m.gw, '/api/user/info', { headers: { cookie: other } })).status, 403, 'the other session ended');
      assert.equal((await firstFactor(m.gw, { username: 'alice', password: USERS.alice!.password })).status, 401);
      assert.equal((await firstFactor(m.gw, { username: 'alice', password: 'Brand-New-Lantern-88' })).status, 200);
      assert.ok(mailTo(m.smtp, 'alice@example.test', before).some((mail) => /password was changed/.test(mail.headers.get('subject') ?? '')));
      // the JSON twin, still elevated
      const api = await postJson(m.gw, '/api/change-password', { old_password: 'Brand-New-Lantern-88', new_password: 'Second-New-Lantern-99' }, { cookie });
      assert.equal(api.status, 200, api.body);
      assert.equal((await firstFactor(m.gw, { username: 'alice', password: 'Second-New-Lantern-99' })).status, 200);
      const wrong = await postJson(m.gw, '/api/change-password', { old_password: 'Brand-New-Lantern-88', new_password: 'Third-New-Lantern-11' }, { cookie });
      assert.equal(wrong.status, 401);
    } finally {
      await m.close();
    }
  });

  it('GET /api/configuration/password-policy describes the one policy as Authelia does', async () => {
    const m = await startMailingGateway({ config: { password_policy: { standard: { enabled: true, min_length: 12, require_number: true } } } });
    try {
      const answer = await portal(m.gw, '/api/configuration/password-policy');
      assert.deepEqual(answer.json(), { status: 'OK', data: { mode: 'standard', min_length: 12, max_length: 1024, min_score: 0, require_uppercase: false, require_lowercase: false, require_number: true, require_special: false } });
    } finally {
      await m.close();
    }
  });
});
