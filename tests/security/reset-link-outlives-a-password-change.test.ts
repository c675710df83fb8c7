/**
 * A reset link is single use, but a user who asked twice (the first mail was slow) has two, and a user
 * who then changed the password another way still has one waiting in the mailbox. After the password
 * is set (by one link or by the user), every other reset link of that user, and a browser's pending
 * "set the password" grant from the JSON flow, must stop working: otherwise whoever reads the mailbox
 * in the next minutes sets the password again, undoing the change the owner just made.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { firstFactor } from '../helpers/inprocess-gateway.ts';
import { linkIn, mailTo, postForm, postJson, sessionCookie, startMailingGateway, waitFor, type MailingGateway } from '../helpers/self-service.ts';

const OWNER_PASSWORD = 'Owners-Own-Choice-2024';
const ATTACKER_PASSWORD = 'Intruder-Sets-This-666';

describe('a reset link does not outlive a password change', () => {
  let m: MailingGateway;
  before(async () => {
    m = await startMailingGateway();
  });
  after(() => m.close());
  beforeEach(() => m.gw.clock.advance(15 * 60_000 + 1000));

  async function mailedToken(): Promise<string> {
    const before = m.smtp.received.length;
    assert.equal((await postJson(m.gw, '/api/reset-password/identity/start', { username: 'alice' })).status, 200);
    const mail = await waitFor('the reset mail', () => mailTo(m.smtp, 'alice@example.test', before).find((mail) => mail.text.includes('/reset-password/finish')));
    return linkIn(mail, '/reset-password/finish').searchParams.get('token')!;
  }

  it('the second of two links is refused once the first has set the password', async () => {
    const first = await mailedToken();
    const second = await mailedToken();
    assert.equal((await postForm(m.gw, '/reset-password/finish', { token: first, password: OWNER_PASSWORD, confirm: OWNER_PASSWORD })).status, 200);
    const late = await postForm(m.gw, '/reset-password/finish', { token: second, password: ATTACKER_PASSWORD, confirm: ATTACKER_PASSWORD });
    assert.equal(late.status, 403);
    assert.equal((await firstFactor(m.gw, { username: 'alice', password: OWNER_PASSWORD })).status, 200, "the owner's password stands");
  });

  it('a browser that used a link (JSON flow) cannot set the password after it was set another way', async () => {
    const pending = await mailedToken();
    const used = await postJson(m.gw, '/api/reset-password/identity/finish', { token: pending });
    assert.equal(used.status, 200);
    const grant = sessionCookie(used);
    const other = await mailedToken();
    assert.equal((await postForm(m.gw, '/reset-password/finish', { token: other, password: `${OWNER_PASSWORD}-2`, confirm: `${OWNER_PASSWORD}-2` })).status, 200);
    const late = await postJson(m.gw, '/api/reset-password', { password: ATTACKER_PASSWORD }, { cookie: grant });
    assert.equal(late.status, 403);
    assert.equal((await firstFactor(m.gw, { username: 'alice', password: `${OWNER_PASSWORD}-2` })).status, 200, "the owner's password stands");
  });
});
