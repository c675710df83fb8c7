/**
 * Published test vectors for every hash format Authelia reads from a users file: go-crypt's own
 * (github.com/go-crypt/crypt, t_*_test.go at bee4762f, password "password", wrong "wrong_password"),
 * Drepper's SHA-crypt specification and passlib 1.7's handler tests. Each must verify with its password
 * and refuse another.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isSupportedHash, needsRehash, verifyPassword } from '../../lib/password-hash.ts';

interface Vector {
  source: string;
  hash: string;
  password: string;
}

const GO_CRYPT = 'go-crypt';
const vectors: Vector[] = [
  // go-crypt t_shacrypt_test.go
  { source: GO_CRYPT, password: 'password', hash: '$5$4X/QmdRP6q7Ilhpc$2sperIXN6jawEYd8a8arineQHqYIEGURjZGdD4H4xs8' },
  { source: GO_CRYPT, password: 'password', hash: '$6$rB2PL49BuajVczWm$sA.XUPEt/j6k4kFnO58EDKsEU8rXau47.eSH6lpqc/tgC9Y0BbYcG7H3.KmMMpthWMcip/xmDn83nTUXK5Vp90' },
  { source: GO_CRYPT, password: 'password', hash: '$6$rounds=1000$eG49klxUKySvBpju$.1paw1pj51FdmvNAnsNoX8lyHMdH/S74DfkZnWWTOnGI9keTp/DXjR9ro5kJrncPSF5fc.krAwdkBxc4C8kSU1' },
  // Drepper's SHA-crypt specification (also what `openssl passwd -5/-6` prints): salt cut to 16, rounds clamped to 1000
  { source: 'SHA-crypt spec', password: 'Hello world!', hash: '$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5' },
  { source: 'SHA-crypt spec', password: 'Hello world!', hash: '$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1' },
  { source: 'SHA-crypt spec', password: 'Hello world!', hash: '$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA' },
  { source: 'SHA-crypt spec', password: 'the minimum number is still observed', hash: '$5$rounds=10$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC' },
  { source: 'SHA-crypt spec', password: 'we have a short salt string but not a short password', hash: '$5$roundstoolow$tnmBRVdOlMerN1PGoR.Nz.UgcICWpmaUcxSHCg/0Mc0' },
  {
    source: 'SHA-crypt spec',
    password: 'a very much longer text to encrypt.  This one even stretches over morethan one line.',
    hash: '$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1',
  },
  { source: 'openssl passwd -6', password: 'päßwörd', hash: '$6$rounds=1000$xN0pqT.aBc$aPH1UC3/kRMuDxxXYgQTN9oKYX3Wv1soLDIs.bHx4DgZ9CxHK6NYyinr/FeTa3QjHa9xlmLLO6u4Z.GO6u6nM1' },
  // go-crypt t_scrypt_test.go
  { source: GO_CRYPT, password: 'password', hash: '$scrypt$ln=4,r=8,p=1$ySYknWRq9On6wWfpsOUQQg$C28LpWaXQ3P0/dcbN0njxJx4VL/UCQIAWlnYAJgT/mY' },
  // go-crypt t_bcrypt_test.go
  { source: GO_CRYPT, password: 'password', hash: '$2b$10$3o9IF74Phgdz4Q6j7K7s0unovt.v.7YBLKFyV73pGTd2.tfdz/F8e' },
  { source: GO_CRYPT, password: 'password', hash: '$2a$10$3o9IF74Phgdz4Q6j7K7s0unovt.v.7YBLKFyV73pGTd2.tfdz/F8e' },
  { source: GO_CRYPT, password: 'password', hash: '$2x$10$3o9IF74Phgdz4Q6j7K7s0unovt.v.7YBLKFyV73pGTd2.tfdz/F8e' },
  { source: GO_CRYPT, password: 'password', hash: '$2y$10$3o9IF74Phgdz4Q6j7K7s0unovt.v.7YBLKFyV73pGTd2.tfdz/F8e' },
  // go-crypt registers the unversioned `$2$` as the standard variant too: the same vector, unversioned
  { source: GO_CRYPT, password: 'password', hash: '$2$10$3o9IF74Phgdz4Q6j7K7s0unovt.v.7YBLKFyV73pGTd2.tfdz/F8e' },
  { source: GO_CRYPT, password: 'password', hash: '$bcrypt-sha256$v=2,t=2b,r=10$oYmTNJVOBi3hdhUYy4JqOe$jCuMDm.Pw9hhoF/FDC6sOi48yBAoWvC' },
  { source: GO_CRYPT, password: 'password', hash: '$bcrypt-sha256$v=2,t=2a,r=10$oYmTNJVOBi3hdhUYy4JqOe$jCuMDm.Pw9hhoF/FDC6sOi48yBAoWvC' },
  { source: GO_CRYPT, password: 'password', hash: '$bcrypt-sha256$v=2,t=2x,r=10$oYmTNJVOBi3hdhUYy4JqOe$jCuMDm.Pw9hhoF/FDC6sOi48yBAoWvC' },
  { source: GO_CRYPT, password: 'password', hash: '$bcrypt-sha256$v=2,t=2y,r=10$oYmTNJVOBi3hdhUYy4JqOe$jCuMDm.Pw9hhoF/FDC6sOi48yBAoWvC' },
  // passlib 1.7 test_handlers_bcrypt.py (v1 layout: SHA-256 without the HMAC; v2: HMAC keyed with the salt)
  { source: 'passlib', password: 'password', hash: '$bcrypt-sha256$2a,5$5Hg1DKFqPE8C2aflZ5vVoe$12BjNE0p7axMg55.Y/mHsYiVuFBDQyu' },
  { source: 'passlib', password: 'password', hash: '$bcrypt-sha256$2b,5$5Hg1DKFqPE8C2aflZ5vVoe$12BjNE0p7axMg55.Y/mHsYiVuFBDQyu' },
  { source: 'passlib', password: 'password', hash: '$bcrypt-sha256$v=2,t=2b,r=5$5Hg1DKFqPE8C2aflZ5vVoe$wOK1VFFtS8IGTrGa7.h5fs0u84qyPbS' },
  { source: 'passlib', password: 't\u00E1\u0411\u2113\u0259', hash: '$bcrypt-sha256$2a,5$.US1fQ4TQS.ZTz/uJ5Kyn.$QNdPDOTKKT5/sovNz1iWg26quOU4Pje' },
  // go-crypt t_pbkdf2_test.go
  { source: GO_CRYPT, password: 'password', hash: '$pbkdf2$100000$atrXFCWdBlpmzIi/nXwJOw$20Lsx44nZwmh09bjGHFJ//oRZh8' },
  { source: GO_CRYPT, password: 'password', hash: '$pbkdf2-sha224$100000$qRzrfXPp6ilID9bO89rJkA$akPivgY3p3gLDj8Kd7agycHkM5b0xlTxeLEsqg' },
  { source: GO_CRYPT, password: 'password', hash: '$pbkdf2-sha256$100000$aoWHXwyz0im1Hqg93.N.tA$bO5LsjmnnPle2Xm9RE6W1PMWdJTy1TnEia1TLzynuIQ' },
  {
    source: GO_CRYPT,
    password: 'password',
    hash: '$pbkdf2-sha384$100000$GIZt3eMjZrEs0ycxed3zHg$o8IZWpxd.shbcATBSk9nHqktuvLTv1YeLYowxZM7mO5hhWLa3s4tVFejl9NH9jSO',
  },
  {
    source: GO_CRYPT,
    password: 'password',
    hash: '$pbkdf2-sha512$100000$bHfSOIyj0UDoCo1Q4Bz49w$v/olF/T/R6On84NuHlNCiI/sUwsdyOC7J4cO8Cz7feNtLHHEKNjayeEZj0b/Js/cgkMK6zLFw2vynLo2el028Q',
  },
  // go-crypt t_argon2_test.go
  { source: GO_CRYPT, password: 'password', hash: '$argon2id$v=19$m=65536,t=3,p=4$QmkpoTw3W72fzd7RrWofuw$r0xig+VVj7ynnE2S1jrE5us7dPKv2S2ff6Z6ts4mVuU' },
  { source: GO_CRYPT, password: 'password', hash: '$argon2i$v=19$m=65536,t=3,p=4$ScGiEq8Low5K7B7/IwYxgA$q6Zo0u/aDtZk404ZNmBi33WXkC5g0y60QdOQQ3oziyU' },
  { source: GO_CRYPT, password: 'password', hash: '$argon2d$v=19$m=65536,t=3,p=4$HV/RIiFSYEMoRYqBcFnqfg$eGNckPZjkL2xOIHZv8Q4ROg5xbcdD8ijIJOgPwVAPmA' },
];

describe('every hash format Authelia reads verifies against its published vectors', () => {
  for (const { source, hash, password } of vectors) {
    const label = `${source}: ${hash.slice(0, hash.indexOf('$', 4) + 1)}… (${hash.length} chars)`;
    it(`${label} verifies with its password and refuses a wrong one`, async () => {
      assert.equal(isSupportedHash(hash), true);
      assert.equal(await verifyPassword(hash, password), true);
      assert.equal(await verifyPassword(hash, 'wrong_password'), false);
      assert.equal(await verifyPassword(hash, `${password}x`), false);
    });
  }

  it('a one-character change in the stored hash part is a refusal, not a match', async () => {
    for (const { hash, password } of vectors.filter((v) => v.source === GO_CRYPT).slice(0, 3)) {
      const last = hash.at(-1) === 'A' ? 'B' : 'A';
      assert.equal(await verifyPassword(hash.slice(0, -1) + last, password), false, hash);
    }
  });

  it('all of them but argon2id are re-hashed on the next login', () => {
    for (const { hash } of vectors) assert.equal(needsRehash(hash), !hash.startsWith('$argon2id$'), hash);
  });
});

describe('legacy formats out of bounds or malformed are refused, never read as a match', () => {
  const refused: Array<[string, string]> = [
    ['SHA-crypt with 2 million rounds', '$6$rounds=2000000$saltsalt$' + 'a'.repeat(86)],
    ['SHA-512-crypt with a SHA-256-sized hash', '$6$saltsalt$' + 'a'.repeat(43)],
    ['SHA-crypt with a 17-character salt', '$5$' + 's'.repeat(17) + '$' + 'a'.repeat(43)],
    ['scrypt needing 4 GiB', '$scrypt$ln=22,r=8,p=1$ySYknWRq9On6wWfpsOUQQg$C28LpWaXQ3P0/dcbN0njxJx4VL/UCQIAWlnYAJgT/mY'],
    ['scrypt without p', '$scrypt$ln=4,r=8$ySYknWRq9On6wWfpsOUQQg$C28LpWaXQ3P0/dcbN0njxJx4VL/UCQIAWlnYAJgT/mY'],
    ['scrypt with a repeated parameter', '$scrypt$ln=4,r=8,p=1,p=2$ySYknWRq9On6wWfpsOUQQg$C28LpWaXQ3P0/dcbN0njxJx4VL/UCQIAWlnYAJgT/mY'],
    ['bcrypt-sha256 version 3', '$bcrypt-sha256$v=3,t=2b,r=10$oYmTNJVOBi3hdhUYy4JqOe$jCuMDm.Pw9hhoF/FDC6sOi48yBAoWvC'],
    ['bcrypt-sha256 cost 31', '$bcrypt-sha256$v=2,t=2b,r=31$oYmTNJVOBi3hdhUYy4JqOe$jCuMDm.Pw9hhoF/FDC6sOi48yBAoWvC'],
    ['yescrypt (no implementation in Node)', '$y$j75$z7ztFz2FayrKI79/jEwlL.$u5x/j193MQ09wbFaRGYr0AH/A/jh3kunjuhYRVRNkmC'],
  ];
  for (const [name, encoded] of refused) {
    it(name, async () => {
      assert.equal(isSupportedHash(encoded), false);
      await assert.rejects(verifyPassword(encoded, 'password'), { code: 'unsupported_hash' });
    });
  }
});

describe("go-crypt's storage prefixes (OpenLDAP exports) are read as Authelia reads them", () => {
  const prefixed: Array<[string, string]> = [
    ['{CRYPT}', '{CRYPT}$6$rounds=1000$eG49klxUKySvBpju$.1paw1pj51FdmvNAnsNoX8lyHMdH/S74DfkZnWWTOnGI9keTp/DXjR9ro5kJrncPSF5fc.krAwdkBxc4C8kSU1'],
    ['{ARGON2}', '{ARGON2}$argon2id$v=19$m=65536,t=3,p=4$QmkpoTw3W72fzd7RrWofuw$r0xig+VVj7ynnE2S1jrE5us7dPKv2S2ff6Z6ts4mVuU'],
    ['{PBKDF2-SHA256}', '{PBKDF2-SHA256}100000$aoWHXwyz0im1Hqg93.N.tA$bO5LsjmnnPle2Xm9RE6W1PMWdJTy1TnEia1TLzynuIQ'],
    ['{PBKDF2}', '{PBKDF2}100000$atrXFCWdBlpmzIi/nXwJOw$20Lsx44nZwmh09bjGHFJ//oRZh8'],
  ];
  for (const [prefix, hash] of prefixed) {
    it(`${prefix}…`, async () => {
      assert.equal(await verifyPassword(hash, 'password'), true);
      assert.equal(await verifyPassword(hash, 'wrong_password'), false);
    });
  }
});
