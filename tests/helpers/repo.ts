import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** Absolute path of the repository root (two levels above this file). */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

/** Absolute path of a file in the repository, e.g. `repoPath('nginx', 'snippets', 'proxy.conf')`. */
export function repoPath(...segments: string[]): string {
  return join(repoRoot, ...segments);
}
