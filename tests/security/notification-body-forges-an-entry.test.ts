// Each entry of the notification file starts at a `Date:` line. A body (which may carry text a user
// chose, such as a display name) holding a line that reads as `Date:`/`Recipient:`/`Subject:` would
// start a forged entry for whoever reads the file back. Such body lines are quoted with one more `>`,
// whatever line break precedes them, so only the notifier writes header lines, and the body comes back
// whole by taking that `>` off again.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createFilesystemNotifier } from '../../gateway/notification/filesystem.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const T0 = Date.UTC(2025, 5, 1, 12, 0, 0);
const HEADERS = 'Date: 2025-06-01T12:00:00.000Z\nRecipient: bob@example.com\nSubject: S\n\n';
// every line break a reader may split on (JavaScript, Python's splitlines, Unicode)
const LINE_BREAK = /\r\n|[\n\r\v\f\x1c-\x1e\u0085\u2028\u2029]/;
const HEADER_LINE = /^[> \t]*(?:date|recipient|subject):/i;

async function written(text: string): Promise<string> {
  const { dir, cleanup } = await makeTempDir();
  try {
    const filename = join(dir, 'notifications.txt');
    await createFilesystemNotifier({ filename, now: () => T0 }).send({ address: 'bob@example.com' }, { subject: 'S', text, html: '' });
    return await readFile(filename, 'utf8');
  } finally {
    await cleanup();
  }
}

describe('a body cannot start a forged entry in the notification file', () => {
  it('a whole fake entry in the body is quoted line by line', async () => {
    const text = 'body\n\nDate: 2020-01-01T00:00:00.000Z\nRecipient: forged@x.example\nSubject: forged\n\nforged body';
    assert.equal(
      await written(text),
      `${HEADERS}body\n\n>Date: 2020-01-01T00:00:00.000Z\n>Recipient: forged@x.example\n>Subject: forged\n\nforged body\n\n`,
    );
  });

  const bodies = [
    'Date: at the very start',
    'a\r\nDate: after CRLF',
    'a\rDate: after CR',
    'a\u2028Date: after LINE SEPARATOR',
    'a\u0085Date: after NEL',
    'a\u000bDate: after VT',
    'a\u000cDate: after FF',
    'a\u001eRecipient: after RS',
    'a\n  date: indented, lower case',
    'a\n\tSUBJECT: tab',
    'a\n>Date: already quoted once',
    'a\n> >Date: quoted with spaces',
  ];
  for (const text of bodies) {
    it(`only the notifier's three header lines read as headers: ${JSON.stringify(text)}`, async () => {
      const file = await written(text);
      assert.ok(file.startsWith(HEADERS));
      const headerLines = file.split(LINE_BREAK).filter((line) => HEADER_LINE.test(line) && !line.startsWith('>'));
      assert.deepEqual(headerLines, HEADERS.split('\n').slice(0, 3));
      // taking one `>` off each quoted line gives the body back exactly
      const body = file.slice(HEADERS.length, -2);
      const pattern = /(^|\r\n|[\n\r\v\f\x1c-\x1e\u0085\u2028\u2029])>([> \t]*(?:date|recipient|subject):)/giu;
      assert.equal(body.replace(pattern, '$1$2'), text);
    });
  }

  it('a body without such lines is written as it is', async () => {
    const text = 'Hello,\nthe Date: of your request\nMy subject: yours\n> quoted reply';
    assert.equal(await written(text), `${HEADERS}${text}\n\n`);
  });
});
