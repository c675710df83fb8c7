// Review of issue 7, item 6: the dummy check for unknown users was made with the configured argon2
// parameters, so a user whose argon2 hash is STRONGER than configured (made before the parameters were
// lowered, or by another tool) still took longer than an unknown user, and the time told who exists.
// The dummy is now at least as costly as the strongest argon2 hash in the users file, recomputed when
// the file changes, and nobody's hash is weakened. The verifier is injected and records the hash it
// was handed; nothing is timed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FileUserProvider } from '../../gateway/users/file-provider.ts';
import { hashPassword, verifyPassword } from '../../lib/password-hash.ts';
import { captureLogs } from '../helpers/logs.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const PASSWORD = 'correct horse battery staple';
const CONFIGURED = { iterations: 1, memory: 1024, parallelism: 1, key_length: 32, salt_length: 16 };

/** m, t, p and the key length of an argon2 PHC string. */
function argon2Cost(encoded: string): { m: number; t: number; p: number; key: number } {
  const parts = encoded.split('$');
  const values = Object.fromEntries(parts[3]!.split(',').map((pair) => [pair[0], Number(pair.slice(2))]));
  return { m: values['m']!, t: values['t']!, p: values['p']!, key: Buffer.from(parts[5]!, 'base64').length };
}

function usersFile(hashes: Record<string, string>): string {
  return `users:\n${Object.entries(hashes).map(([name, hash]) => `  ${name}:\n    displayname: ${name}\n    password: "${hash}"\n`).join('')}`;
}

describe('an unknown user costs at least what the strongest argon2 hash in the users file costs', () => {
  it('a stronger-than-configured hash raises the dummy; a reload that brings a stronger one raises it again; nobody is re-hashed down', async () => {
    const { dir, cleanup } = await makeTempDir('gatehouse-strong-');
    try {
      const path = join(dir, 'users.yml');
      const strong = await hashPassword(PASSWORD, { ...CONFIGURED, memory: 2048, iterations: 2, key_length: 40 });
      await writeFile(path, usersFile({ alice: strong, bob: await hashPassword(PASSWORD, CONFIGURED) }), { mode: 0o600 });
      const handed: string[] = [];
      const verify = async (encoded: string, password: string) => {
        handed.push(encoded);
        return verifyPassword(encoded, password);
      };
      const provider = await FileUserProvider.open({ path, watch: false, password: { algorithm: 'argon2', argon2: CONFIGURED }, logger: captureLogs().logger, verifyPassword: verify });
      try {
        assert.equal(await provider.verifyPassword('nobody', PASSWORD), null);
        const dummy = argon2Cost(handed.at(-1)!);
        const alice = argon2Cost(strong);
        assert.ok(dummy.m >= alice.m && dummy.t >= alice.t && dummy.p >= alice.p && dummy.key >= alice.key, `dummy ${JSON.stringify(dummy)} vs alice ${JSON.stringify(alice)}`);

        // alice logs in: her stronger hash is kept, not re-hashed down to the configured parameters
        assert.equal((await provider.verifyPassword('alice', PASSWORD))?.username, 'alice');
        assert.equal(handed.at(-1), strong);
        assert.equal(provider.listUsers().length, 2);

        // the operator adds carol with an even stronger hash: after the reload, the dummy follows
        const stronger = await hashPassword(PASSWORD, { ...CONFIGURED, memory: 4096, iterations: 3, parallelism: 2 });
        await writeFile(path, usersFile({ alice: strong, carol: stronger }));
        assert.equal((await provider.reload()).status, 'loaded');
        assert.equal(await provider.verifyPassword('nobody', PASSWORD), null);
        const raised = argon2Cost(handed.at(-1)!);
        assert.ok(raised.m >= 4096 && raised.t >= 3 && raised.p >= 2 && raised.key >= 40, `after the reload: ${JSON.stringify(raised)}`);
        // a disabled user is checked like an unknown one
        await writeFile(path, usersFile({ alice: strong, carol: stronger }).replace('displayname: alice', 'displayname: alice\n    disabled: true'));
        await provider.reload();
        assert.equal(await provider.verifyPassword('alice', PASSWORD), null);
        assert.deepEqual(argon2Cost(handed.at(-1)!), raised);
      } finally {
        await provider.close();
      }
    } finally {
      await cleanup();
    }
  });
});
