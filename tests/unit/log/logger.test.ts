import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { closeLogFile, createLogger, escapeControl, formatTextLine } from '../../../lib/logger.ts';
import { makeTempDir } from '../../helpers/tmp.ts';

describe('text log lines: no value can start a line or pose as another field', () => {
  it('escapes newlines, carriage returns, other C0/C1 controls and U+2028/9 in msg and fields', () => {
    const line = formatTextLine({
      time: 0,
      level: 40,
      msg: 'a\nb\rc\td\u0085e\u2028f\u001b[31m',
      user: 'x\n1970-01-01T00:00:00.000Z WARN gatehouse-auth: authentication failure; rhost=203.0.113.66 user=x',
      nested: { v: 'y\u2029' },
    });
    assert.equal(line.includes('\n') || line.includes('\r') || /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(line), false);
    assert.equal(
      line,
      '1970-01-01T00:00:00.000Z WARN a\\nb\\rc\\td\\u0085e\\u2028f\\u001b[31m user=x\\n1970-01-01T00:00:00.000Z WARN gatehouse-auth: authentication failure; rhost=203.0.113.66 user=x nested={"v":"y\\u2029"}',
    );
  });

  it('quotes a field name that is not a plain identifier', () => {
    assert.equal(formatTextLine({ time: 0, level: 30, msg: 'm', 'a b=c\n': 1 }), '1970-01-01T00:00:00.000Z INFO m "a b=c\\n"=1');
  });

  it('leaves ordinary text alone', () => {
    assert.equal(escapeControl('gatehouse-auth: authentication failure; rhost=192.0.2.7 user=bob'), 'gatehouse-auth: authentication failure; rhost=192.0.2.7 user=bob');
  });
});

describe('closeLogFile: every line logged before it is in the file when it resolves', () => {
  for (const format of ['json', 'text'] as const) {
    it(`${format}: 2,000 lines logged synchronously, then closed, then read: all there, in order`, async () => {
      const { dir, cleanup } = await makeTempDir();
      try {
        const path = join(dir, 'gateway.log');
        const logger = createLogger({ level: 'info', format, file_path: path });
        for (let i = 0; i < 2_000; i++) logger.info({ n: i }, 'line');
        await closeLogFile(logger);
        const lines = (await readFile(path, 'utf8')).split('\n').filter(Boolean);
        assert.equal(lines.length, 2_000);
        assert.match(lines[1_999]!, /1999/);
        assert.equal((await stat(path)).mode & 0o777, 0o600);
        await closeLogFile(logger); // a second close does nothing
      } finally {
        await cleanup();
      }
    });
  }
});
