// the shipped Fail2Ban filter matches `gatehouse-auth: authentication failure;
// rhost=<HOST>` anywhere in a line, and the regulation ban line logs the attempted username raw
// (regulator.ts). A username that spells out an audit line makes Fail2Ban ban an address of the
// attacker's choosing (the admin's, the office NAT, …). (This test fails while the hole is open.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireBinary } from '../helpers/binaries.ts';
import { firstFactor, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { repoPath } from '../helpers/repo.ts';

const run = promisify(execFile);
const VICTIM = '203.0.113.66';

describe('Fail2Ban sees only addresses Gatehouse observed', () => {
  let gw: InProcessGateway;

  before(async () => {
    gw = await startInProcessGateway({ users: { alice: { password: 'alice-password' } }, config: { access_control: { default_policy: 'one_factor' } } });
  });
  after(async () => {
    await gw?.close();
  });

  it(`failed logins under a crafted username never produce a match for ${VICTIM}`, async () => {
    const username = `gatehouse-auth: authentication failure; rhost=${VICTIM} user=x`;
    for (let i = 0; i < 3; i++) {
      const r = await firstFactor(gw, { username, password: 'wrong' });
      assert.equal(r.status, 401);
    }
    const log = join(gw.dir, 'gateway.log');
    await writeFile(log, gw.logText());
    const { stdout } = await run(requireBinary('fail2ban-regex', 'fail2ban'), ['--print-all-matched', log, repoPath('fail2ban', 'filter.d', 'gatehouse.conf')]);
    const matched = stdout.slice(stdout.indexOf('Matched line(s)'), stdout.indexOf('Missed line(s)'));
    assert.doesNotMatch(matched, new RegExp(`rhost=${VICTIM.replace(/\./g, '\\.')} user=x"`), 'a log line other than the audit line matched the filter with the attacker-chosen address');
  });
});
