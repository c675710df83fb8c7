import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openStorage } from '../../../gateway/storage/open.ts';
import { makeTempDir } from '../../helpers/tmp.ts';
import { TEST_KEY, rawQuery, recordingLogger, silentLogger } from './backends.ts';

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

describe('the SQLite file holds secrets, so only its owner can read it', () => {
  it('creates the directory (0700) and the database, WAL and shared-memory files with mode 0600', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const path = join(temp.dir, 'nested', 'data', 'gatehouse.sqlite3');
    const storage = await openStorage({ encryption_key: TEST_KEY, local: { path } }, { logger: silentLogger, migrate: true });
    t.after(() => storage.close());
    await storage.authenticationLogs.append({
      time: 1, successful: true, banned: false, username: 'a', authType: '1fa', remoteIp: '::1', requestUri: '/', requestMethod: 'GET',
    });

    assert.equal(await modeOf(join(temp.dir, 'nested', 'data')), 0o700);
    assert.equal(await modeOf(path), 0o600);
    assert.equal(await modeOf(`${path}-wal`), 0o600);
    assert.equal(await modeOf(`${path}-shm`), 0o600);
    const rows = await rawQuery({ encryption_key: TEST_KEY, local: { path } }, 'pragma journal_mode');
    assert.equal(rows[0]?.['journal_mode'], 'wal');
  });

  it('tightens an existing world-readable file to 0600 and says so', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const path = join(temp.dir, 'data', 'gatehouse.sqlite3');
    await mkdir(join(temp.dir, 'data'));
    await writeFile(path, '');
    await chmod(path, 0o644);
    const { logger, lines } = recordingLogger();

    const storage = await openStorage({ encryption_key: TEST_KEY, local: { path } }, { logger, migrate: true });
    t.after(() => storage.close());
    assert.equal(await modeOf(path), 0o600);
    const warning = lines().find((line) => line['level'] === 40);
    assert.equal(warning?.['msg'], 'storage: the SQLite database was readable by others; its mode is now 0600');
    assert.equal(warning?.['mode'], '644');
  });

  it('names the path when the file cannot be opened', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const blocker = join(temp.dir, 'not-a-directory');
    await writeFile(blocker, '');
    await assert.rejects(
      openStorage({ encryption_key: TEST_KEY, local: { path: join(blocker, 'db.sqlite3') } }, { logger: silentLogger, migrate: true }),
      { code: 'open_failed', message: `storage: local: cannot open the SQLite database at '${join(blocker, 'db.sqlite3')}' (EEXIST)` },
    );
  });
});
