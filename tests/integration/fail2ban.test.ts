/**
 * The shipped Fail2Ban filter, run by the real fail2ban-regex against lines Gatehouse's audit log
 * really writes, in both log formats.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createAuditLog } from '../../gateway/log/audit.ts';
import { createLogger } from '../../lib/logger.ts';
import { requireBinary } from '../helpers/binaries.ts';
import { repoPath } from '../helpers/repo.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const run = promisify(execFile);

async function writeAuditLines(path: string, format: 'json' | 'text'): Promise<void> {
  const logger = createLogger({ level: 'info', format, file_path: path });
  const audit = createAuditLog(logger);
  audit.failure({ rhost: '192.0.2.7', user: 'bob', method: 'portal', reason: 'bad credentials' });
  audit.success({ rhost: '192.0.2.8', user: 'alice', method: 'portal' });
  audit.failure({ rhost: '2001:db8::1', user: 'eve', method: 'basic', reason: 'banned' });
  // a username crafted to look like another field must not move the banned address
  audit.failure({ rhost: '198.51.100.9', user: 'x rhost=203.0.113.1', method: 'portal', reason: 'bad credentials' });
  logger.flush();
  await new Promise((resolve) => setTimeout(resolve, 100));
}

async function fail2banRegex(logPath: string): Promise<string> {
  const binary = requireBinary('fail2ban-regex', 'fail2ban');
  const { stdout } = await run(binary, ['--print-all-matched', logPath, repoPath('fail2ban', 'filter.d', 'gatehouse.conf')]);
  return stdout;
}

for (const format of ['json', 'text'] as const) {
  describe(`fail2ban filter on ${format} logs`, () => {
    let dir: string;
    let cleanup: () => Promise<void>;
    let output: string;
    before(async () => {
      ({ dir, cleanup } = await makeTempDir());
      const log = join(dir, 'gateway.log');
      await writeAuditLines(log, format);
      assert.match(await readFile(log, 'utf8'), /authentication failure/);
      output = await fail2banRegex(log);
    });
    after(() => cleanup());

    it('matches every failure with a date and none of the successes', () => {
      assert.match(output, /Lines: 4 lines, 0 ignored, 3 matched, 1 missed/);
      assert.doesNotMatch(output, /Date template hits:\s*\n`-/); // the dates were recognised
    });

    it('bans the client address Gatehouse logged, not one a username spells out', () => {
      const matched = output.slice(output.indexOf('Matched line(s)'), output.indexOf('Missed line(s)'));
      assert.match(matched, /rhost=192\.0\.2\.7 user=bob/);
      assert.match(matched, /rhost=2001:db8::1 user=eve/);
      assert.match(matched, /rhost=198\.51\.100\.9 user=x_rhost_203\.0\.113\.1/);
      assert.doesNotMatch(matched, /user=alice/);
    });
  });
}
