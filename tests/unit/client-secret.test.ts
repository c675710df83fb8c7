import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CLIENT_SECRET_PBKDF2, clientSecretFormat, hashClientSecret, verifyClientSecret } from '../../lib/client-secret.ts';
import { hashPassword } from '../../lib/password-hash.ts';

/** Authelia's documentation: "The digest of 'insecure_secret'" (docs/content/configuration/identity-providers/openid-connect/clients.md). */
const AUTHELIA_DIGEST = '$pbkdf2-sha512$310000$c8p78n7pUMln0jzvd4aK4Q$JNRBzwAo0ek5qKn50cFzzvE9RXV88h1wJn5KGiHrD0YKtZaR/nCb2CJPOsKaPK0hjf.9yHxzQGZziziccp6Yng';
const AUTHELIA_SALT = Buffer.from('c8p78n7pUMln0jzvd4aK4Q', 'base64');

describe('client-secret digests', () => {
  it('hashClientSecret writes Authelia\'s exact encoding (known vector, adapted base64 with . for +)', async () => {
    assert.equal(await hashClientSecret('insecure_secret', { salt: AUTHELIA_SALT }), AUTHELIA_DIGEST);
  });

  it('a fresh digest has Authelia\'s defaults: 310000 iterations, 16-byte salt, 64-byte key, and a new salt each time', async () => {
    const a = await hashClientSecret('s3cret');
    const b = await hashClientSecret('s3cret');
    assert.match(a, /^\$pbkdf2-sha512\$310000\$[A-Za-z0-9./]{22}\$[A-Za-z0-9./]{86}$/);
    assert.notEqual(a, b);
    assert.equal(CLIENT_SECRET_PBKDF2.iterations, 310_000);
    assert.equal(await verifyClientSecret(a, 's3cret'), true);
  });

  it('verifies Authelia\'s pbkdf2-sha512 digest and refuses another secret', async () => {
    assert.equal(await verifyClientSecret(AUTHELIA_DIGEST, 'insecure_secret'), true);
    assert.equal(await verifyClientSecret(AUTHELIA_DIGEST, 'insecure_secreT'), false);
    assert.equal(await verifyClientSecret(AUTHELIA_DIGEST, ''), false);
  });

  it('verifies argon2id digests', async () => {
    const digest = await hashPassword('argon-client-secret', { memory: 1024, iterations: 1, parallelism: 1 });
    assert.equal(await verifyClientSecret(digest, 'argon-client-secret'), true);
    assert.equal(await verifyClientSecret(digest, 'argon-client-secreT'), false);
  });

  it('verifies $plaintext$, whatever the presented length', async () => {
    assert.equal(await verifyClientSecret('$plaintext$insecure_secret', 'insecure_secret'), true);
    assert.equal(await verifyClientSecret('$plaintext$insecure_secret', 'insecure_secret2'), false);
    assert.equal(await verifyClientSecret('$plaintext$insecure_secret', 'insecure'), false);
  });

  it('an unsupported or malformed stored value never verifies', async () => {
    for (const stored of ['insecure_secret', '$plaintext$', '$pbkdf2-sha256$310000$c8p78n7pUMln0jzvd4aK4Q$JNRBzwAo', '$pbkdf2-sha512$x$y$z', '$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA', '$2b$10$abcdefghijklmnopqrstuu5G5f0d5yqF1yQ8x9jVtV0bV0kP1G6uW']) {
      assert.equal(clientSecretFormat(stored), null, stored);
      assert.equal(await verifyClientSecret(stored, 'insecure_secret'), false, stored);
    }
  });

  it('clientSecretFormat names each accepted format', async () => {
    assert.equal(clientSecretFormat(AUTHELIA_DIGEST), 'pbkdf2-sha512');
    assert.equal(clientSecretFormat('$plaintext$x'), 'plaintext');
    assert.equal(clientSecretFormat(await hashPassword('x', { memory: 1024, iterations: 1, parallelism: 1 })), 'argon2id');
  });
});
