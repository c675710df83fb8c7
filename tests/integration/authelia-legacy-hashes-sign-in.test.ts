/**
 * An Authelia users file as found in the wild: a SHA-512-crypt user signs in through the portal and
 * leaves with an argon2id hash in the file; a user whose hash nothing here reads is named in a startup
 * warning and cannot sign in, while everyone else can.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'yaml';
import { makeTempDir } from '../helpers/tmp.ts';
import { firstFactor, login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';

// go-crypt's published vectors (password "password")
const SHA512_CRYPT = '$6$rounds=1000$eG49klxUKySvBpju$.1paw1pj51FdmvNAnsNoX8lyHMdH/S74DfkZnWWTOnGI9keTp/DXjR9ro5kJrncPSF5fc.krAwdkBxc4C8kSU1';
const BCRYPT_SHA256 = '$bcrypt-sha256$v=2,t=2b,r=10$oYmTNJVOBi3hdhUYy4JqOe$jCuMDm.Pw9hhoF/FDC6sOi48yBAoWvC';

describe('legacy Authelia hashes sign in through the portal and are re-hashed to argon2id', () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  let gw: InProcessGateway;
  before(async () => {
    temp = await makeTempDir('gatehouse-legacy-');
    await writeFile(
      join(temp.dir, 'users.yml'),
      `users:
  sha:
    displayname: Sha Crypt
    password: "${SHA512_CRYPT}"
    email: sha@example.test
    groups: [admins]
    given_name: Sha
  passlib:
    displayname: Passlib
    password: "${BCRYPT_SHA256}"
  unreadable:
    displayname: Unreadable
    password: "$1$c9809462$M0zeLuOvixH61C2csGN.U0"
`,
      { mode: 0o600 },
    );
    gw = await startInProcessGateway({ dir: temp.dir, config: { access_control: { default_policy: 'one_factor' } } });
  });
  after(async () => {
    await gw?.close();
    await temp?.cleanup();
  });

  const storedHash = async (user: string): Promise<string> =>
    (parse(await readFile(join(temp.dir, 'users.yml'), 'utf8')) as { users: Record<string, { password: string }> }).users[user]!.password;

  it('names the user it cannot check in a startup warning', () => {
    const warnings = gw.logs().filter((line) => line['level'] === 40 && line['user'] === 'unreadable');
    assert.equal(warnings.length, 1, gw.logText());
    assert.match(String(warnings[0]!['msg']), /users\.unreadable\.password: unsupported password hash format .*disabled until the password is set again/);
  });

  it('a $6$ user signs in; the file then holds argon2id of the same password, which signs in too', async () => {
    assert.equal((await firstFactor(gw, { username: 'sha', password: 'wrong_password' })).status, 401);
    assert.equal(await storedHash('sha'), SHA512_CRYPT, 'a failed login changes nothing');
    await login(gw, 'sha', 'password');
    const rehashed = await storedHash('sha');
    assert.match(rehashed, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    const file = await readFile(join(temp.dir, 'users.yml'), 'utf8');
    assert.match(file, /given_name: Sha/, 'the rest of the entry stays as written');
    await login(gw, 'sha', 'password');
    assert.equal(await storedHash('sha'), rehashed, 'an argon2id hash with the configured parameters is kept');
  });

  it("passlib's bcrypt-sha256 user signs in and is re-hashed", async () => {
    await login(gw, 'passlib', 'password');
    assert.match(await storedHash('passlib'), /^\$argon2id\$/);
  });

  it('the user whose hash nothing reads cannot sign in, and the file keeps what the operator wrote', async () => {
    assert.equal((await firstFactor(gw, { username: 'unreadable', password: 'password' })).status, 401);
    assert.equal(await storedHash('unreadable'), '$1$c9809462$M0zeLuOvixH61C2csGN.U0');
  });
});
