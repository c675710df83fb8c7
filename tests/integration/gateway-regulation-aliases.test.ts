/**
 * Regulation counts attempts per account, not per spelling of the login: with search.email and
 * case_insensitive, `alice`, `ALICE` and alice's e-mail share one counter and one ban.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { firstFactor, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';

const PASSWORD = 'alice-password-1';

describe('regulation with search.email and case_insensitive', () => {
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD, email: 'alice@example.test' } },
      config: {
        authentication_backend: { file: { search: { email: true, case_insensitive: true } } },
        regulation: { max_retries: 3, find_time: '2m', ban_time: '5m' },
        access_control: { default_policy: 'one_factor' },
      },
    });
  });
  after(() => gw?.close());

  it('three failures under three spellings ban the account, whatever spelling comes next', async () => {
    for (const login of ['alice', 'ALICE', 'alice@example.test']) {
      assert.equal((await firstFactor(gw, { username: login, password: 'wrong' })).status, 401);
    }
    for (const login of ['alice', 'Alice@Example.test']) {
      const answer = await firstFactor(gw, { username: login, password: PASSWORD });
      assert.equal(answer.status, 401, `${login} logged in although the account is banned`);
    }
    gw.clock.advance(5 * 60_000 + 1_000);
    assert.equal((await firstFactor(gw, { username: 'alice@example.test', password: PASSWORD })).status, 200);
  });
});
