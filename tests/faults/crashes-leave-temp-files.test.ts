// A process killed mid-write (kill -9, a crash, power loss) leaves the atomic writer's temp file beside
// the users file or auth.json. The next start removes those, and only those: never a file it did not write.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, symlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseMonitorConfig } from '../../monitor/config/load.ts';
import { startMonitor } from '../../monitor/app.ts';
import { PID_SPACE, removeStaleTempFiles, writeFileAtomic } from '../../lib/fs-atomic.ts';
import { captureLogs } from '../helpers/logs.ts';
import { startInProcessGateway, writeUsersFile } from '../helpers/inprocess-gateway.ts';
import { makeTempDir } from '../helpers/tmp.ts';

/** The pid of a process that was killed with SIGKILL: as a writer that crashed mid-write leaves it. */
async function pidOfAKilledProcess(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  await new Promise<void>((resolve) => child.once('spawn', () => resolve()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
  return child.pid!;
}

/** A temp file named as writeFileAtomic names them, for `file`, by process `pid` (of this host and pid namespace unless `space` says otherwise). */
const tempName = (file: string, pid: number, space = PID_SPACE) => `.${file}.${pid}@${space}.0123456789ab.gatehouse-tmp`;

describe('the temp files a killed writer leaves are removed at the next start', () => {
  let dead: number;
  before(async () => {
    dead = await pidOfAKilledProcess();
  });

  it('gateway: beside the users file, the dead writer\'s temp file goes; an unrelated *.tmp and a live write stay', async (t) => {
    const temp = await makeTempDir('gatehouse-crash-');
    t.after(temp.cleanup);
    const leftover = join(temp.dir, tempName('users.yml', dead));
    const unrelated = join(temp.dir, 'users.yml.tmp');
    const inProgress = join(temp.dir, tempName('users.yml', process.pid));
    await writeFile(leftover, 'users:\n  half a wri');
    await writeFile(unrelated, 'an editor swap file, not ours');
    await writeFile(inProgress, 'this process is writing it right now');

    const gw = await startInProcessGateway({ dir: temp.dir, users: { alice: { password: 'correct horse battery staple' } }, config: { access_control: { default_policy: 'one_factor' } } });
    t.after(() => gw.close());

    assert.equal(existsSync(leftover), false, 'the crashed write\'s temp file is still there');
    assert.equal(existsSync(unrelated), true, 'a file the writer did not name was removed');
    assert.equal(existsSync(inProgress), true, 'a write in progress (its writer alive, under a minute old) was removed');
    const said = gw.logs().find((r) => r.file === leftover);
    assert.ok(said, 'the removal is logged, naming the file');
  });

  it('monitor: beside auth.json, the same', async (t) => {
    const temp = await makeTempDir('gatehouse-crash-monitor-');
    t.after(temp.cleanup);
    const dataDir = join(temp.dir, 'monitor');
    await writeFileAtomic(join(dataDir, 'placeholder'), 'x'); // creates the directory
    const leftover = join(dataDir, tempName('auth.json', dead));
    const unrelated = join(dataDir, 'auth.json.tmp');
    await writeFile(leftover, '{"enabled": tr');
    await writeFile(unrelated, 'not ours');

    const { config } = parseMonitorConfig({ data_dir: dataDir, server: { address: 'tcp://127.0.0.1:0' } });
    const monitor = await startMonitor(config, { logger: captureLogs().logger });
    t.after(() => monitor.close());

    assert.equal(existsSync(leftover), false);
    assert.equal(existsSync(unrelated), true);
  });

  it('a temp file older than a minute goes even when its pid names a live process (pids are reused)', async (t) => {
    const temp = await makeTempDir('gatehouse-crash-old-');
    t.after(temp.cleanup);
    const old = join(temp.dir, tempName('users.yml', process.pid));
    await writeFile(old, 'x');
    const minuteAgo = new Date(Date.now() - 61_000);
    await utimes(old, minuteAgo, minuteAgo);
    assert.deepEqual(await removeStaleTempFiles(temp.dir, { isAlive: () => true }), [old]);
    assert.deepEqual(await readdir(temp.dir), []);
  });

  it('the writer itself leaves nothing behind and names its temp files by that pattern', async (t) => {
    const temp = await makeTempDir('gatehouse-crash-writer-');
    t.after(temp.cleanup);
    await writeFileAtomic(join(temp.dir, 'users.yml'), 'users: {}\n');
    assert.deepEqual(await readdir(temp.dir), ['users.yml']);
  });
});

describe('a temp file is judged by its pid only where that pid means something', () => {
  it("another container's or host's fresh temp file stays (its pid is not ours to test), and its rename then succeeds; after a minute it goes", async (t) => {
    const temp = await makeTempDir('gatehouse-crash-foreign-');
    t.after(temp.cleanup);
    const live = join(temp.dir, tempName('users.yml', 4_000_000, 'other-container-4026532001')); // no such pid here
    await writeFile(live, 'users: {}\n');
    assert.deepEqual(await removeStaleTempFiles(temp.dir), []);
    await rename(live, join(temp.dir, 'users.yml')); // the other writer finishes: ENOENT if we had removed it

    const crashed = join(temp.dir, tempName('users.yml', 4_000_001, 'other-container-4026532001'));
    await writeFile(crashed, 'half');
    const minuteAgo = new Date(Date.now() - 61_000);
    await utimes(crashed, minuteAgo, minuteAgo);
    assert.deepEqual(await removeStaleTempFiles(temp.dir, { isAlive: () => false }), [crashed]);
  });

  it('a file naming our own pid is a leftover when it is older than this process (pid 1 again after a container restart), a write in progress otherwise', async (t) => {
    const temp = await makeTempDir('gatehouse-crash-own-pid-');
    t.after(temp.cleanup);
    const now = Date.now();
    const leftover = join(temp.dir, tempName('users.yml', 1));
    await writeFile(leftover, 'half a file');
    const before = new Date(now - 10_000); // ten seconds before this process started: younger than a minute
    await utimes(leftover, before, before);
    const writing = join(temp.dir, tempName('auth.json', 1));
    await writeFile(writing, 'being written');
    const options = { pid: 1, processStart: now - 5_000, now: () => now, isAlive: () => true };
    assert.deepEqual(await removeStaleTempFiles(temp.dir, options), [leftover]);
    assert.equal(existsSync(writing), true);
  });

  it('gateway: a symlinked users file has its temp files beside the target, and those are removed too', async (t) => {
    const temp = await makeTempDir('gatehouse-crash-symlink-');
    t.after(temp.cleanup);
    const real = join(temp.dir, 'real');
    await mkdir(real);
    await writeUsersFile(join(real, 'users.yml'), { alice: { password: 'correct horse battery staple' } });
    await symlink(join(real, 'users.yml'), join(temp.dir, 'users.yml'));
    const dead = await pidOfAKilledProcess();
    const leftover = join(real, tempName('users.yml', dead));
    await writeFile(leftover, 'users:\n  half a wri');

    const gw = await startInProcessGateway({ dir: temp.dir, config: { access_control: { default_policy: 'one_factor' } } });
    t.after(() => gw.close());
    assert.equal(existsSync(leftover), false, 'the crashed write beside the real users file is still there');
  });
});
