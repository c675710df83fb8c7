/**
 * /settings?sessions=<notice> picks a message from a lookup table by the query's value. `constructor`,
 * `__proto__` or `toString` found Object.prototype's members instead of nothing, the page asked the
 * catalogue for a function as a key and answered 500 with an "unexpected error" in the log: any link
 * could break the settings page and fill the operator's log.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { login, portal } from '../helpers/inprocess-gateway.ts';
import { startMailingGateway, USERS, type MailingGateway } from '../helpers/self-service.ts';

describe('settings: a notice name from the query is only ever one of its own', () => {
  let m: MailingGateway;
  let cookie: string;
  before(async () => {
    m = await startMailingGateway();
    cookie = await login(m.gw, 'alice', USERS.alice!.password);
  });
  after(() => m.close());

  for (const name of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
    it(`?sessions=${name} shows the page without a notice`, async () => {
      const page = await portal(m.gw, `/settings?sessions=${name}`, { headers: { cookie } });
      assert.equal(page.status, 200);
      assert.doesNotMatch(page.body, /class="notice"/);
    });
  }

  it('?sessions=ended still says the session was signed out', async () => {
    const page = await portal(m.gw, '/settings?sessions=ended', { headers: { cookie } });
    assert.equal(page.status, 200);
    assert.match(page.body, /class="notice"/);
  });

  it('nothing unexpected was logged', () => {
    assert.doesNotMatch(m.gw.logText(), /unexpected error/);
  });
});
