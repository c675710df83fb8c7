/**
 * /elevate?rd= goes back to a page of the portal once the session is elevated. A path that starts with
 * two slashes (`/.//evil.test/`, `https://auth.example.test//evil.test/`) is the portal's origin to the
 * URL parser but, sent back as `Location: //evil.test/`, a scheme-relative address the browser follows
 * to another host: a link to /elevate was an open redirect for anyone recently elevated.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { login, portal } from '../helpers/inprocess-gateway.ts';
import { mailTo, postForm, startMailingGateway, USERS, type MailingGateway } from '../helpers/self-service.ts';

const ATTACKS = ['/.//evil.test/phish', 'https://auth.example.test//evil.test/phish', '/settings/..//evil.test/', '/%2e//evil.test/', '/settings/%2F%2Fevil.test/'];

/** Whether `location` (as a browser resolves it against the portal) leaves the portal's host. */
function leaves(location: string): boolean {
  return new URL(location, 'https://auth.example.test/elevate').host !== 'auth.example.test';
}

describe('elevate: rd cannot send the browser to another host', () => {
  let m: MailingGateway;
  let cookie: string;
  let code: string;
  before(async () => {
    m = await startMailingGateway();
    cookie = await login(m.gw, 'alice', USERS.alice!.password);
    const before = m.smtp.received.length;
    assert.equal((await postForm(m.gw, '/elevate/send', { rd: '' }, { cookie })).status, 303);
    code = /Your code:\s*([A-Z0-9]+)/.exec(mailTo(m.smtp, 'alice@example.test', before)[0]!.text)![1]!;
  });
  after(() => m.close());

  it('the code form, given such an rd, stays on the portal', async () => {
    const used = await postForm(m.gw, '/elevate', { rd: ATTACKS[0]!, code }, { cookie });
    assert.equal(used.status, 303);
    assert.ok(!leaves(used.headers.location!), `Location: ${used.headers.location}`);
  });

  for (const rd of ATTACKS) {
    it(`an elevated session opening /elevate?rd=${rd} stays on the portal`, async () => {
      const answer = await portal(m.gw, `/elevate?rd=${encodeURIComponent(rd)}`, { headers: { cookie } });
      assert.equal(answer.status, 303);
      assert.ok(!leaves(answer.headers.location!), `Location: ${answer.headers.location}`);
    });
  }

  it('a page of the portal is still where rd sends it', async () => {
    const answer = await portal(m.gw, `/elevate?rd=${encodeURIComponent('https://auth.example.test/settings/password?x=1')}`, { headers: { cookie } });
    assert.equal(answer.headers.location, '/settings/password?x=1');
  });
});
