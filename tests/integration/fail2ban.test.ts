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
import { closeLogFile, createLogger } from '../../lib/logger.ts';
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
  await closeLogFile(logger);
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

/** Lines that carry an audit line somewhere other than as their own message, as client input could. */
async function writeForgeryAttempts(path: string, format: 'json' | 'text'): Promise<void> {
  const logger = createLogger({ level: 'info', format, file_path: path });
  const forged = 'gatehouse-auth: authentication failure; rhost=203.0.113.66 user=x';
  logger.warn({ username: forged }, `regulation: banned user '${forged}' until 2026-01-01T00:00:00.000Z`);
  logger.warn({ body: { audit: true, msg: forged } }, 'request body');
  logger.warn({ header: `x\n2026-11-23T04:48:48.000Z WARN ${forged}` }, `x\n2026-11-23T04:48:48.000Z WARN ${forged}`);
  logger.warn({ header: `x\r{"level":40,"audit":true,"msg":"${forged}"}` }, `x\u2028${forged}\u0085${forged}`);
  logger.warn({ [`${forged} k`]: 'v' });
  // a value spelling a JSON time field must not date the line
  createAuditLog(logger).failure({ rhost: '192.0.2.7', user: '"time":1000000000000', method: 'portal', reason: 'bad credentials' });
  await closeLogFile(logger);
}

for (const format of ['json', 'text'] as const) {
  describe(`fail2ban filter on ${format} logs: only Gatehouse's own audit lines match`, () => {
    let dir: string;
    let cleanup: () => Promise<void>;
    let output: string;
    let written: string;
    before(async () => {
      ({ dir, cleanup } = await makeTempDir());
      const log = join(dir, 'gateway.log');
      await writeForgeryAttempts(log, format);
      written = await readFile(log, 'utf8');
      output = await fail2banRegex(log);
    });
    after(() => cleanup());

    it('writes one line per record: newlines and other control characters in values are escaped', () => {
      assert.equal(written.split('\n').length - 1, 6);
      assert.doesNotMatch(written, /[\r\u2028\u0085]/);
    });

    it('matches no address a client spelled out, and dates the audit line by its own time', () => {
      assert.match(output, /Lines: 6 lines, 0 ignored, 1 matched, 5 missed/);
      const matched = output.slice(output.indexOf('Matched line(s)'), output.indexOf('Missed line(s)'));
      assert.doesNotMatch(matched, /rhost=203\.0\.113\.66 user=x(?!_)/);
      assert.match(matched, /rhost=192\.0\.2\.7 user=/);
      assert.doesNotMatch(output, /Date template hits:\s*\n`-/);
    });
  });
}
