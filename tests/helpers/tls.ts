import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireBinary } from './binaries.ts';
import { makeTempDir } from './tmp.ts';

const run = promisify(execFile);

export interface TestCertificate {
  readonly certPath: string;
  readonly keyPath: string;
  /** Also the CA to trust: the certificate is self-signed. */
  readonly certPem: string;
  readonly dir: string;
  cleanup(): Promise<void>;
}

/**
 * A self-signed P-256 certificate valid for two days for `hostnames` (DNS or IP SANs), made with
 * openssl in a fresh temp dir. Pass `certPem` as `ca` to `request()` to trust it and nothing else.
 */
export async function makeCertificate(hostnames: string[]): Promise<TestCertificate> {
  const [first] = hostnames;
  if (first === undefined) throw new Error('makeCertificate needs at least one hostname');
  const openssl = requireBinary('openssl', 'openssl');
  const temp = await makeTempDir('gatehouse-tls-');
  const certPath = join(temp.dir, 'cert.pem');
  const keyPath = join(temp.dir, 'key.pem');
  const san = hostnames.map((name) => (isIP(name) ? `IP:${name}` : `DNS:${name}`)).join(',');
  try {
    await run(openssl, [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', `/CN=${first}`, '-addext', `subjectAltName=${san}`, '-keyout', keyPath, '-out', certPath,
    ]);
    const certPem = await readFile(certPath, 'utf8');
    return { certPath, keyPath, certPem, dir: temp.dir, cleanup: temp.cleanup };
  } catch (error) {
    await temp.cleanup();
    throw error;
  }
}
