// A locked-out person at the portal is told how long to wait, and an unknown name that reaches the
// ban gets the very same page (status, message, Retry-After): the answer says nothing about whether
// the account exists. The JSON API and Basic keep answering a ban like a wrong password.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { firstFactor, makeClock, portal, PORTAL_ORIGIN, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import type { HttpResponse } from '../helpers/http.ts';

const PASSWORD = 'correct horse battery staple';
const FORM = 'application/x-www-form-urlencoded';
const MINUTE = 60_000;

function loginForm(gw: InProcessGateway, username: string, password: string, ip: string): Promise<HttpResponse> {
  return portal(gw, '/login', {
    method: 'POST',
    body: new URLSearchParams({ username, password, rd: '', rm: '' }).toString(),
    // one client address per case: the IP mode bans the address too, and each case starts clean
    headers: { 'content-type': FORM, origin: PORTAL_ORIGIN, 'x-forwarded-for': ip },
  });
}

function alertText(body: string): string | undefined {
  return /<p class="error" role="alert" id="login-error">([^<]*)<\/p>/.exec(body)?.[1];
}

describe('portal login page: "Too many attempts" once banned (max_retries 3, ban_time 5m), the same for an unknown name', () => {
  let gw: InProcessGateway;
  const clock = makeClock();

  before(async () => {
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD } },
      clock,
      config: {
        regulation: { max_retries: 3, find_time: '2m', ban_time: '5m' },
        server: { address: 'tcp://127.0.0.1:0' },
        access_control: { default_policy: 'one_factor' },
      },
    });
  });
  after(async () => {
    await gw?.close();
  });

  /** Two wrong passwords answered as such, the third brings the ban, and even the right password is then refused. */
  async function lockOut(username: string, ip: string): Promise<HttpResponse[]> {
    for (let i = 0; i < 2; i++) {
      const wrong = await loginForm(gw, username, `wrong ${i}`, ip);
      assert.equal(wrong.status, 401, `${username}: attempt ${i + 1}`);
      assert.equal(alertText(wrong.body), 'Incorrect username or password.');
    }
    const third = await loginForm(gw, username, 'wrong 2', ip);
    const fourth = await loginForm(gw, username, PASSWORD, ip);
    return [third, fourth];
  }

  it('an existing account and an unknown name get the same 429 page with the minutes left', async () => {
    const existing = await lockOut('alice', '203.0.113.10');
    const unknown = await lockOut('nobody-here', '203.0.113.11');
    for (const [i, response] of [...existing, ...unknown].entries()) {
      assert.equal(response.status, 429, `answer ${i}: ${response.status}`);
      assert.equal(alertText(response.body), 'Too many attempts: try again in 5 minutes.', `answer ${i}`);
      assert.equal(response.headers['retry-after'], '300', `answer ${i}`);
      assert.equal(response.cookies.length, 0);
    }
    // the pages differ only in the name typed back into the form
    assert.equal(existing[1]!.body.replaceAll('alice', 'NAME'), unknown[1]!.body.replaceAll('nobody-here', 'NAME'));
  });

  it('the minutes count down with the clock, and the ban ends after ban_time', async () => {
    clock.advance(3 * MINUTE + 30_000);
    const later = await loginForm(gw, 'alice', PASSWORD, '203.0.113.10');
    assert.equal(later.status, 429);
    assert.equal(alertText(later.body), 'Too many attempts: try again in 2 minutes.');
    clock.advance(2 * MINUTE);
    const free = await loginForm(gw, 'alice', PASSWORD, '203.0.113.10');
    assert.equal(free.status, 303, free.body);
  });

  it('the JSON API still answers a ban like a wrong password (as Authelia does)', async () => {
    for (let i = 0; i < 3; i++) await firstFactor(gw, { username: 'alice', password: `wrong ${i}` }, { 'x-forwarded-for': '203.0.113.12' });
    const banned = await firstFactor(gw, { username: 'alice', password: PASSWORD }, { 'x-forwarded-for': '203.0.113.12' });
    assert.equal(banned.status, 401);
    assert.deepEqual(banned.json(), { status: 'KO', message: 'Authentication failed. Check your credentials.' });
  });
});
