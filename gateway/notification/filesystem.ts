/**
 * The filesystem notifier (Authelia's `notifier.filesystem`): every message is appended to one file
 * instead of being mailed, for a single-user setup or a test that reads the link back. The file holds
 * reset links, so it is created 0600 and kept so.
 *
 * The file is a list of entries, each written whole by one append:
 *
 *     Date: <ISO 8601 time>
 *     Recipient: <Name <address>, or the address>
 *     Subject: <subject>
 *     <empty line>
 *     <text body, its line breaks as sent>
 *     <empty line>
 *
 * An entry starts at a `Date:` line. Headers never hold a line break or a control character (refused),
 * and a body line that could read as a header (`Date:`, `Recipient:` or `Subject:`, in any case, after
 * any run of `>`, spaces and tabs, and after any line break a reader may split on) gets one more `>` in
 * front, as mboxrd quotes `From ` lines: no body can start a forged entry, bodies without such lines are
 * written as they are, and taking that one `>` off gives the body back exactly.
 */
import { access, constants, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { assertSafeHeaders, formatRecipient, NotifierError, type Notifier } from './notifier.ts';

export interface FilesystemNotifierOptions {
  /** `notifier.filesystem.filename` */
  filename: string;
  now?: () => number;
}

const HEADER_LIKE_LINE = /(^|\r\n|[\n\r\v\f\x1c-\x1e\u0085\u2028\u2029])([> \t]*(?:date|recipient|subject):)/giu;

/** The body with every line that could read as an entry header quoted by one more `>` (see the top of this file). */
function quoteHeaderLikeLines(text: string): string {
  return text.replace(HEADER_LIKE_LINE, '$1>$2');
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : (error as Error).message;
}

export function createFilesystemNotifier(options: FilesystemNotifierOptions): Notifier {
  const { filename } = options;
  const now = options.now ?? Date.now;
  const unavailable = (what: string, cause?: unknown) =>
    new NotifierError('notifier_unavailable', `notifier: filesystem: ${what} (notifier.filesystem.filename is '${filename}')`, { cause });

  return {
    async send(recipient, message) {
      assertSafeHeaders(recipient, message);
      const entry = Buffer.from(
        `Date: ${new Date(now()).toISOString()}\nRecipient: ${formatRecipient(recipient)}\nSubject: ${message.subject}\n\n${quoteHeaderLikeLines(message.text.replace(/\n*$/, ''))}\n\n`,
        'utf8',
      );
      let handle;
      try {
        handle = await open(filename, 'a', 0o600);
      } catch (error) {
        throw new NotifierError('notification_failed', `notifier: filesystem: cannot open '${filename}' (${reason(error)}); nothing was written`, { cause: error });
      }
      try {
        // a file made before (by hand, or by an older version) is tightened too
        if (((await handle.stat()).mode & 0o077) !== 0) await handle.chmod(0o600);
        // one write with O_APPEND: the whole message lands after every earlier one, never interleaved
        // with another send's, never half-written
        const { bytesWritten } = await handle.write(entry);
        if (bytesWritten !== entry.length) throw new NotifierError('notification_failed', `wrote ${bytesWritten} of ${entry.length} bytes`);
        await handle.datasync();
      } catch (error) {
        throw new NotifierError('notification_failed', `notifier: filesystem: cannot append to '${filename}' (${reason(error)})`, { cause: error });
      } finally {
        await handle.close();
      }
    },

    // reads only: nothing is created until the first message
    async startupCheck() {
      const directory = dirname(filename);
      const info = await stat(directory).catch((error: NodeJS.ErrnoException) => {
        throw unavailable(error.code === 'ENOENT' ? `the directory '${directory}' does not exist` : `cannot read the directory '${directory}' (${reason(error)})`, error);
      });
      if (!info.isDirectory()) throw unavailable(`'${directory}' is not a directory`);
      await access(directory, constants.W_OK | constants.X_OK).catch((error: unknown) => {
        throw unavailable(`the directory '${directory}' is not writable (${reason(error)})`, error);
      });
      const file = await stat(filename).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return null;
        throw unavailable(`cannot read '${filename}' (${reason(error)})`, error);
      });
      if (file === null) return;
      if (!file.isFile()) throw unavailable(`'${filename}' is not a regular file`);
      await access(filename, constants.W_OK).catch((error: unknown) => {
        throw unavailable(`'${filename}' is not writable (${reason(error)})`, error);
      });
    },
  };
}
