// readStorage on this machine against df -B1; mount table parsing and de-duplication from fixtures.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMounts, PSEUDO_FILESYSTEM_TYPES, readStorage } from '../../../../monitor/api/host/storage.ts';
import { makeTempDir } from '../../../helpers/tmp.ts';
import { assertNear, df } from './host-tools.ts';

/** used and avail move on a busy filesystem between df and statfs: 0.5% of its size or 64 MiB. */
function busyDrift(size: number): number {
  return Math.max(size * 0.005, 64 * 1024 * 1024);
}

describe('filesystems match df -B1 on this machine', () => {
  it('every mount reported has df\'s size exactly, and its used and available', async () => {
    const [{ filesystems }, rows] = await Promise.all([readStorage(), df()]);
    assert.ok(filesystems.some((f) => f.mountpoint === '/'), 'the root filesystem is listed');
    for (const fs of filesystems) {
      const row = rows.get(fs.mountpoint);
      assert.ok(row, `df lists ${fs.mountpoint}`);
      assert.equal(fs.fstype, row.fstype, `${fs.mountpoint} type`);
      assert.equal(fs.total, row.size, `${fs.mountpoint} size`);
      assertNear(fs.used, row.used, busyDrift(row.size), `${fs.mountpoint} used`);
      assertNear(fs.available, row.avail, busyDrift(row.size), `${fs.mountpoint} available`);
      assert.equal(fs.usage_percent, Math.round((fs.used / (fs.used + fs.available)) * 1000) / 10);
    }
  });

  it('every filesystem df shows is reported, unless its type is a pseudo or memory-backed one', async () => {
    const [{ filesystems }, rows] = await Promise.all([readStorage(), df()]);
    const reported = new Set(filesystems.map((f) => f.mountpoint));
    for (const row of rows.values()) {
      if (PSEUDO_FILESYSTEM_TYPES.has(row.fstype)) assert.ok(!reported.has(row.target), `${row.target} (${row.fstype}) is left out`);
      else assert.ok(reported.has(row.target), `${row.target} (${row.fstype}) is reported`);
    }
  });
});

describe('the mount table is read as the kernel writes it', () => {
  let proc: { dir: string; cleanup: () => Promise<void> };
  let spaced: string;
  /** A directory on the root filesystem that is not its mountpoint: mounting it is a bind mount of /'s device. */
  let onRootDevice: string;
  before(async () => {
    const rootDev = (await stat('/')).dev;
    const candidates = ['/etc', '/usr', '/var', '/opt', process.cwd()];
    const found = (await Promise.all(candidates.map(async (dir) => ((await stat(dir)).dev === rootDev ? dir : undefined)))).find(Boolean);
    assert.ok(found, `one of ${candidates.join(', ')} is on the root filesystem`);
    onRootDevice = found;
    proc = await makeTempDir('gatehouse-proc-');
    spaced = join(proc.dir, 'with space');
    await mkdir(spaced);
    await mkdir(join(proc.dir, 'self'));
  });
  after(() => proc.cleanup());

  it('octal escapes in device and mountpoint are decoded', () => {
    const [entry] = parseMounts('/dev/disk\\040a /srv/my\\040data\\011x ext4 rw 0 0\n');
    assert.deepEqual(entry, { device: '/dev/disk a', mountpoint: '/srv/my data\tx', fstype: 'ext4' });
  });

  const mounts = (lines: string[]): Promise<void> => writeFile(join(proc.dir, 'self', 'mounts'), `${lines.join('\n')}\n`);

  it('a mountpoint with a space is measured under its real name', async () => {
    await mounts([`/dev/data ${spaced.replaceAll(' ', '\\040')} ext4 rw 0 0`]);
    const { filesystems } = await readStorage({ procRoot: proc.dir });
    assert.deepEqual(filesystems.map((f) => [f.device, f.mountpoint]), [['/dev/data', spaced]]);
    assert.ok((filesystems[0]?.total ?? 0) > 0);
  });

  it('pseudo filesystems, missing mountpoints and a second mount of one device are left out', async () => {
    await mounts([
      'proc /proc proc rw 0 0',
      'tmpfs /run tmpfs rw 0 0',
      `/dev/root ${onRootDevice} ext4 rw 0 0`, // a bind mount of the root device, listed first
      '/dev/root / ext4 rw 0 0',
      '/dev/gone /no/such/mountpoint ext4 rw 0 0',
    ]);
    const { filesystems } = await readStorage({ procRoot: proc.dir });
    assert.deepEqual(filesystems.map((f) => [f.device, f.mountpoint]), [['/dev/root', '/']], 'one entry per device: the one nearer the root');
  });

  it('of two entries for one device, a device path beats a name without "/" (as in df)', async () => {
    await mounts(['rootfs / ext4 rw 0 0', `/dev/root ${onRootDevice} ext4 rw 0 0`]);
    const { filesystems } = await readStorage({ procRoot: proc.dir });
    assert.deepEqual(filesystems.map((f) => [f.device, f.mountpoint]), [['/dev/root', onRootDevice]]);
  });
});
