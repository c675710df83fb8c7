import { constants, type Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { UsersFileError } from './errors.ts';

function kindOf(info: Stats): string {
  if (info.isFIFO()) return 'a FIFO (named pipe)';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSocket()) return 'a socket';
  return 'not a file';
}

/**
 * The users file's text. It must be a regular file (a symlink to one is fine): it is opened without
 * blocking and checked on the open descriptor, because a FIFO at the path would hold the read (and the
 * process) until something writes to it, and a device could be read forever. Errors as fs throws them
 * (ENOENT, EACCES, EISDIR for a directory), or UsersFileError for anything else that is not a file.
 */
export async function readUsersFile(path: string): Promise<string> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = await handle.stat();
    // a directory: the read fails with EISDIR, which unreadableUsersFile explains
    if (!info.isFile() && !info.isDirectory()) {
      throw new UsersFileError(path, [`cannot read the file: it is ${kindOf(info)}, not a regular file; give the path of the users file itself`]);
    }
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}
