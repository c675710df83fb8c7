import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getCACertificates } from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../../lib/errors.ts';
import { tlsClientOptions } from '../../../lib/net/tls-client.ts';
import { DEFAULT_TRUST, loadTrustedCertificates } from '../../../lib/net/trusted-cas.ts';
import { makeCertificate, type TestCertificate } from '../../helpers/tls.ts';
import { makeTempDir } from '../../helpers/tmp.ts';

let first: TestCertificate;
let second: TestCertificate;
before(async () => {
  [first, second] = await Promise.all([makeCertificate(['a.test']), makeCertificate(['b.test'])]);
});
after(async () => {
  await first?.cleanup();
  await second?.cleanup();
});

async function directory(t: { after(fn: () => Promise<void>): void }, files: Record<string, string>): Promise<string> {
  const temp = await makeTempDir('gatehouse-cas-');
  t.after(() => temp.cleanup());
  for (const [name, text] of Object.entries(files)) await writeFile(join(temp.dir, name), text);
  return temp.dir;
}

const failsWith = (...problems: string[]) => (error: unknown) => {
  assert.ok(error instanceof ConfigError, String(error));
  assert.deepEqual(error.problems, problems);
  return true;
};

describe('certificates_directory: what is read (as Authelia: *.pem, *.crt, *.cer, not subdirectories)', () => {
  it('every certificate of every such file is added to the default CAs; other files and subdirectories are not read', async (t) => {
    const dir = await directory(t, { 'one.pem': first.certPem, 'TWO.CRT': second.certPem + first.certPem, 'readme.txt': 'not read', 'key.key': 'not read' });
    await mkdir(join(dir, 'old.pem'));
    const trusted = await loadTrustedCertificates(dir);
    assert.equal(trusted.added.length, 3);
    assert.deepEqual(trusted.ca, [...getCACertificates('default'), ...trusted.added]);
    assert.ok(trusted.added.some((pem) => pem.replace(/\s/g, '') === second.certPem.replace(/\s/g, '')));
  });

  it('unset or empty of certificates: the default CAs apply (no ca option at all)', async (t) => {
    assert.equal(await loadTrustedCertificates(undefined), DEFAULT_TRUST);
    assert.equal((await loadTrustedCertificates(await directory(t, {}))).ca, undefined);
  });

  it('a file that holds no certificate, or a broken one, stops the start naming each file', async (t) => {
    const dir = await directory(t, { 'good.pem': first.certPem, 'key.pem': await readFile(first.keyPath, 'utf8'), 'broken.cer': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' });
    await assert.rejects(
      loadTrustedCertificates(dir),
      failsWith(
        `config: certificates_directory: '${join(dir, 'broken.cer')}' holds a CERTIFICATE block that is not a readable X.509 certificate`,
        `config: certificates_directory: '${join(dir, 'key.pem')}' is not a PEM certificate (no -----BEGIN CERTIFICATE----- block)`,
      ),
    );
  });

  it('a directory that cannot be read stops the start', async (t) => {
    const dir = await directory(t, {});
    await assert.rejects(loadTrustedCertificates(join(dir, 'missing')), failsWith(`config: certificates_directory: cannot read the directory '${join(dir, 'missing')}' (ENOENT)`));
    if (process.getuid?.() !== 0) {
      const unreadable = await directory(t, { 'ca.pem': first.certPem });
      await chmod(join(unreadable, 'ca.pem'), 0);
      await assert.rejects(loadTrustedCertificates(unreadable), failsWith(`config: certificates_directory: cannot read '${join(unreadable, 'ca.pem')}' (EACCES)`));
    }
  });
});

describe("a tls block as Node's options", () => {
  const trusted = { added: ['X'], ca: ['A', 'X'] };

  it('defaults: the certificate is checked against the host, TLS 1.2 at least, the added CAs, no client certificate', () => {
    const options = tlsClientOptions({ skip_verify: false, minimum_version: 'TLS1.2' }, trusted, 'db.internal');
    assert.equal(options.rejectUnauthorized, true);
    assert.equal(options.minVersion, 'TLSv1.2');
    assert.equal(options.maxVersion, undefined);
    assert.deepEqual(options.ca, ['A', 'X']);
    assert.equal(options.servername, 'db.internal');
    assert.equal(options.cert, undefined);
    assert.equal(options.expectedName, 'db.internal');
  });

  it("server_name is the SNI name and the name checked, whatever name the driver passes to the check", () => {
    const options = tlsClientOptions({ skip_verify: false, minimum_version: 'TLS1.2', server_name: 'a.test' }, DEFAULT_TRUST, '127.0.0.1');
    assert.equal(options.servername, 'a.test');
    assert.equal(options.ca, undefined);
    const certificate = { subject: { CN: 'a.test' }, subjectaltname: 'DNS:a.test' } as never;
    assert.equal(options.checkServerIdentity!('127.0.0.1', certificate), undefined);
    assert.match(String(tlsClientOptions({ skip_verify: false, minimum_version: 'TLS1.2' }, DEFAULT_TRUST, '127.0.0.1').checkServerIdentity!('127.0.0.1', certificate)), /altnames/);
  });

  it('an IP address is never sent as SNI (RFC 6066 section 3)', () => {
    assert.equal(tlsClientOptions({ skip_verify: false, minimum_version: 'TLS1.2' }, DEFAULT_TRUST, '10.0.0.5').servername, undefined);
  });

  it('skip_verify, maximum_version and a client certificate', () => {
    const options = tlsClientOptions({ skip_verify: true, minimum_version: 'TLS1.3', maximum_version: 'TLS1.3', certificate_chain: 'CHAIN', private_key: 'KEY' }, DEFAULT_TRUST, 'h');
    assert.equal(options.rejectUnauthorized, false);
    assert.equal(options.minVersion, 'TLSv1.3');
    assert.equal(options.maxVersion, 'TLSv1.3');
    assert.equal(options.cert, 'CHAIN');
    assert.equal(options.key, 'KEY');
  });
});
