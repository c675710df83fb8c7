import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runGatehouse } from '../../helpers/cli.ts';
import { makeTempDir } from '../../helpers/tmp.ts';

describe('gatehouse users with authentication_backend.ldap: the directory manages its users', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let config: string;
  before(async () => {
    ({ dir, cleanup } = await makeTempDir());
    config = join(dir, 'gateway.yml');
    await writeFile(
      config,
      `authentication_backend:
  password_reset: { disable: true }
  ldap:
    implementation: lldap
    address: ldap://127.0.0.1:1
    base_dn: dc=example,dc=com
    user: uid=gatehouse,ou=people,dc=example,dc=com
    password: Lw8kQz3vN7tRm2XcLw8kQz3vN7tRm2Xc
session:
  cookies: [{ domain: example.com, authelia_url: 'https://auth.example.com/' }]
storage:
  encryption_key: a-test-encryption-key-long-enough-1234
  local: { path: ${join(dir, 'db.sqlite3')} }
access_control: { default_policy: one_factor }
`,
    );
  });
  after(() => cleanup());

  for (const command of [['list'], ['add', 'bob'], ['rename', 'bob', 'robert']]) {
    it(`users ${command.join(' ')}: a usage error naming the directory, nothing created`, async () => {
      const run = await runGatehouse(['users', ...command, '--config', config], {});
      assert.equal(run.code, 2, run.err);
      assert.match(run.err, /the users are in the directory named by authentication_backend\.ldap \(ldap:\/\/127\.0\.0\.1:1\): add, remove and rename them there/);
    });
  }
});
