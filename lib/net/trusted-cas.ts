/**
 * `certificates_directory` (Authelia's key): CA certificates every outgoing TLS connection trusts besides
 * the ones Node trusts by default (SMTP, PostgreSQL, MySQL, Redis, LDAP). Read once at startup, as Authelia
 * does (`utils.NewX509CertPool`): every `*.pem`, `*.crt` and `*.cer` file in the directory, not its
 * subdirectories. A directory that cannot be read, or such a file that holds no readable certificate,
 * stops the start and names the file: a CA silently left out would only show later, as a refused connection.
 */
import { X509Certificate } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { getCACertificates } from 'node:tls';
import { configError, type ConfigProblem } from '../config-problems.ts';
import { ConfigError } from '../errors.ts';

export interface TrustedCertificates {
  /** The certificates read from `certificates_directory`, one PEM each. */
  readonly added: readonly string[];
  /** tls.connect's `ca`: Node's default CAs and the added ones; undefined when none were added (Node's default applies). */
  readonly ca: readonly string[] | undefined;
}

/** No `certificates_directory`: Node's default CAs only. */
export const DEFAULT_TRUST: TrustedCertificates = { added: [], ca: undefined };

const CERTIFICATE_FILE = /\.(pem|crt|cer)$/i;
const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n[\s\S]*?-----END \1-----/g;

/** The certificates in one file's text, or the problem with it. */
export function certificatesInPem(text: string): { certificates: string[] } | { problem: string } {
  const certificates: string[] = [];
  for (const block of text.matchAll(PEM_BLOCK)) {
    if (block[1] !== 'CERTIFICATE') continue;
    try {
      certificates.push(new X509Certificate(block[0]).toString());
    } catch {
      return { problem: 'holds a CERTIFICATE block that is not a readable X.509 certificate' };
    }
  }
  return certificates.length > 0 ? { certificates } : { problem: 'is not a PEM certificate (no -----BEGIN CERTIFICATE----- block)' };
}

/** Reads `certificates_directory` (nothing to read when it is unset); throws a ConfigError naming every unusable file. */
export async function loadTrustedCertificates(directory: string | undefined): Promise<TrustedCertificates> {
  if (directory === undefined || directory === '') return DEFAULT_TRUST;
  let names: string[];
  try {
    const entries = await readdir(directory, { withFileTypes: true });
    names = entries.filter((entry) => !entry.isDirectory() && CERTIFICATE_FILE.test(entry.name)).map((entry) => entry.name).sort();
  } catch (error) {
    throw new ConfigError([configError('certificates_directory', `cannot read the directory '${directory}' (${(error as NodeJS.ErrnoException).code ?? 'error'})`)]);
  }
  const problems: ConfigProblem[] = [];
  const added: string[] = [];
  for (const name of names) {
    const path = join(directory, name);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (error) {
      problems.push(configError('certificates_directory', `cannot read '${path}' (${(error as NodeJS.ErrnoException).code ?? 'error'})`));
      continue;
    }
    const read = certificatesInPem(text);
    if ('problem' in read) problems.push(configError('certificates_directory', `'${path}' ${read.problem}`));
    else added.push(...read.certificates);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { added, ca: added.length > 0 ? [...getCACertificates('default'), ...added] : undefined };
}
