/**
 * A private key kept in a file the gateway makes itself (the identity-assertion key, the OpenID Connect
 * signing key when none is configured): read it, or on first use generate one and write it there
 * atomically (0600). An existing file that cannot be read is never replaced: apps trust the key in it.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { GatehouseError } from './errors.ts';
import { writeFileAtomic } from './fs-atomic.ts';

/** The key at `path`, or a new one from `generate` written there; `created` says which. `what` names it in errors. */
export async function loadOrCreateKey(path: string, generate: () => KeyObject, what: string): Promise<{ key: KeyObject; created: boolean }> {
  try {
    return { key: createPrivateKey(readFileSync(path, 'utf8')), created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new GatehouseError('secret_file_unusable', `${what}: cannot use ${path} (${(error as Error).message}); restore it, or remove it to make a new key (apps then fetch the new one from /jwks.json)`);
    }
  }
  const key = generate();
  await writeFileAtomic(path, key.export({ format: 'pem', type: 'pkcs8' }).toString(), 0o600);
  return { key, created: true };
}
