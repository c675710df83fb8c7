/**
 * Files that hold credentials (config files with secrets, `_FILE` secrets, the users file, keys,
 * auth.json) should be the service account's alone. One check for both services, said at startup.
 */
import { realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** The mode of `path` when group or others have any of `mask`'s bits, with who they are; null otherwise (or when absent). */
function exposure(path: string, mask: number): { mode: string; who: string } | null {
  let mode: number;
  try {
    mode = statSync(path).mode & 0o777;
  } catch {
    return null; // not there (yet): created 0600 when it is
  }
  const group = (mode & mask & 0o070) !== 0;
  const others = (mode & mask & 0o007) !== 0;
  if (!group && !others) return null;
  return { mode: mode.toString(8).padStart(4, '0'), who: [group ? 'its group' : '', others ? 'every user on this machine' : ''].filter(Boolean).join(' and ') };
}

/** A warning for each existing file that group or others can read or write, with the command that fixes it. */
export function credentialFileWarnings(paths: Iterable<string>): string[] {
  return [...new Set(paths)].flatMap((path) => {
    const open = exposure(path, 0o077);
    return open ? [`${path} holds credentials and is readable or writable by ${open.who} (mode ${open.mode}); fix it with: chmod 600 ${path}`] : [];
  });
}

/**
 * A warning for each directory holding one of `files` (beside a symlink and beside its target) that
 * group or others can write: whoever can write it can replace the file by a rename, whatever the file's
 * own mode says (the atomic writer replaces it that way too).
 */
export function credentialDirectoryWarnings(files: Iterable<string>): string[] {
  const dirs = new Set<string>();
  for (const file of files) {
    dirs.add(dirname(file));
    try {
      dirs.add(dirname(realpathSync(file)));
    } catch {
      // not there yet: its directory as named
    }
  }
  return [...dirs].flatMap((dir) => {
    const open = exposure(dir, 0o022);
    return open ? [`${dir} holds a credential file and is writable by ${open.who} (mode ${open.mode}), who can replace the file in it; fix it with: chmod go-w ${dir}`] : [];
  });
}
