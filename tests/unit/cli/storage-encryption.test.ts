import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openStorage } from '../../../gateway/storage/open.ts';
import { runGatehouse } from '../../helpers/cli.ts';
import { makeTempDir } from '../../helpers/tmp.ts';
import { silentLogger } from '../storage/backends.ts';

const OLD_KEY = 'Xq7vR2mLp9TzW4nB8cYd3JfH6sKa5GuE';
const NEW_KEY = 'Pz4wK8nQ2rT6yV9bM3cX7hJ5dF1gL0sA';

let dir: string;
let cleanup: () => Promise<void>;
let configFile: string;

const config = (database: string) => `
authentication_backend:
  file:
    path: '${dir}/users.yml'
access_control:
  default_policy: one_factor
session:
  cookies:
    - domain: example.com
      authelia_url: https://auth.example.com
storage:
  local:
    path: '${database}'
`;

const run = (argv: string[], key: string, stdin?: string) =>
  runGatehouse(argv, { GATEHOUSE_DATA: join(dir, 'data'), GATEHOUSE_STORAGE_ENCRYPTION_KEY: key }, { stdin });

before(async () => {
  ({ dir, cleanup } = await makeTempDir('gatehouse-cli-encryption-'));
  configFile = join(dir, 'gatehouse.yml');
});
after(() => cleanup());

async function databaseWithSecrets(name: string): Promise<string> {
  const path = join(dir, `${name}.sqlite3`);
  await writeFile(configFile, config(path));
  const storage = await openStorage({ encryption_key: OLD_KEY, local: { path } }, { logger: silentLogger, migrate: true });
  await storage.totp.save({ username: 'alice', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret: Buffer.alloc(20, 1), createdAt: 1 });
  await storage.oneTimeCodes.create({ username: 'alice', intent: 'elevate', code: 'H7KM3QXP', issuedAt: 1, issuedIp: '192.0.2.1', expiresAt: 2 });
  await storage.close();
  return path;
}

describe('gatehouse storage encryption --help', () => {
  for (const argv of [['storage', 'encryption', '--help'], ['storage', 'encryption', 'check', '--help'], ['storage', 'encryption', 'change-key', '--help']]) {
    it(argv.join(' '), async () => {
      const r = await run(argv, OLD_KEY);
      assert.equal(r.code, 0);
      assert.match(r.out, /^Usage: gatehouse storage encryption check/m);
      assert.match(r.out, /--new-encryption-key-file F/);
    });
  }
  it('storage --help names the encryption commands', async () => {
    assert.match((await run(['storage', '--help'], OLD_KEY)).out, /gatehouse storage encryption check\|change-key/);
  });
});

describe('gatehouse storage encryption check, then change-key, then check with each key', () => {
  it('check passes with the key, change-key from a file, then the new key passes and the old one fails', async () => {
    await databaseWithSecrets('file');
    const check = await run(['storage', 'encryption', 'check', '--config', configFile], OLD_KEY);
    assert.deepEqual(check, {
      code: 0,
      out: 'storage: encryption_key matches the database\n'
        + 'storage: totp_configurations.secret: 1 decrypted\nstorage: one_time_codes.code: 1 decrypted\nstorage: encryption.lookup_key: 1 decrypted\nstorage: user_sessions.session_id: 0 decrypted\nstorage: oidc_payloads.payload: 0 decrypted\n',
      err: '',
    });

    const keyFile = join(dir, 'new-key');
    await writeFile(keyFile, `${NEW_KEY}\n`);
    const change = await run(['storage', 'encryption', 'change-key', '--new-encryption-key-file', keyFile, '--config', configFile], OLD_KEY);
    assert.equal(change.code, 0, change.err);
    assert.equal(change.out, 'storage: totp_configurations.secret: 1 re-encrypted\nstorage: one_time_codes.code: 1 re-encrypted\nstorage: encryption.lookup_key: 1 re-encrypted\nstorage: user_sessions.session_id: 0 re-encrypted\nstorage: oidc_payloads.payload: 0 re-encrypted\n'
      + 'storage: the database now uses the new encryption_key; set it in the configuration before starting the gateway\n');

    assert.equal((await run(['storage', 'encryption', 'check', '--config', configFile], NEW_KEY)).code, 0);
    const stale = await run(['storage', 'encryption', 'check', '--config', configFile], OLD_KEY);
    assert.deepEqual(stale, { code: 1, out: '', err: 'gatehouse: storage: the encryption_key does not match the one this database was created with\n' });
  });

  it('reads the new key from stdin, and refuses a short one before touching anything', async () => {
    await databaseWithSecrets('stdin');
    const short = await run(['storage', 'encryption', 'change-key', '--new-encryption-key-stdin', '--config', configFile], OLD_KEY, 'too-short\n');
    assert.deepEqual(short, { code: 1, out: '', err: "gatehouse: storage: option 'encryption_key' must be at least 20 characters long\n" });
    assert.equal((await run(['storage', 'encryption', 'check', '--config', configFile], OLD_KEY)).code, 0, 'still the old key');

    const change = await run(['storage', 'encryption', 'change-key', '--new-encryption-key-stdin', '--config', configFile], OLD_KEY, `${NEW_KEY}\n`);
    assert.equal(change.code, 0, change.err);
    assert.equal((await run(['storage', 'encryption', 'check', '--config', configFile], NEW_KEY)).code, 0);
  });

  it('usage errors exit 2', async () => {
    const neither = await run(['storage', 'encryption', 'change-key', '--config', configFile], OLD_KEY);
    assert.equal(neither.code, 2);
    assert.match(neither.err, /change-key needs exactly one of --new-encryption-key-file F and --new-encryption-key-stdin/);
    assert.equal((await run(['storage', 'encryption', 'rotate', '--config', configFile], OLD_KEY)).code, 2);
  });
});
