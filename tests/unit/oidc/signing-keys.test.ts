/**
 * The provider's signing keys: configured PEM keys become JWKs (named, with their algorithm), or one RSA
 * key is made beside the SQLite database on first start, kept 0600, and read again on the next.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { stat, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hmacSecret, loadSigningKeys } from '../../../gateway/oidc/keys.ts';
import { parsed } from '../config/validate/parsed.ts';
import { makeTempDir } from '../../helpers/tmp.ts';

const oidc = (extra: Record<string, unknown> = {}) => parsed({ identity_providers: { oidc: { ...extra } } }).identity_providers!.oidc!;
const pem = (type: 'rsa' | 'ec') =>
  (type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-384' })).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();

describe('OpenID Connect signing keys', () => {
  it('with no jwks and local storage: one RS256 key made on first start (0600), the same key on the next', async (t) => {
    const temp = await makeTempDir('gatehouse-oidc-keys-');
    t.after(() => temp.cleanup());
    const path = join(temp.dir, 'oidc-signing-key.pem');
    const first = await loadSigningKeys(oidc(), path);
    assert.equal(first.generated, true);
    assert.equal((await stat(path)).mode & 0o777, 0o600);
    assert.match(await readFile(path, 'utf8'), /BEGIN PRIVATE KEY/);
    const second = await loadSigningKeys(oidc(), path);
    assert.equal(second.generated, false);
    assert.deepEqual(second.publicJwks, first.publicJwks);
    assert.equal(first.publicJwks[0]!.alg, 'RS256');
    assert.equal(first.publicJwks[0]!.d, undefined, 'no private part is published');
  });

  it('with no jwks and PostgreSQL (no key path): refused, saying what to add', async () => {
    await assert.rejects(loadSigningKeys(oidc(), null), /identity_providers\.oidc\.jwks: no signing key is configured/);
  });

  it('configured keys keep their key_id and algorithm; an EC key alone is refused (RS256 is required)', async () => {
    const keys = await loadSigningKeys(oidc({ jwks: [{ key: pem('rsa'), key_id: 'main' }, { key: pem('ec') }] }), null);
    assert.deepEqual(keys.publicJwks.map((jwk) => jwk.alg), ['RS256', 'ES384']);
    assert.equal(keys.publicJwks[0]!.kid, 'main');
    assert.match(keys.publicJwks[1]!.kid ?? '', /^[0-9a-f]{16}$/, 'a key without key_id is named by a digest of its public part');
    await assert.rejects(loadSigningKeys(oidc({ jwks: [{ key: pem('ec') }] }), null), /one key must be an RSA key with algorithm RS256/);
    await assert.rejects(loadSigningKeys(oidc({ jwks: [{ key: 'not a key' }] }), null), /not a PEM private key/);
  });

  it('hmac_secret: the configured one, or one derived from the storage key (the same on every instance, different per key)', () => {
    assert.equal(hmacSecret(oidc({ hmac_secret: 'configured-secret' }), 'a-test-encryption-key-long-enough'), 'configured-secret');
    const a = hmacSecret(oidc(), 'a-test-encryption-key-long-enough');
    assert.equal(a, hmacSecret(oidc(), 'a-test-encryption-key-long-enough'));
    assert.notEqual(a, hmacSecret(oidc(), 'another-encryption-key-long-enough'));
    assert.ok(a.length >= 40);
  });
});
