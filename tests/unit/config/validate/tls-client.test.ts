import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { tlsClientProblems } from '../../../../gateway/config/validate/tls-client.ts';
import { renderProblem } from '../../../../lib/config-problems.ts';
import { makeCertificate, type TestCertificate } from '../../../helpers/tls.ts';

let mine: TestCertificate;
let other: TestCertificate;
let key: string;
let otherKey: string;
before(async () => {
  [mine, other] = await Promise.all([makeCertificate(['client.test']), makeCertificate(['other.test'])]);
  [key, otherKey] = await Promise.all([readFile(mine.keyPath, 'utf8'), readFile(other.keyPath, 'utf8')]);
});
after(async () => {
  await mine?.cleanup();
  await other?.cleanup();
});

const problems = (tls: Record<string, unknown>) =>
  tlsClientProblems('storage.mysql.tls', { skip_verify: false, minimum_version: 'TLS1.2', ...tls }, 'the MySQL server').map(renderProblem);

describe("a tls block's client certificate (Authelia's ValidateTLSConfig)", () => {
  it('a chain with the key its first certificate belongs to is fine, intermediates after it too', () => {
    assert.deepEqual(problems({ certificate_chain: mine.certPem, private_key: key }), []);
    assert.deepEqual(problems({ certificate_chain: mine.certPem + other.certPem, private_key: key }), []);
  });

  it('one without the other is refused', () => {
    assert.deepEqual(problems({ certificate_chain: mine.certPem }), ["config: storage.mysql.tls.private_key: is required with the other: a client certificate needs both 'certificate_chain' and 'private_key'"]);
    assert.deepEqual(problems({ private_key: key }), ["config: storage.mysql.tls.certificate_chain: is required with the other: a client certificate needs both 'certificate_chain' and 'private_key'"]);
  });

  it('a chain that is not a certificate, and a key that cannot be read (never repeated), are refused', () => {
    assert.deepEqual(problems({ certificate_chain: key, private_key: key }), ['config: storage.mysql.tls.certificate_chain: is not a PEM certificate (no -----BEGIN CERTIFICATE----- block)']);
    const broken = problems({ certificate_chain: mine.certPem, private_key: '-----BEGIN PRIVATE KEY-----\nsecretish\n-----END PRIVATE KEY-----\n' });
    assert.deepEqual(broken, ['config: storage.mysql.tls.private_key: is not a readable PEM private key (unencrypted PKCS#8, PKCS#1 or SEC1)']);
    assert.ok(!broken.join('').includes('secretish'));
  });

  it('a key the first certificate does not belong to is refused', () => {
    assert.deepEqual(problems({ certificate_chain: mine.certPem, private_key: otherKey }), [
      "config: storage.mysql.tls.certificate_chain: does not contain the public key for the private key provided: its first certificate must be the one 'private_key' belongs to",
    ]);
  });

  it('skip_verify is a warning naming the server; a minimum above the maximum is an error', () => {
    assert.deepEqual(problems({ skip_verify: true }), ["config: storage.mysql.tls.skip_verify: is true: the MySQL server's certificate is not checked"]);
    assert.deepEqual(problems({ minimum_version: 'TLS1.3', maximum_version: 'TLS1.2' }), ['config: storage.mysql.tls.minimum_version: is TLS1.3, above maximum_version TLS1.2']);
  });
});
