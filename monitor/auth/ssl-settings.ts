/**
 * HTTPS settings chosen from the dashboard (`/api/ssl/*`), kept in `<data_dir>/ssl_config.json` with
 * ProxMenux's keys. The monitor reads them at its next start (main.ts); nothing here restarts it.
 * Certificate checks use node:crypto, so they work for RSA, EC and Ed25519 keys alike (ProxMenux
 * compared RSA moduli with openssl).
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { constants } from 'node:fs';
import { open, readFile, realpath, stat, type FileHandle } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { GatehouseError } from '../../lib/errors.ts';
import { writeFileAtomic } from '../../lib/fs-atomic.ts';

export const SSL_FILE_NAME = 'ssl_config.json';
const MAX_PEM_BYTES = 1024 * 1024;

const settingsSchema = z.object({
  enabled: z.boolean(),
  source: z.enum(['none', 'proxmox', 'custom']),
  cert_path: z.string().nullable(),
  key_path: z.string().nullable(),
});

export type SslSettings = z.output<typeof settingsSchema>;

export const SSL_DISABLED: SslSettings = Object.freeze({ enabled: false, source: 'none', cert_path: null, key_path: null });

export class SslSettingsError extends GatehouseError {
  declare readonly code: 'ssl_settings_invalid';
  constructor(path: string, detail: string) {
    super('ssl_settings_invalid', `${path} is unreadable; fix or delete it (${detail})`);
  }
}

/** The saved settings; SSL_DISABLED when there is no file. Throws SslSettingsError for a bad file. */
export async function readSslSettings(dataDir: string): Promise<SslSettings> {
  const path = join(dataDir, SSL_FILE_NAME);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { ...SSL_DISABLED };
    throw new SslSettingsError(path, `cannot read it: ${code ?? 'error'}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new SslSettingsError(path, 'it is not valid JSON');
  }
  const parsed = settingsSchema.safeParse(raw);
  if (!parsed.success) throw new SslSettingsError(path, parsed.error.issues.map((i) => `${i.path.join('.') || 'the top level'}: ${i.message}`).join('; '));
  return parsed.data;
}

export async function writeSslSettings(dataDir: string, settings: SslSettings): Promise<void> {
  await writeFileAtomic(join(dataDir, SSL_FILE_NAME), `${JSON.stringify(settings, null, 2)}\n`, 0o600);
}

export interface CertificateInfo {
  subject: string;
  issuer: string;
  expires: string;
  is_self_signed: boolean;
}

export function describeCertificate(cert: X509Certificate): CertificateInfo {
  let selfSigned = false;
  try {
    selfSigned = cert.subject === cert.issuer && cert.verify(cert.publicKey);
  } catch {
    selfSigned = false;
  }
  return { subject: cert.subject.replaceAll('\n', ', '), issuer: cert.issuer.replaceAll('\n', ', '), expires: new Date(cert.validTo).toISOString(), is_self_signed: selfSigned };
}

/** Kernel file systems: never a certificate, and reading them discloses process and device state. */
const FORBIDDEN_ROOTS = ['/proc', '/sys', '/dev'];

function underForbiddenRoot(path: string): boolean {
  return FORBIDDEN_ROOTS.some((root) => path === root || path.startsWith(`${root}/`));
}

/**
 * Read a PEM file without ever echoing its content: not under /proc, /sys or /dev (by name or by a
 * symlinked directory), not a symlink itself, a regular file of at most 1 MB checked on the open file.
 */
async function readPem(path: string, what: string): Promise<{ ok: true; pem: string } | { ok: false; message: string }> {
  if (!isAbsolute(path)) return { ok: false, message: `The ${what} path must be absolute` };
  const notAllowed = { ok: false as const, message: `The ${what} path must not be under /proc, /sys or /dev: ${path}` };
  if (underForbiddenRoot(resolve(path))) return notAllowed;
  let file: FileHandle | null = null;
  try {
    // the directories on the way, resolved; the last component itself may not be a symlink (O_NOFOLLOW)
    if (underForbiddenRoot(await realpath(path))) return notAllowed;
    // O_NONBLOCK: a FIFO planted at the path cannot hang the request before the fstat below
    file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    const info = await file.stat();
    if (!info.isFile()) return { ok: false, message: `The ${what} path is not a regular file: ${path}` };
    if (info.size > MAX_PEM_BYTES) return { ok: false, message: `The ${what} file is too large to be PEM: ${path}` };
    // read at most one byte past the limit, whatever the size said (a file can grow meanwhile)
    const buffer = Buffer.alloc(MAX_PEM_BYTES + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await file.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > MAX_PEM_BYTES) return { ok: false, message: `The ${what} file is too large to be PEM: ${path}` };
    }
    const pem = buffer.subarray(0, length).toString('utf8');
    if (!pem.includes('-----BEGIN ')) return { ok: false, message: `The ${what} file is not PEM: ${path}` };
    return { ok: true, pem };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return { ok: false, message: `The ${what} path is a symbolic link; give the file it points to: ${path}` };
    return { ok: false, message: code === 'ENOENT' ? `The ${what} file does not exist: ${path}` : `Cannot read the ${what} file ${path} (${code ?? 'error'})` };
  } finally {
    await file?.close();
  }
}

export type PairCheck = { ok: true; info: CertificateInfo } | { ok: false; message: string };

/** Both files exist, parse, and the key is the certificate's. */
export async function checkCertificatePair(certPath: string, keyPath: string): Promise<PairCheck> {
  const certFile = await readPem(certPath, 'certificate');
  if (!certFile.ok) return certFile;
  const keyFile = await readPem(keyPath, 'key');
  if (!keyFile.ok) return keyFile;
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certFile.pem);
  } catch {
    return { ok: false, message: `The certificate file does not hold a valid X.509 certificate: ${certPath}` };
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyFile.pem);
  } catch {
    return { ok: false, message: `The key file does not hold an unencrypted private key: ${keyPath}` };
  }
  if (!cert.checkPrivateKey(key)) return { ok: false, message: 'The private key does not match the certificate' };
  return { ok: true, info: describeCertificate(cert) };
}

export interface ProxmoxCertificates {
  available: boolean;
  cert: string | null;
  key: string | null;
}

/** The node's certificate as pveproxy uses it: the custom/ACME one if present, else pve-ssl. */
export async function findProxmoxCertificates(dir: string): Promise<ProxmoxCertificates> {
  for (const base of ['pveproxy-ssl', 'pve-ssl']) {
    const cert = join(dir, `${base}.pem`);
    const key = join(dir, `${base}.key`);
    const both = await Promise.all([stat(cert), stat(key)]).then(
      () => true,
      () => false,
    );
    if (both) return { available: true, cert, key };
  }
  return { available: false, cert: null, key: null };
}

/** Certificate details for the status page; null when the file is missing or not a certificate. */
export async function certificateInfoAt(certPath: string | null): Promise<CertificateInfo | null> {
  if (certPath === null) return null;
  const file = await readPem(certPath, 'certificate');
  if (!file.ok) return null;
  try {
    return describeCertificate(new X509Certificate(file.pem));
  } catch {
    return null;
  }
}
