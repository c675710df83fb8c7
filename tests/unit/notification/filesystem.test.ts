import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFilesystemNotifier } from '../../../gateway/notification/filesystem.ts';
import { NotifierError, type NotificationMessage } from '../../../gateway/notification/notifier.ts';
import { openNotifier } from '../../../gateway/notification/open.ts';
import { repoPath } from '../../helpers/repo.ts';
import { makeTempDir } from '../../helpers/tmp.ts';

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const RESET: NotificationMessage = {
  subject: 'Reset your password',
  text: 'Hello Alice,\n\nOpen https://auth.example.com/reset?token=abc to choose a new password.\n',
  html: '<p>Hello Alice,</p><p><a href="https://auth.example.com/reset?token=abc">Choose a new password</a></p>',
};

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

describe('the filesystem notifier appends each message, whole, to notifier.filesystem.filename', () => {
  it('writes date, recipient, subject and the text body, one message after the other, in a file only its owner reads', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const filename = join(temp.dir, 'notifications.txt');
    const notifier = createFilesystemNotifier({ filename, now: () => T0 });

    await notifier.send({ address: 'alice@example.com', name: 'Alice Liddell' }, RESET);
    await notifier.send({ address: 'bob@example.com' }, { subject: 'New sign-in', text: 'A new device signed in.', html: '<p>A new device signed in.</p>' });

    assert.equal(
      await readFile(filename, 'utf8'),
      'Date: 2025-06-01T12:00:00.000Z\nRecipient: Alice Liddell <alice@example.com>\nSubject: Reset your password\n\n'
        + 'Hello Alice,\n\nOpen https://auth.example.com/reset?token=abc to choose a new password.\n\n'
        + 'Date: 2025-06-01T12:00:00.000Z\nRecipient: bob@example.com\nSubject: New sign-in\n\nA new device signed in.\n\n',
    );
    assert.equal(await modeOf(filename), 0o600);
  });

  it('never interleaves messages sent at once: each lands whole', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const filename = join(temp.dir, 'notifications.txt');
    const notifier = createFilesystemNotifier({ filename, now: () => T0 });
    const bodies = Array.from({ length: 20 }, (_, i) => `${String(i).padStart(2, '0')}:${String.fromCharCode(97 + i).repeat(100_000)}`);

    await Promise.all(bodies.map((text, i) => notifier.send({ address: `user${i}@example.com` }, { subject: `message ${i}`, text, html: '' })));

    const entries = (await readFile(filename, 'utf8')).split('Date: ').slice(1);
    assert.equal(entries.length, 20);
    for (const entry of entries) {
      const i = Number(/^Subject: message (\d+)$/m.exec(entry)?.[1]);
      assert.equal(entry, `2025-06-01T12:00:00.000Z\nRecipient: user${i}@example.com\nSubject: message ${i}\n\n${bodies[i]}\n\n`);
    }
  });

  it('tightens a file another tool left readable by others to 0600', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const filename = join(temp.dir, 'notifications.txt');
    await writeFile(filename, 'earlier\n');
    await chmod(filename, 0o644);
    await createFilesystemNotifier({ filename, now: () => T0 }).send({ address: 'alice@example.com' }, RESET);
    assert.equal(await modeOf(filename), 0o600);
    assert.match(await readFile(filename, 'utf8'), /^earlier\nDate: /);
  });

  it('refuses a recipient or subject with a line break, and writes nothing', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const filename = join(temp.dir, 'notifications.txt');
    const notifier = createFilesystemNotifier({ filename });
    const forged = { address: 'alice@example.com', name: 'Alice\n\nDate: 2000-01-01' };
    await assert.rejects(notifier.send(forged, RESET), (error: unknown) => {
      assert.ok(error instanceof NotifierError);
      assert.equal(error.code, 'notification_failed');
      assert.equal(error.message, 'notifier: the recipient name holds a line break; nothing was sent');
      return true;
    });
    await assert.rejects(notifier.send({ address: 'alice@example.com' }, { ...RESET, subject: 'Hi\r\nBcc: x' }), { code: 'notification_failed' });
    await assert.rejects(stat(filename), { code: 'ENOENT' });
  });
});

describe('the filesystem notifier startup check refuses a file it could not write, and writes nothing', () => {
  it('passes for a writable directory without creating the file', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const filename = join(temp.dir, 'notifications.txt');
    await createFilesystemNotifier({ filename }).startupCheck();
    await assert.rejects(stat(filename), { code: 'ENOENT' });
  });

  it('names a missing directory', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const filename = join(temp.dir, 'missing', 'notifications.txt');
    await assert.rejects(createFilesystemNotifier({ filename }).startupCheck(), (error: unknown) => {
      assert.ok(error instanceof NotifierError);
      assert.equal(error.code, 'notifier_unavailable');
      assert.equal(error.message, `notifier: filesystem: the directory '${join(temp.dir, 'missing')}' does not exist (notifier.filesystem.filename is '${filename}')`);
      return true;
    });
  });

  it('refuses a filename that is a directory, or whose directory is a file', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    await mkdir(join(temp.dir, 'notifications.txt'));
    await assert.rejects(createFilesystemNotifier({ filename: join(temp.dir, 'notifications.txt') }).startupCheck(), {
      message: `notifier: filesystem: '${join(temp.dir, 'notifications.txt')}' is not a regular file (notifier.filesystem.filename is '${join(temp.dir, 'notifications.txt')}')`,
    });
    await writeFile(join(temp.dir, 'plain'), '');
    await assert.rejects(createFilesystemNotifier({ filename: join(temp.dir, 'plain', 'notifications.txt') }).startupCheck(), {
      message: new RegExp(`^notifier: filesystem: '${join(temp.dir, 'plain')}' is not a directory`),
    });
  });

  it('refuses a directory the gateway cannot write to (checked as an unprivileged user: root writes anywhere)', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const locked = join(temp.dir, 'locked');
    await mkdir(locked, { mode: 0o755 });
    await chmod(temp.dir, 0o755);
    const filename = join(locked, 'notifications.txt');
    const script = `
      import { createFilesystemNotifier } from ${JSON.stringify(repoPath('gateway', 'notification', 'filesystem.ts'))};
      createFilesystemNotifier({ filename: ${JSON.stringify(filename)} }).startupCheck().then(() => console.log('ok'), (error) => console.log(error.message));
    `;
    const asRoot = process.getuid?.() === 0;
    if (!asRoot) await chmod(locked, 0o555);
    const output = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
        stdio: ['ignore', 'pipe', 'inherit'],
        ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
      child.on('error', reject);
      child.on('close', () => resolve(out.trim()));
    });
    assert.equal(output, `notifier: filesystem: the directory '${locked}' is not writable (EACCES) (notifier.filesystem.filename is '${filename}')`);
  });
});

describe('openNotifier builds the notifier notifier.* names', () => {
  it('the filesystem notifier for notifier.filesystem; none without a notifier section', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const filename = join(temp.dir, 'notifications.txt');
    assert.equal(openNotifier(undefined), null);
    const notifier = openNotifier({ disable_startup_check: false, filesystem: { filename } }, { now: () => T0 });
    await notifier!.send({ address: 'alice@example.com' }, RESET);
    assert.match(await readFile(filename, 'utf8'), /^Date: 2025-06-01T12:00:00\.000Z\nRecipient: alice@example\.com\n/);
  });
});
