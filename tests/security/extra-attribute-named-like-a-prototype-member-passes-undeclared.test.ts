/**
 * With authentication_backend.file.extra_attributes declared, a users file's `extra:` entry that is not
 * declared refuses the file (as Authelia refuses it). The declaration was looked up as `declared[name]`
 * on a plain object: `constructor`, `toString`, `hasOwnProperty` found Object.prototype's members,
 * counted as declared, and a boolean value passed as the type check fell through to "boolean". An
 * attribute the operator never declared loaded, and reached expressions and claims.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { parseGatewayConfig } from '../../gateway/config/load.ts';
import { UsersFileError } from '../../gateway/users/errors.ts';
import { openUsers } from '../../gateway/users/open.ts';
import { hashPassword } from '../../lib/password-hash.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const FAST_ARGON2 = { iterations: 1, memory: 1024, parallelism: 1, key_length: 32, salt_length: 16 };

async function openWith(extra: Record<string, unknown>) {
  const { dir, cleanup } = await makeTempDir();
  const path = join(dir, 'users.yml');
  const password = await hashPassword('alice-password', FAST_ARGON2);
  await writeFile(path, stringify({ users: { alice: { displayname: 'Alice', password, extra } } }), { mode: 0o600 });
  const { config } = parseGatewayConfig({
    authentication_backend: { file: { path, password: { argon2: FAST_ARGON2 }, extra_attributes: { department: { value_type: 'string' } } } },
    session: { cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }] },
    storage: { encryption_key: 'a-test-encryption-key-long-enough', local: { path: '/tmp/unused.sqlite3' } },
    access_control: { default_policy: 'one_factor' },
  });
  try {
    const opened = await openUsers(config.authentication_backend, { logger: pino({ level: 'silent' }) });
    await opened.users.close();
  } finally {
    await cleanup();
  }
}

describe('extra_attributes: a name is declared only when the operator declared it', () => {
  for (const name of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    it(`extra.${name} (undeclared) refuses the users file`, async () => {
      await assert.rejects(openWith({ department: 'ops', [name]: true }), (error: unknown) => {
        assert.ok(error instanceof UsersFileError);
        assert.match(error.message, new RegExp(`users\\.alice\\.extra\\.${name}: is not declared`));
        return true;
      });
    });
  }

  it('a declared name still loads', async () => {
    await openWith({ department: 'ops' });
  });
});
