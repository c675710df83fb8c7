/**
 * Users files as Authelia writes and reads them: a user whose hash no algorithm here reads is disabled
 * with a warning naming them (never the whole file refused), and the profile attributes Authelia's
 * entries carry (given_name … address, extra) load into the user's details.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { makeTempDir } from '../../helpers/tmp.ts';
import { FileUserProvider } from '../../../gateway/users/file-provider.ts';
import { UsersFileError } from '../../../gateway/users/errors.ts';
import { hashPassword } from '../../../lib/password-hash.ts';
import { captureLogs, LEVEL } from './log-capture.ts';

const FAST_ARGON2 = { iterations: 1, memory: 1024, parallelism: 1, key_length: 32, salt_length: 16 };
// go-crypt's vector: SHA-512-crypt of 'password'
const SHA512_CRYPT = '$6$rounds=1000$eG49klxUKySvBpju$.1paw1pj51FdmvNAnsNoX8lyHMdH/S74DfkZnWWTOnGI9keTp/DXjR9ro5kJrncPSF5fc.krAwdkBxc4C8kSU1';

async function open(dir: string, text: string) {
  await writeFile(join(dir, 'users.yml'), text, { mode: 0o600 });
  const { logger, records } = captureLogs();
  const provider = await FileUserProvider.open({
    path: join(dir, 'users.yml'),
    watch: false,
    password: { algorithm: 'argon2', argon2: FAST_ARGON2, rehash_on_login: false },
    logger,
  });
  return { provider, records };
}

describe('a user whose hash nothing here reads is disabled with a warning, the rest of the file loads', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await makeTempDir()));
  after(() => cleanup());

  it('loads, names each such user in a warning, and lets nobody in with them', async () => {
    const alice = await hashPassword('alice-password', FAST_ARGON2);
    const { provider, records } = await open(
      dir,
      `users:
  alice:
    displayname: Alice
    password: "${alice}"
  legacy:
    displayname: Legacy
    password: "${SHA512_CRYPT}"
  carol:
    displayname: Carol
    password: "hunter2"
  dave:
    displayname: Dave
    password: "$y$j75$z7ztFz2FayrKI79/jEwlL.$u5x/j193MQ09wbFaRGYr0AH/A/jh3kunjuhYRVRNkmC"
  erin:
    displayname: Erin
    password: ""
`,
    );
    try {
      const warnings = records.filter((r) => r.level === LEVEL.warn && typeof r.msg === 'string' && r.msg.includes('disabled until'));
      assert.deepEqual(warnings.map((r) => r['user']), ['carol', 'dave', 'erin']);
      for (const warning of warnings) {
        assert.match(String(warning.msg), new RegExp(`^users file: users\\.${String(warning['user'])}\\.password: .*gatehouse users passwd ${String(warning['user'])}`));
        assert.doesNotMatch(String(warning.msg), /hunter2|z7ztFz2Fay/, 'the stored value is never repeated');
      }
      assert.equal((await provider.verifyPassword('alice', 'alice-password'))?.username, 'alice');
      assert.equal((await provider.verifyPassword('legacy', 'password'))?.username, 'legacy');
      assert.equal(await provider.verifyPassword('legacy', 'wrong_password'), null);
      assert.equal(await provider.verifyPassword('carol', 'hunter2'), null);
      assert.equal(await provider.verifyPassword('erin', ''), null);
      assert.equal(await provider.getDetails('carol'), null);
      assert.equal(await provider.getDetails('dave'), null);
      assert.deepEqual(
        provider.listUsers().map((u) => [u.username, u.disabled]),
        [['alice', false], ['legacy', false], ['carol', true], ['dave', true], ['erin', true]],
      );
    } finally {
      await provider.close();
    }
  });

  it('a reload that brings such a user names them again', async () => {
    const alice = await hashPassword('alice-password', FAST_ARGON2);
    const { provider, records } = await open(dir, `users:\n  alice:\n    password: "${alice}"\n`);
    try {
      assert.equal(records.filter((r) => r.level === LEVEL.warn).length, 0);
      await writeFile(join(dir, 'users.yml'), `users:\n  alice:\n    password: "${alice}"\n  frank:\n    password: "md5$abc"\n`);
      assert.equal((await provider.reload()).status, 'loaded');
      assert.deepEqual(records.filter((r) => r.level === LEVEL.warn).map((r) => r['user']), ['frank']);
      assert.equal((await provider.verifyPassword('alice', 'alice-password'))?.username, 'alice');
    } finally {
      await provider.close();
    }
  });

  it('setting the password again enables the user', async () => {
    const { provider, records } = await open(dir, 'users:\n  carol:\n    displayname: Carol\n    password: "{CRYPT}unreadable"\n');
    try {
      assert.equal(records.filter((r) => r.level === LEVEL.warn && r['user'] === 'carol').length, 1);
      await provider.updatePassword('carol', 'a new password');
      assert.equal((await provider.verifyPassword('carol', 'a new password'))?.username, 'carol');
    } finally {
      await provider.close();
    }
  });
});

describe("Authelia's profile attributes load into details.attributes", () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let alice: string;
  before(async () => {
    ({ dir, cleanup } = await makeTempDir());
    alice = await hashPassword('alice-password', FAST_ARGON2);
  });
  after(() => cleanup());

  it('every attribute of an Authelia 4.39 entry, with address and extra', async () => {
    const { provider } = await open(
      dir,
      `users:
  alice:
    disabled: false
    displayname: Alice Liddell
    password: "${alice}"
    email: alice@example.com
    groups: [admins]
    given_name: Alice
    middle_name: Pleasance
    family_name: Liddell
    nickname: ali
    gender: female
    birthdate: 1852-05-04
    website: https://example.com
    profile: https://example.com/alice
    picture: https://example.com/alice.png
    zoneinfo: Europe/London
    locale: en-GB
    phone_number: +44 20 7946 0000
    phone_extension: 1234
    address:
      street_address: 1 Wonderland Way
      locality: Oxford
      region: Oxfordshire
      postal_code: OX1 1AA
      country: GB
    extra:
      employee_id: 42
      teams: [red, white]
      manager: { name: queen }
  bob:
    displayname: Bob
    password: "${alice}"
    given_name: ""
`,
    );
    try {
      const details = await provider.getDetails('alice');
      assert.deepEqual(details?.attributes, {
        given_name: 'Alice',
        middle_name: 'Pleasance',
        family_name: 'Liddell',
        nickname: 'ali',
        gender: 'female',
        birthdate: '1852-05-04',
        website: 'https://example.com',
        profile: 'https://example.com/alice',
        picture: 'https://example.com/alice.png',
        zoneinfo: 'Europe/London',
        locale: 'en-GB',
        phone_number: '+44 20 7946 0000',
        phone_extension: '1234',
        address: { street_address: '1 Wonderland Way', locality: 'Oxford', region: 'Oxfordshire', postal_code: 'OX1 1AA', country: 'GB' },
        extra: { employee_id: 42, teams: ['red', 'white'], manager: { name: 'queen' } },
      });
      assert.ok(Object.isFrozen(details?.attributes?.extra?.['teams']), 'details are shared: nobody may change them');
      assert.equal((await provider.verifyPassword('alice', 'alice-password'))?.attributes?.locale, 'en-GB');
      assert.equal((await provider.getDetails('bob'))?.attributes, undefined, 'empty attributes are left out');
    } finally {
      await provider.close();
    }
  });

  it('an attribute of the wrong kind is a problem of the file, named by its place', async () => {
    await writeFile(join(dir, 'users.yml'), `users:\n  alice:\n    password: "${alice}"\n    given_name: [a, b]\n    address: street\n    extra: [1]\n`);
    const { logger } = captureLogs();
    await assert.rejects(
      FileUserProvider.open({ path: join(dir, 'users.yml'), watch: false, password: { algorithm: 'argon2', argon2: FAST_ARGON2 }, logger }),
      (error: unknown) => {
        assert.ok(error instanceof UsersFileError);
        assert.deepEqual(error.problems, [
          'users.alice.given_name: must be a string',
          'users.alice.address: must be a mapping with street_address, locality, region, postal_code and country',
          'users.alice.extra: must be a mapping of attribute names to values',
        ]);
        return true;
      },
    );
  });
});

describe('gatehouse users list says why a user is disabled', () => {
  it('an unreadable hash is listed as such; the others as written', async () => {
    const { dir, cleanup } = await makeTempDir();
    try {
      const alice = await hashPassword('alice-password', FAST_ARGON2);
      const { provider } = await open(dir, `users:\n  alice:\n    password: "${alice}"\n    disabled: true\n  carol:\n    password: "hunter2"\n`);
      assert.deepEqual(
        provider.listUsers().map((u) => [u.username, u.disabled, u.unreadableHash ?? false]),
        [['alice', true, false], ['carol', true, true]],
      );
      await provider.close();
    } finally {
      await cleanup();
    }
  });
});
