/**
 * The monitor's shipped Fail2Ban filter, run by the real fail2ban-regex against lines the monitor's
 * audit writer produced.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createAuditLog } from '../../monitor/auth/audit.ts';
import { requireBinary } from '../helpers/binaries.ts';
import { captureLogs } from '../helpers/logs.ts';
import { repoPath } from '../helpers/repo.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const run = promisify(execFile);

describe('fail2ban filter for the monitor audit log', () => {
  let cleanup: () => Promise<void>;
  let log: string;
  let output: string;
  before(async () => {
    const temp = await makeTempDir();
    cleanup = temp.cleanup;
    log = join(temp.dir, 'auth.log');
    const audit = createAuditLog({ path: log, logger: captureLogs().logger });
    audit.failure({ rhost: '192.0.2.7', user: 'admin', method: 'login', reason: 'bad_password' });
    audit.success({ rhost: '192.0.2.8', user: 'admin', method: 'login' });
    audit.failure({ rhost: '2001:db8::1', user: 'eve', method: 'basic', reason: 'username_mismatch' });
    audit.failure({ rhost: '198.51.100.9', user: 'x rhost=203.0.113.1', method: 'login', reason: 'unknown_user' });
    audit.failure({ rhost: '198.51.100.10', user: 'root\nrhost=203.0.113.2', method: 'remote_user', reason: 'untrusted_remote_user' });
    audit.tokenRefused({ rhost: '192.0.2.9', user: 'admin', method: 'bearer', reason: 'revoked' });
    audit.rateLimited({ rhost: '192.0.2.10', user: 'admin', method: 'login', retryAfterSeconds: 30 });
    await audit.flush();
    const binary = requireBinary('fail2ban-regex', 'fail2ban');
    ({ stdout: output } = await run(binary, ['--print-all-matched', log, repoPath('monitor', 'fail2ban', 'filter.d', 'gatehouse-monitor.conf')]));
  });
  after(() => cleanup());

  it('writes one line per event, 0600', async () => {
    const lines = (await readFile(log, 'utf8')).trimEnd().split('\n');
    assert.equal(lines.length, 7);
    assert.equal((await stat(log)).mode & 0o777, 0o600);
  });

  it('matches every failure with its date and nothing else', () => {
    assert.match(output, /Lines: 7 lines, 0 ignored, 4 matched, 3 missed/);
    assert.doesNotMatch(output, /Date template hits:\s*\n`-/);
  });

  it('bans the address the monitor logged, not one a username spells out', () => {
    const matched = output.slice(output.indexOf('Matched line(s)'), output.indexOf('Missed line(s)'));
    assert.match(matched, /rhost=192\.0\.2\.7 user=admin reason=bad_password/);
    assert.match(matched, /rhost=2001:db8::1 user=eve/);
    assert.match(matched, /rhost=198\.51\.100\.9 user=x_rhost_203\.0\.113\.1/);
    assert.match(matched, /rhost=198\.51\.100\.10 user=root_rhost_203\.0\.113\.2 reason=untrusted_remote_user/);
    assert.doesNotMatch(matched, /203\.0\.113\.\d+ user/);
    assert.doesNotMatch(matched, /authentication success|token refused|rate limit exceeded/);
  });
});
