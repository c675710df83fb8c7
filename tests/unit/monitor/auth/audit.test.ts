/** Audit lines: the documented shape, and no way for a client to forge a field. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { logField as auditField } from '../../../../lib/log-field.ts';
import { createAuditLog } from '../../../../monitor/auth/audit.ts';
import { captureLogs } from '../../../helpers/logs.ts';
import { makeTempDir } from '../../../helpers/tmp.ts';

describe('audit lines', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await makeTempDir()));
  after(() => cleanup());

  it('reads `<ISO time> gatehouse-monitor: authentication failure; rhost=… user=… reason=…`', async () => {
    const path = join(dir, 'logs', 'auth.log');
    const { logger, records } = captureLogs();
    const audit = createAuditLog({ path, logger, now: () => Date.parse('2026-05-01T10:00:00.000Z') });
    audit.failure({ rhost: '192.0.2.1', user: 'admin', reason: 'bad password', method: 'login' });
    audit.success({ rhost: '192.0.2.1', user: 'admin', method: 'login' });
    await audit.flush();
    assert.equal(
      await readFile(path, 'utf8'),
      '2026-05-01T10:00:00.000Z gatehouse-monitor: authentication failure; rhost=192.0.2.1 user=admin reason=bad_password method=login\n' +
        '2026-05-01T10:00:00.000Z gatehouse-monitor: authentication success; rhost=192.0.2.1 user=admin method=login\n',
    );
    assert.deepEqual(records.map((r) => r.msg), ['authentication failure', 'authentication success']);
  });

  it('replaces spaces, =, ;, control and format characters, and caps the length', () => {
    assert.equal(auditField('a b=c;d\r\ne\u0000f\u202eg'), 'a_b_c_d__e_f_g');
    assert.equal(auditField(''), '-');
    assert.equal(auditField(null), '-');
    assert.equal(auditField('x'.repeat(500)).length, 128);
  });
});
