/**
 * Files that hold credentials (config files with secrets, `_FILE` secrets, the users file, keys,
 * auth.json) should be the service account's alone. One check for both services, said at startup.
 */
import { statSync } from 'node:fs';

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
