/** An outgoing connection's `tls` block (SMTP, PostgreSQL, MySQL, Redis): the checks Authelia's ValidateTLSConfig makes, and a warning for skip_verify. */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { configError, configWarning, type ConfigProblem } from '../../../lib/config-problems.ts';
import { certificatesInPem } from '../../../lib/net/trusted-cas.ts';
import type { TlsClientSettings } from '../../../lib/net/tls-client.ts';

const VERSION_ORDER = { 'TLS1.2': 2, 'TLS1.3': 3 } as const;

/** `path` is the block's (`storage.postgres.tls`); `server` names the peer for the warning (`the PostgreSQL server`). */
export function tlsClientProblems(path: string, tls: TlsClientSettings | undefined, server: string): ConfigProblem[] {
  if (!tls) return [];
  const found: ConfigProblem[] = [];
  if (tls.skip_verify) found.push(configWarning(`${path}.skip_verify`, `is true: ${server}'s certificate is not checked`));
  if (tls.maximum_version && VERSION_ORDER[tls.minimum_version] > VERSION_ORDER[tls.maximum_version]) {
    found.push(configError(`${path}.minimum_version`, `is ${tls.minimum_version}, above maximum_version ${tls.maximum_version}`));
  }
  const chain = tls.certificate_chain ?? '';
  const key = tls.private_key ?? '';
  if (chain === '' && key === '') return found;
  if (chain === '' || key === '') {
    found.push(configError(`${path}.${chain === '' ? 'certificate_chain' : 'private_key'}`, "is required with the other: a client certificate needs both 'certificate_chain' and 'private_key'"));
    return found;
  }
  const read = certificatesInPem(chain);
  if ('problem' in read) {
    found.push(configError(`${path}.certificate_chain`, read.problem));
    return found;
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    // the key itself is never repeated
    found.push(configError(`${path}.private_key`, 'is not a readable PEM private key (unencrypted PKCS#8, PKCS#1 or SEC1)'));
    return found;
  }
  if (!new X509Certificate(read.certificates[0]!).checkPrivateKey(privateKey)) {
    found.push(configError(`${path}.certificate_chain`, "does not contain the public key for the private key provided: its first certificate must be the one 'private_key' belongs to"));
  }
  return found;
}
