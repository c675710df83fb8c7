import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

// nginx and redis-server live in sbin directories that a non-login shell may not have on PATH.
const extraDirectories = ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];

/**
 * Absolute path of an executable, or an Error telling which Debian package to install.
 * Tests call this first so a missing binary fails the test with the fix, never skips it.
 */
export function requireBinary(name: string, debianPackage: string): string {
  const directories = [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), ...extraDirectories];
  for (const directory of directories) {
    const candidate = join(directory, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here; keep looking
    }
  }
  throw new Error(`${name} not found: install the Debian package ${debianPackage} (apt-get install ${debianPackage})`);
}
