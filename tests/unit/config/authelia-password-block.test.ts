/**
 * Authelia's password settings: the flat legacy block (`algorithm: argon2id` with iterations, memory in
 * MiB, …) is mapped to `argon2`, and every algorithm Authelia writes is accepted, with a warning that
 * Gatehouse writes argon2id anyway.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { renderProblem } from '../../../lib/config-problems.ts';
import { makeConfigDir, MINIMAL_CONFIG, type ConfigDir } from './config-files.ts';

let t: ConfigDir;
let minimal: string;
before(async () => {
  t = await makeConfigDir();
  minimal = await t.write('minimal.yml', MINIMAL_CONFIG);
});
after(() => t.cleanup());

async function loadWith(name: string, yaml: string) {
  const loaded = t.load([minimal, await t.write(name, yaml)]);
  return { config: loaded.config, warnings: loaded.warnings.map(renderProblem) };
}

const P = 'authentication_backend.file.password';

describe('the legacy password block (Authelia ≤ 4.35) is mapped to argon2', () => {
  it('algorithm argon2id with iterations, memory (MiB), parallelism, key_length, salt_length', async () => {
    const { config, warnings } = await loadWith('legacy-argon2.yml', `
authentication_backend:
  file:
    password:
      algorithm: argon2id
      iterations: 3
      memory: 128
      parallelism: 8
      key_length: 32
      salt_length: 16
`);
    const password = config.authentication_backend.file!.password;
    assert.equal(password.algorithm, 'argon2');
    assert.deepEqual(password.argon2, { variant: 'argon2id', iterations: 3, memory: 131_072, parallelism: 8, key_length: 32, salt_length: 16 });
    assert.deepEqual(warnings, [
      `config: ${P}.algorithm: 'argon2id' is deprecated; use algorithm: argon2 with argon2.variant: argon2id instead`,
      `config: ${P}.iterations: is deprecated; use ${P}.argon2.iterations instead`,
      `config: ${P}.memory: is deprecated; use ${P}.argon2.memory instead (read as 131072: the old key counted MiB, the new one KiB)`,
      `config: ${P}.parallelism: is deprecated; use ${P}.argon2.parallelism instead`,
      `config: ${P}.key_length: is deprecated; use ${P}.argon2.key_length instead`,
      `config: ${P}.salt_length: is deprecated; use ${P}.argon2.salt_length instead`,
    ]);
  });

  it("Authelia 4.30's old defaults (iterations 1, 64 MiB) load and are named as weaker than the default", async () => {
    const { config, warnings } = await loadWith('legacy-weak.yml', `authentication_backend: { file: { password: { algorithm: argon2id, iterations: 1, memory: 64, parallelism: 8 } } }\n`);
    assert.deepEqual([config.authentication_backend.file!.password.argon2.iterations, config.authentication_backend.file!.password.argon2.memory], [1, 65_536]);
    assert.ok(warnings.includes(`config: ${P}.argon2: is weaker than the default (memory 65536 KiB, iterations 1; default 65536 KiB, 3)`), warnings.join('\n'));
  });

  it("algorithm sha512 becomes sha2crypt, and the warning says Gatehouse writes argon2id", async () => {
    const { config, warnings } = await loadWith('legacy-sha512.yml', `authentication_backend: { file: { password: { algorithm: sha512, iterations: 50000, salt_length: 32 } } }\n`);
    const password = config.authentication_backend.file!.password;
    assert.deepEqual(password.sha2crypt, { variant: 'sha512', iterations: 50000, salt_length: 16 });
    assert.deepEqual(warnings, [
      `config: ${P}.algorithm: 'sha512' is deprecated; use algorithm: sha2crypt with sha2crypt.variant: sha512 instead`,
      `config: ${P}.iterations: is deprecated; use ${P}.sha2crypt.iterations instead`,
      `config: ${P}.salt_length: is deprecated; use ${P}.sha2crypt.salt_length instead`,
      `config: ${P}.algorithm: is 'sha2crypt', but Gatehouse writes argon2id (with the argon2 settings); this setting only applies to Authelia: sha2crypt hashes already in the users file are still verified`,
      `config: ${P}.sha2crypt: Gatehouse writes argon2id (with the argon2 settings); this setting only applies to Authelia writing sha2crypt hashes, and is ignored`,
    ]);
  });
});

describe('flat keys beside an algorithm they do not belong to', () => {
  it('are ignored with a warning, never read as argon2 settings', async () => {
    const { config, warnings } = await loadWith('flat-pbkdf2.yml', `authentication_backend: { file: { password: { algorithm: pbkdf2, memory: 8 } } }\n`);
    assert.equal(config.authentication_backend.file!.password.argon2.memory, 65_536);
    assert.ok(warnings.includes(`config: ${P}.memory: is deprecated and read only with algorithm argon2 (or sha2crypt, for iterations and salt_length); it is ignored`), warnings.join('\n'));
  });
});

describe('every algorithm Authelia writes is accepted; Gatehouse writes argon2id and says so', () => {
  for (const algorithm of ['sha2crypt', 'pbkdf2', 'bcrypt', 'scrypt']) {
    it(`algorithm: ${algorithm} with its block`, async () => {
      const { config, warnings } = await loadWith(`${algorithm}.yml`, `authentication_backend: { file: { password: { algorithm: ${algorithm}, ${algorithm}: { iterations: 12 } } } }\n`);
      assert.equal(config.authentication_backend.file!.password.algorithm, 'argon2');
      assert.deepEqual(warnings, [
        `config: ${P}.algorithm: is '${algorithm}', but Gatehouse writes argon2id (with the argon2 settings); this setting only applies to Authelia: ${algorithm} hashes already in the users file are still verified`,
        `config: ${P}.${algorithm}: Gatehouse writes argon2id (with the argon2 settings); this setting only applies to Authelia writing ${algorithm} hashes, and is ignored`,
      ]);
    });
  }

  it('argon2.variant argon2i is accepted with the same warning', async () => {
    const { warnings } = await loadWith('argon2i.yml', `authentication_backend: { file: { password: { argon2: { variant: argon2i } } } }\n`);
    assert.deepEqual(warnings, [`config: ${P}.argon2.variant: is 'argon2i', but Gatehouse writes argon2id (with the argon2 settings); this setting only applies to Authelia: argon2i hashes are still verified`]);
  });

  it('an algorithm Authelia does not have is still an error', async () => {
    assert.deepEqual(t.problems([minimal, await t.write('md5.yml', 'authentication_backend: { file: { password: { algorithm: md5 } } }\n')]), [
      `config: ${P}.algorithm: must be one of 'argon2', 'sha2crypt', 'pbkdf2', 'bcrypt', 'scrypt'`,
    ]);
  });
});
