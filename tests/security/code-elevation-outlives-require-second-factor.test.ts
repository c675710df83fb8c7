// identity_validation.elevated_session.require_second_factor: a user who has a second factor must use
// it to elevate; an e-mailed code is not enough (Authelia checks this in RequireElevated, at every
// elevated request). Gatehouse checked it only before mailing a code, so an elevation got by code while
// the user had no second factor kept working after one was registered: someone holding the password
// and the mailbox, elevated a minute before the owner set up an authenticator app (or with a code mailed
// just before), could still remove that app, or put their own in its place, at one factor. The guard
// now refuses such a session and sends a page to the second-factor step.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { openStorage } from '../../gateway/storage/open.ts';
import { storageOptionsFromConfig } from '../../gateway/storage/options.ts';
import type { Storage } from '../../gateway/storage/storage.ts';
import { login, portal } from '../helpers/inprocess-gateway.ts';
import { mailTo, postForm, postJson, startMailingGateway, USERS, type MailingGateway } from '../helpers/self-service.ts';

const SETTINGS = 'https://auth.example.test/settings/totp';

describe('require_second_factor holds for a session elevated by code before the user had a second factor', () => {
  let m: MailingGateway;
  let storage: Storage;
  before(async () => {
    m = await startMailingGateway({ config: { identity_validation: { elevated_session: { require_second_factor: true } } } });
    storage = await openStorage(storageOptionsFromConfig(m.gw.config.storage), { logger: pino({ level: 'silent' }), migrate: false, now: m.gw.clock.now });
  });
  after(async () => {
    await storage?.close();
    await m?.close();
  });

  it('once the user has an authenticator app, the one-factor session elevated by code is refused', async () => {
    // the intruder's session: password, then a code from the mailbox (alice has no second factor yet)
    const cookie = await login(m.gw, 'alice', USERS.alice!.password);
    const before = m.smtp.received.length;
    assert.equal((await postForm(m.gw, '/elevate/send', { rd: SETTINGS }, { cookie })).status, 303);
    const code = /Your code:\s*([A-Z0-9]+)/.exec(mailTo(m.smtp, 'alice@example.test', before)[0]!.text)![1]!;
    assert.equal((await postForm(m.gw, '/elevate', { rd: SETTINGS, code }, { cookie })).status, 303);
    assert.equal((await portal(m.gw, '/settings/totp', { headers: { cookie } })).status, 200, 'elevated while alice has no second factor');

    // alice sets up an authenticator app (in her own session)
    await storage.totp.save({ username: 'alice', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret: Buffer.alloc(20, 7), createdAt: m.gw.clock.now() });

    const page = await portal(m.gw, '/settings/totp', { headers: { cookie } });
    assert.equal(page.status, 303, 'the registration page is still served at one factor');
    assert.match(page.headers.location ?? '', /^\/2fa\?rd=/);
    const removal = await portal(m.gw, '/api/secondfactor/totp', { method: 'DELETE', headers: { cookie, accept: 'application/json' } });
    assert.equal(removal.status, 403, removal.body);
    assert.ok(await storage.totp.load('alice'), "alice's app is still there");
    const replace = await postJson(m.gw, '/api/secondfactor/totp/register', { algorithm: 'SHA1', length: 6, period: 30 }, { cookie }, 'PUT');
    assert.equal(replace.status, 403, replace.body);
  });
});
