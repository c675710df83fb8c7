/**
 * Files that hold credentials (config files with secrets, `_FILE` secrets, the users file, keys,
 * auth.json) should be the service account's alone. One check for both services, said at startup.
 */
import { realpathSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

/** A warning for each existing file that group or others can read or write, with the command that fixes it. */
export function credentialFileWarnings(paths: Iterable<string>): string[] {
  const warnings: string[] = [];
  for (const path of new Set(paths)) {
    let mode: number;
    try {
      mode = statSync(path).mode & 0o777;
    } catch {
      continue; // not there (yet): created 0600 when it is
    }
    if ((mode & 0o077) === 0) continue;
    const who = [(mode & 0o070) !== 0 ? 'its group' : '', (mode & 0o007) !== 0 ? 'every user on this machine' : ''].filter(Boolean).join(' and ');
    warnings.push(`${path} holds credentials and is readable or writable by ${who} (mode ${mode.toString(8).padStart(4, '0')}); fix it with: chmod 600 ${path}`);
  }
  return warnings;
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
  const warnings: string[] = [];
  for (const dir of dirs) {
    let mode: number;
    try {
      mode = statSync(dir).mode & 0o777;
    } catch {
      continue;
    }
    if ((mode & 0o022) === 0) continue;
    const who = [(mode & 0o020) !== 0 ? 'its group' : '', (mode & 0o002) !== 0 ? 'every user on this machine' : ''].filter(Boolean).join(' and ');
    warnings.push(`${dir} holds a credential file and is writable by ${who} (mode ${mode.toString(8).padStart(4, '0')}), who can replace the file in it; fix it with: chmod go-w ${dir}`);
  }
  return warnings;
}
