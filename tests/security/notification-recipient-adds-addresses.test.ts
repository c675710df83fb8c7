// A recipient's name or address comes from the users file (later a directory): it must name exactly one
// mailbox. A comma, an angle bracket, a second address or a control character would let the message go
// (or read as going) to someone else; a name with a comma or a quote is quoted, as RFC 5322 says.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createFilesystemNotifier } from '../../gateway/notification/filesystem.ts';
import { formatRecipient, NotifierError, type NotificationMessage, type Recipient } from '../../gateway/notification/notifier.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const RESET: NotificationMessage = { subject: 'Reset your password', text: 'Open https://auth.example.com/reset?token=abc', html: '' };

async function refusedAndNothingWritten(t: { after: (fn: () => Promise<void>) => void }, recipient: Recipient, message: string, note = RESET) {
  const temp = await makeTempDir();
  t.after(temp.cleanup);
  const filename = join(temp.dir, 'notifications.txt');
  await assert.rejects(createFilesystemNotifier({ filename }).send(recipient, note), (error: unknown) => {
    assert.ok(error instanceof NotifierError);
    assert.equal(error.code, 'notification_failed');
    assert.equal(error.message, message, JSON.stringify(recipient));
    return true;
  });
  await assert.rejects(stat(filename), { code: 'ENOENT' });
}

describe('the recipient address is exactly one e-mail address', () => {
  for (const address of ['a@b.example, c@d.example', 'a@b.example,c@d.example', 'a@b.example;c@d.example', '<a@b.example>', 'x <a@b.example>', 'a@b.example>, <c@d.example', '"a b"@c.example', 'a@b.example (c@d)', 'a@b.example\u00a0c@d.example', 'nobody']) {
    it(`refuses ${JSON.stringify(address)}`, async (t) => {
      await refusedAndNothingWritten(t, { address }, 'notifier: the recipient address is not one e-mail address; nothing was sent');
    });
  }
});

describe('the recipient name cannot hold an address', () => {
  for (const name of ['Eve <eve@evil.example>, x', 'Eve <eve@evil.example>', 'x>']) {
    it(`refuses ${JSON.stringify(name)}`, async (t) => {
      await refusedAndNothingWritten(t, { address: 'bob@example.com', name }, "notifier: the recipient name holds '<' or '>'; nothing was sent");
    });
  }
});

describe('a control character in a recipient or the subject is refused (NUL, vertical tab, escape, DEL, C1, direction overrides)', () => {
  for (const bad of ['a\u0000b', 'a\u000bb', 'a\u000cb', 'a\u001b[31mb', 'a\tb', 'a\u007fb', 'a\u009bb', 'a\u202eb', 'a\u2066b']) {
    it(`refuses ${JSON.stringify(bad)} in the name, the address and the subject`, async (t) => {
      await refusedAndNothingWritten(t, { address: 'bob@example.com', name: bad }, 'notifier: the recipient name holds a control character; nothing was sent');
      await refusedAndNothingWritten(t, { address: `${bad}@example.com` }, 'notifier: the recipient address holds a control character; nothing was sent');
      await refusedAndNothingWritten(t, { address: 'bob@example.com' }, 'notifier: the subject holds a control character; nothing was sent', { ...RESET, subject: bad });
    });
  }
});

describe('a display name that is not plain words is written as an RFC 5322 quoted string', () => {
  it('commas, @, quotes and backslashes are quoted; plain words (accented ones too) are written as they are', () => {
    const address = 'jane@example.com';
    assert.equal(formatRecipient({ address, name: 'Doe, Jane' }), '"Doe, Jane" <jane@example.com>');
    assert.equal(formatRecipient({ address, name: 'jane@example.com' }), '"jane@example.com" <jane@example.com>');
    assert.equal(formatRecipient({ address, name: 'Jane "JD" Doe\\' }), '"Jane \\"JD\\" Doe\\\\" <jane@example.com>');
    assert.equal(formatRecipient({ address, name: 'J. Doe' }), '"J. Doe" <jane@example.com>');
    assert.equal(formatRecipient({ address, name: 'Jane  Doe' }), '"Jane  Doe" <jane@example.com>');
    assert.equal(formatRecipient({ address, name: 'Zoë Ångström' }), 'Zoë Ångström <jane@example.com>');
    assert.equal(formatRecipient({ address, name: "Jane O'Doe-Smith" }), "Jane O'Doe-Smith <jane@example.com>");
    assert.equal(formatRecipient({ address }), 'jane@example.com');
  });

  it('the file shows one mailbox for a name with a comma', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const filename = join(temp.dir, 'notifications.txt');
    await createFilesystemNotifier({ filename, now: () => T0 }).send({ address: 'jane@example.com', name: 'Doe, Jane' }, RESET);
    assert.match(await readFile(filename, 'utf8'), /^Date: 2025-06-01T12:00:00\.000Z\nRecipient: "Doe, Jane" <jane@example\.com>\nSubject: Reset your password\n\n/);
  });
});
