/** `gatehouse config validate` on an Authelia file with deprecated keys: exit 0, each mapping printed as a warning. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runGatehouse } from '../../helpers/cli.ts';
import { makeTempDir } from '../../helpers/tmp.ts';

let dir: string;
let cleanup: () => Promise<void>;
before(async () => {
  ({ dir, cleanup } = await makeTempDir('gatehouse-cli-authelia-'));
});
after(() => cleanup());

describe('gatehouse config validate on an Authelia 4.37-style file', () => {
  it('exits 0 and prints each deprecated key with the key that replaced it', async () => {
    const file = join(dir, 'configuration.yml');
    await writeFile(file, `
jwt_secret: Wn4Tz8Qr2Lp6Vx9Hc3Jb7Kd5FgSmAeWn4Tz8Qr2Lp6
server:
  host: 0.0.0.0
  port: 9091
authentication_backend:
  disable_reset_password: true
  file:
    path: ${dir}/users.yml
    password:
      algorithm: argon2id
      iterations: 3
      memory: 64
access_control:
  default_policy: one_factor
session:
  remember_me_duration: 1M
  cookies:
    - domain: example.com
      authelia_url: https://auth.example.com
storage:
  encryption_key: Xq7vR2mLp9TzW4nB8cYd3JfH6sKa5GuE
  local:
    path: ${dir}/db.sqlite3
`);
    const r = await runGatehouse(['config', 'validate', '--config', file], { GATEHOUSE_DATA: join(dir, 'data') });
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'config: OK\n');
    const P = 'authentication_backend.file.password';
    assert.deepEqual(r.err.trimEnd().split('\n'), [
      'warning: config: authentication_backend.disable_reset_password: is deprecated; use authentication_backend.password_reset.disable instead',
      'warning: config: session.remember_me_duration: is deprecated; use session.remember_me instead',
      'warning: config: jwt_secret: is deprecated; use identity_validation.reset_password.jwt_secret instead',
      "warning: config: server.host: is deprecated; use server.address instead (read as server.address: 'tcp://0.0.0.0:9091')",
      "warning: config: server.port: is deprecated; use server.address instead (read as server.address: 'tcp://0.0.0.0:9091')",
      `warning: config: ${P}.algorithm: 'argon2id' is deprecated; use algorithm: argon2 with argon2.variant: argon2id instead`,
      `warning: config: ${P}.iterations: is deprecated; use ${P}.argon2.iterations instead`,
      `warning: config: ${P}.memory: is deprecated; use ${P}.argon2.memory instead (read as 65536: the old key counted MiB, the new one KiB)`,
    ]);
  });
});
