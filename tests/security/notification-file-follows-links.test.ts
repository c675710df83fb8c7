// The notification file holds reset links. Whoever can put a symbolic link, a hard link or a FIFO at
// notifier.filesystem.filename must not get the gateway to write (or chmod) a file elsewhere, nor hang
// its sends: the notifier opens without following a link or waiting for a reader, and writes only into
// a regular file of its own user with one name. The startup check says the same without opening.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmod, chown, link, mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createFilesystemNotifier } from '../../gateway/notification/filesystem.ts';
import { NotifierError, type NotificationMessage } from '../../gateway/notification/notifier.ts';
import { repoPath } from '../helpers/repo.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const RESET: NotificationMessage = { subject: 'Reset your password', text: 'Open https://auth.example.com/reset?token=abc', html: '' };
const ALICE = { address: 'alice@example.com' };
const asRoot = process.getuid?.() === 0;

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

function refusedWith(message: string | RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof NotifierError);
    assert.equal(error.code, 'notification_failed');
    if (typeof message === 'string') assert.equal(error.message, message);
    else assert.match(error.message, message);
    return true;
  };
}

/** Runs `script` in another Node process, killed after `ms`: a send that hangs cannot hang this test file. */
function runBounded(script: string, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], timeout: ms, killSignal: 'SIGKILL' });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (_code, signal) => resolve(signal === 'SIGKILL' ? 'timed out' : out.trim()));
  });
}

describe('a symbolic link at notifier.filesystem.filename is refused, never followed', () => {
  it('send writes nothing through it: the target keeps its text and its mode', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const target = join(temp.dir, 'target.txt');
    const filename = join(temp.dir, 'notifications.txt');
    await writeFile(target, 'not the notifier\'s\n');
    await chmod(target, 0o644);
    await symlink(target, filename);

    await assert.rejects(
      createFilesystemNotifier({ filename }).send(ALICE, RESET),
      refusedWith(`notifier: filesystem: cannot open '${filename}' (ELOOP: it is a symbolic link, which the notifier never follows); nothing was written`),
    );
    assert.equal(await readFile(target, 'utf8'), 'not the notifier\'s\n');
    assert.equal(await modeOf(target), 0o644);
  });

  it('a link to a file not there yet does not create it', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const target = join(temp.dir, 'elsewhere.txt');
    const filename = join(temp.dir, 'notifications.txt');
    await symlink(target, filename);
    await assert.rejects(createFilesystemNotifier({ filename }).send(ALICE, RESET), { code: 'notification_failed' });
    await assert.rejects(stat(target), { code: 'ENOENT' });
  });

  it('the startup check names it, looking at the link itself', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const target = join(temp.dir, 'target.txt');
    const filename = join(temp.dir, 'notifications.txt');
    await writeFile(target, '');
    await symlink(target, filename);
    await assert.rejects(createFilesystemNotifier({ filename }).startupCheck(), (error: unknown) => {
      assert.ok(error instanceof NotifierError);
      assert.equal(error.code, 'notifier_unavailable');
      assert.equal(error.message, `notifier: filesystem: '${filename}' is a symbolic link, which the notifier never follows (notifier.filesystem.filename is '${filename}')`);
      return true;
    });
  });
});

describe('a FIFO at notifier.filesystem.filename is refused at once, with or without a reader', () => {
  it('send neither hangs nor writes into it; the startup check calls it not a regular file', { timeout: 30_000 }, async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const filename = join(temp.dir, 'notifications.txt');
    const made = spawnSync('mkfifo', ['-m', '0644', filename]);
    if (made.status !== 0) return t.skip('mkfifo is not available');
    const module = JSON.stringify(repoPath('gateway', 'notification', 'filesystem.ts'));
    const fifo = JSON.stringify(filename);
    const send = `createFilesystemNotifier({ filename: ${fifo} }).send({ address: 'alice@example.com' }, { subject: 's', text: 't', html: '' })`;
    const report = `.then(() => 'sent', (error) => error.code + ': ' + error.message)`;

    // nobody reads: an open that waited for a reader would never return
    const alone = await runBounded(`import { createFilesystemNotifier } from ${module}; console.log(await ${send}${report});`, 10_000);
    assert.equal(alone, `notification_failed: notifier: filesystem: cannot open '${filename}' (ENXIO: it is a FIFO or a device, not a regular file); nothing was written`);

    // someone reads: the open succeeds, and what it opened is refused before a byte is written
    const read = await runBounded(
      `import { constants, openSync, readSync } from 'node:fs';
       import { createFilesystemNotifier } from ${module};
       const reader = openSync(${fifo}, constants.O_RDONLY | constants.O_NONBLOCK);
       const outcome = await ${send}${report};
       let got = 0;
       try { got = readSync(reader, Buffer.alloc(4096)); } catch (error) { if (error.code !== 'EAGAIN') throw error; }
       console.log(outcome + ' | read ' + got + ' bytes');`,
      10_000,
    );
    assert.equal(read, `notification_failed: notifier: filesystem: '${filename}' is not a regular file; nothing was written | read 0 bytes`);
    assert.equal(await modeOf(filename), 0o644);

    await assert.rejects(createFilesystemNotifier({ filename }).startupCheck(), {
      message: `notifier: filesystem: '${filename}' is not a regular file (notifier.filesystem.filename is '${filename}')`,
    });
  });
});

describe('a file with a second name (a hard link) is refused: the other name may be anywhere', () => {
  it('send writes nothing and leaves the mode alone; the startup check names it', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const filename = join(temp.dir, 'notifications.txt');
    const other = join(temp.dir, 'other-name.txt');
    await writeFile(other, 'earlier\n');
    await chmod(other, 0o644);
    await link(other, filename);

    await assert.rejects(
      createFilesystemNotifier({ filename }).send(ALICE, RESET),
      refusedWith(`notifier: filesystem: '${filename}' has 2 names (hard links), and the notifier writes only a file with one; nothing was written`),
    );
    assert.equal(await readFile(other, 'utf8'), 'earlier\n');
    assert.equal(await modeOf(other), 0o644);
    await assert.rejects(createFilesystemNotifier({ filename }).startupCheck(), {
      code: 'notifier_unavailable',
      message: `notifier: filesystem: '${filename}' has 2 names (hard links), and the notifier writes only a file with one (notifier.filesystem.filename is '${filename}')`,
    });
  });
});

describe('a file another user owns is refused (made as root: only root can give a file away)', () => {
  it('send writes nothing and leaves the mode alone; the startup check names the owner', { skip: asRoot ? false : 'needs root to chown' }, async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const filename = join(temp.dir, 'notifications.txt');
    await writeFile(filename, 'earlier\n');
    await chmod(filename, 0o666);
    await chown(filename, 65534, 65534);

    const owner = `'${filename}' is owned by uid 65534, not by the gateway's user (uid ${process.getuid!()})`;
    await assert.rejects(createFilesystemNotifier({ filename }).send(ALICE, RESET), refusedWith(`notifier: filesystem: ${owner}; nothing was written`));
    assert.equal(await readFile(filename, 'utf8'), 'earlier\n');
    assert.equal(await modeOf(filename), 0o666);
    await assert.rejects(createFilesystemNotifier({ filename }).startupCheck(), {
      message: `notifier: filesystem: ${owner} (notifier.filesystem.filename is '${filename}')`,
    });
  });
});

describe('the startup check warns when others can write the directory the notification file is in', () => {
  it('one permissions: warning naming the directory for 0777; none for 0700', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''));
        done();
      },
    });
    const logger = pino({ level: 'warn' }, stream);
    const shared = join(temp.dir, 'shared');
    const own = join(temp.dir, 'own');
    await mkdir(shared);
    await mkdir(own);
    await chmod(shared, 0o777);
    await chmod(own, 0o700);

    await createFilesystemNotifier({ filename: join(own, 'notifications.txt'), logger }).startupCheck();
    assert.deepEqual(lines, []);
    await createFilesystemNotifier({ filename: join(shared, 'notifications.txt'), logger }).startupCheck();
    assert.deepEqual(
      lines.map((line) => (JSON.parse(line) as { msg: string }).msg),
      [`permissions: ${shared} holds a credential file and is writable by its group and every user on this machine (mode 0777), who can replace the file in it; fix it with: chmod go-w ${shared}`],
    );
  });
});
