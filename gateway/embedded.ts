/**
 * `npm start` with no configuration: everything under ./data (or $GATEHOUSE_DATA), secrets generated
 * on first run and kept 0600, SQLite storage, in-memory sessions, the filesystem notifier, the monitor
 * as the embedded proxy's app at http://localhost:9091/ and the portal at /auth/. Files given with
 * --config are merged on top.
 */
import { generateSecret } from '../lib/secret-strength.ts';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { GatehouseError } from '../lib/errors.ts';
import { writeFileAtomic } from '../lib/fs-atomic.ts';
import { parseListenAddress } from '../lib/net/address.ts';

interface EmbeddedSecrets {
  session_secret: string;
  storage_encryption_key: string;
}

export function dataDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.GATEHOUSE_DATA ?? 'data');
}

/** Where `start` keeps the secrets it generated. */
export function embeddedSecretsFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(dataDirectory(env), 'secrets.json');
}

async function loadOrCreateSecrets(dir: string): Promise<EmbeddedSecrets> {
  const path = join(dir, 'secrets.json');
  try {
    const stored = JSON.parse(readFileSync(path, 'utf8')) as Partial<EmbeddedSecrets>;
    if (typeof stored.session_secret === 'string' && typeof stored.storage_encryption_key === 'string') {
      return { session_secret: stored.session_secret, storage_encryption_key: stored.storage_encryption_key };
    }
    throw new GatehouseError('secret_file_unusable', `${path} is missing keys`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      // never regenerate over an unreadable file: the storage key inside it decrypts the database
      throw new GatehouseError('secret_file_unusable', `cannot use ${path}: ${(error as Error).message}. Restore it from a backup, or move the data directory away to start afresh.`);
    }
  }
  const secrets: EmbeddedSecrets = {
    // checked at every start like any configured secret: drawn so that the check always accepts them
    session_secret: generateSecret(),
    storage_encryption_key: generateSecret(),
  };
  await writeFileAtomic(path, `${JSON.stringify(secrets, null, 2)}\n`, 0o600);
  return secrets;
}

export const EMBEDDED_PORT = 9091;
export const EMBEDDED_MONITOR_ADDRESS = 'tcp://127.0.0.1:8008';

/**
 * The embedded default configuration, as a raw config object (files and env override it). `port` is
 * where the gateway will really listen, so the portal URL it hands out points there.
 */
export async function embeddedDefaults(env: NodeJS.ProcessEnv = process.env, port = EMBEDDED_PORT): Promise<Record<string, unknown>> {
  const dir = dataDirectory(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const secrets = await loadOrCreateSecrets(dir);
  // the monitor runs beside the gateway and is its default upstream: the whole dashboard at /
  const monitor = parseListenAddress(env.GATEHOUSE_MONITOR_SERVER_ADDRESS ?? EMBEDDED_MONITOR_ADDRESS);
  return {
    server: {
      address: `tcp://127.0.0.1:${EMBEDDED_PORT}`,
      upstreams: { default: `http://127.0.0.1:${monitor?.port ?? 8008}` },
    },
    identity_assertion: { audiences: { localhost: 'monitor' }, key_path: join(dir, 'assertion-key.pem') },
    log: { level: 'info', format: 'text' },
    // the filesystem notifier below delivers no mail: reset stays off until an SMTP notifier is configured
    authentication_backend: { file: { path: join(dir, 'users.yml') }, password_reset: { disable: true } },
    access_control: { default_policy: 'one_factor' },
    session: {
      secret: secrets.session_secret,
      // the portal shares the host with the dashboard, so it lives under /auth/
      cookies: [{ domain: 'localhost', authelia_url: `http://localhost:${port}/auth/`, default_redirection_url: `http://localhost:${port}/` }],
    },
    storage: { encryption_key: secrets.storage_encryption_key, local: { path: join(dir, 'gatehouse.sqlite3') } },
    notifier: { filesystem: { filename: join(dir, 'notifications.txt') } },
  };
}
