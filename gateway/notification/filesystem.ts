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
import type { Stats } from 'node:fs';
import { access, constants, lstat, open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { credentialDirectoryWarnings } from '../../lib/file-permissions.ts';
import { assertSafeHeaders, formatRecipient, NotifierError, type Notifier } from './notifier.ts';

export interface FilesystemNotifierOptions {
  /** `notifier.filesystem.filename` */
  filename: string;
  now?: () => number;
  /** where the startup check warns about a directory others can write */
  logger?: Pick<Logger, 'warn'>;
}

// O_NOFOLLOW: a symbolic link put at the path is refused, never followed to a file elsewhere;
// O_NONBLOCK: a FIFO nobody reads is refused at once (ENXIO) instead of hanging the send
const APPEND = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK;

const HEADER_LIKE_LINE = /(^|\r\n|[\n\r\v\f\x1c-\x1e\u0085\u2028\u2029])([> \t]*(?:date|recipient|subject):)/giu;

/** The body with every line that could read as an entry header quoted by one more `>` (see the top of this file). */
function quoteHeaderLikeLines(text: string): string {
  return text.replace(HEADER_LIKE_LINE, '$1>$2');
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  if (code === 'ELOOP') return 'ELOOP: it is a symbolic link, which the notifier never follows';
  if (code === 'ENXIO') return 'ENXIO: it is a FIFO or a device, not a regular file';
  return typeof code === 'string' ? code : (error as Error).message;
}

/**
 * Why the notifier will not write into the file `info` describes, or null. Only a regular file of the
 * gateway's own user with one name: through a FIFO or device the write goes elsewhere or waits, another
 * user's file is not the gateway's to fill with reset links, and a second name (a hard link) may sit in
 * a directory others read.
 */
function refusal(filename: string, info: Stats): string | null {
  if (!info.isFile()) return `'${filename}' is not a regular file`;
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== uid) return `'${filename}' is owned by uid ${info.uid}, not by the gateway's user (uid ${uid})`;
  if (info.nlink !== 1) return `'${filename}' has ${info.nlink} names (hard links), and the notifier writes only a file with one`;
  return null;
}

export function createFilesystemNotifier(options: FilesystemNotifierOptions): Notifier {
  const { filename, logger } = options;
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
        handle = await open(filename, APPEND, 0o600);
      } catch (error) {
        throw new NotifierError('notification_failed', `notifier: filesystem: cannot open '${filename}' (${reason(error)}); nothing was written`, { cause: error });
      }
      let refused: string | null = null;
      try {
        // what was opened, not what the path names now: nothing can be swapped in between
        const info = await handle.stat();
        refused = refusal(filename, info);
        if (refused === null) {
          // a file made before (by hand, or by an older version) is tightened too
          if ((info.mode & 0o077) !== 0) await handle.chmod(0o600);
          // one write with O_APPEND: the whole message lands after every earlier one, never interleaved
          // with another send's, never half-written
          const { bytesWritten } = await handle.write(entry);
          if (bytesWritten !== entry.length) throw new NotifierError('notification_failed', `wrote ${bytesWritten} of ${entry.length} bytes`);
          await handle.datasync();
        }
      } catch (error) {
        throw new NotifierError('notification_failed', `notifier: filesystem: cannot append to '${filename}' (${reason(error)})`, { cause: error });
      } finally {
        await handle.close();
      }
      if (refused !== null) throw new NotifierError('notification_failed', `notifier: filesystem: ${refused}; nothing was written`);
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
      // whoever can write the directory can take the file away or put a link in its place (which stops the notifier)
      for (const warning of credentialDirectoryWarnings([filename])) logger?.warn(`permissions: ${warning}`);
      // the path itself, not what a link there points to
      const file = await lstat(filename).catch((error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return null;
        throw unavailable(`cannot read '${filename}' (${reason(error)})`, error);
      });
      if (file === null) return;
      if (file.isSymbolicLink()) throw unavailable(`'${filename}' is a symbolic link, which the notifier never follows`);
      const refused = refusal(filename, file);
      if (refused !== null) throw unavailable(refused);
      await access(filename, constants.W_OK).catch((error: unknown) => {
        throw unavailable(`'${filename}' is not writable (${reason(error)})`, error);
      });
    },
  };
}
