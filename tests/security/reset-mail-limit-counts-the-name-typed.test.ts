/**
 * Reset requests are limited to 3 per user per 15 minutes, so nobody can fill a person's mailbox with
 * reset mails. The limit counted the name as typed: the same account asked for by its username and by
 * its e-mail address got two budgets (and one more per address it has), so the account received twice
 * the mails the limit promises. The count that bounds the mails must be the account's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { auditLines, mailTo, postJson, startMailingGateway, waitFor, type MailingGateway } from '../helpers/self-service.ts';

describe('reset mails are limited per account, whatever name asked', () => {
  let m: MailingGateway;
  before(async () => {
    // e-mail addresses sign in too (authentication_backend.file.search.email)
    m = await startMailingGateway({ config: { authentication_backend: { file: { search: { email: true } } } } });
  });
  after(() => m.close());

  it('3 by username and 3 by e-mail address send alice 3 mails, not 6', async () => {
    const before = m.smtp.received.length;
    const answers: number[] = [];
    for (const login of ['alice', 'alice@example.test', 'alice', 'alice@example.test', 'alice', 'alice@example.test']) {
      answers.push((await postJson(m.gw, '/api/reset-password/identity/start', { username: login })).status);
    }
    // the answers stay those of the name typed (they must not tell an account from a name)
    assert.deepEqual(answers, [200, 200, 200, 200, 200, 200]);
    // every request is accounted for before counting mails
    const count = (what: RegExp) => auditLines(m.gw).filter((l) => what.test(l)).length;
    await waitFor('every request handled, every issued link mailed', () => count(/password reset requested/) === 6 && count(/mail sent/) === count(/link_issued/));
    assert.equal(mailTo(m.smtp, 'alice@example.test', before).length, 3);
  });
});
