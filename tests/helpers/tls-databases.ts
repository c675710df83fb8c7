/**
 * Throwaway database servers that speak TLS, each in its own temp dir on a free 127.0.0.1 port: a
 * PostgreSQL cluster (initdb + postgres, ssl=on, clear text refused by pg_hba) and a MariaDB server
 * (mariadb-install-db + mariadbd with a certificate). The machine's own servers have no TLS.
 */
import { execFile, execFileSync } from 'node:child_process';
import { chown, copyFile, chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { requireBinary } from './binaries.ts';
import { freePort, waitForPort } from './ports.ts';
import { startService, waitForOutput, type ServiceProcess } from './processes.ts';
import type { TestCertificate } from './tls.ts';
import { makeTempDir } from './tmp.ts';

const run = promisify(execFile);
const POSTGRES_BIN = '/usr/lib/postgresql/15/bin';

export interface TlsDatabaseServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  output(): string;
  stop(): Promise<void>;
}

/** A started server on `127.0.0.1:port`; stopping it also removes its temp dir. */
function serving(service: ServiceProcess, port: number, cleanup: () => Promise<void>): TlsDatabaseServer {
  return {
    host: '127.0.0.1',
    port,
    output: () => service.output(),
    async stop() {
      await service.stop();
      await cleanup();
    },
  };
}

/** PostgreSQL refuses to run as root: as root, the cluster is the `postgres` user's (setpriv, no PAM session in between). */
function asPostgres(binary: string, args: string[]): [string, string[]] {
  if (process.getuid?.() !== 0) return [binary, args];
  return [requireBinary('setpriv', 'util-linux'), ['--reuid=postgres', '--regid=postgres', '--init-groups', '--', binary, ...args]];
}

async function ownedByPostgres(paths: string[]): Promise<void> {
  if (process.getuid?.() !== 0) return;
  const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
  for (const path of paths) await chown(path, uid, gid);
}

/**
 * A PostgreSQL cluster serving `certificate` (user `postgres`, trust, TLS only). With `clientCa`, the role
 * `mtls` must also present a client certificate that CA signed (`clientcert=verify-ca`).
 */
export async function startTlsPostgres(certificate: TestCertificate, options: { clientCa?: TestCertificate } = {}): Promise<TlsDatabaseServer> {
  const temp = await makeTempDir('gatehouse-pgtls-');
  const data = join(temp.dir, 'data');
  const cert = join(temp.dir, 'server.crt');
  const key = join(temp.dir, 'server.key');
  const ca = join(temp.dir, 'clients.crt');
  let service: ServiceProcess | undefined;
  try {
    await copyFile(certificate.certPath, cert);
    await copyFile(certificate.keyPath, key);
    await chmod(key, 0o600);
    if (options.clientCa) await copyFile(options.clientCa.certPath, ca);
    await ownedByPostgres([temp.dir, cert, key, ...(options.clientCa ? [ca] : [])]);
    const [initdb, initArgs] = asPostgres(join(POSTGRES_BIN, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-N']);
    await run(initdb, initArgs);
    // TLS only: a clear-text connection finds no pg_hba line
    const hba = [
      ...(options.clientCa ? ['hostssl all mtls 127.0.0.1/32 trust clientcert=verify-ca'] : []),
      'hostssl all all 127.0.0.1/32 trust',
    ];
    await writeFile(join(data, 'pg_hba.conf'), `${hba.join('\n')}\n`);
    const port = await freePort();
    const [postgres, args] = asPostgres(join(POSTGRES_BIN, 'postgres'), [
      '-D', data, '-p', String(port), '-k', temp.dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off',
      '-c', 'ssl=on', '-c', `ssl_cert_file=${cert}`, '-c', `ssl_key_file=${key}`, ...(options.clientCa ? ['-c', `ssl_ca_file=${ca}`] : []),
    ]);
    service = startService('postgres', postgres, args);
    await waitForOutput(service, /ready to accept connections/, 15_000);
    return serving(service, port, temp.cleanup);
  } catch (error) {
    await service?.stop();
    await temp.cleanup();
    throw error;
  }
}

/** A MariaDB server serving `certificate`; `root` without a password; `ssl` on, clear text allowed (Gatehouse is what insists). */
export async function startTlsMariadb(certificate: TestCertificate): Promise<TlsDatabaseServer> {
  const temp = await makeTempDir('gatehouse-mariadbtls-');
  const data = join(temp.dir, 'data');
  const user = process.getuid?.() === 0 ? ['--user=root'] : [];
  let service: ServiceProcess | undefined;
  try {
    await run(requireBinary('mariadb-install-db', 'mariadb-server'), [
      '--no-defaults', `--datadir=${data}`, '--auth-root-authentication-method=normal', '--skip-test-db', ...user,
    ]);
    const port = await freePort();
    service = startService('mariadbd', requireBinary('mariadbd', 'mariadb-server'), [
      '--no-defaults', `--datadir=${data}`, `--port=${port}`, '--bind-address=127.0.0.1', `--socket=${join(temp.dir, 'sock')}`,
      `--pid-file=${join(temp.dir, 'pid')}`, `--ssl-cert=${certificate.certPath}`, `--ssl-key=${certificate.keyPath}`, '--skip-log-bin', ...user,
    ]);
    await waitForPort(port, { timeoutMs: 15_000, check: () => service!.assertRunning(), what: 'mariadbd' });
    return serving(service, port, temp.cleanup);
  } catch (error) {
    await service?.stop();
    await temp.cleanup();
    throw error;
  }
}

/** A redis-server that speaks only TLS (`--port 0 --tls-port`), serving `certificate`; with `clientCa`, clients must show a certificate it signed. */
export async function startTlsRedis(certificate: TestCertificate, options: { clientCa?: TestCertificate } = {}): Promise<TlsDatabaseServer> {
  const temp = await makeTempDir('gatehouse-redistls-');
  const port = await freePort();
  const service = startService('redis-server', requireBinary('redis-server', 'redis-server'), [
    '--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', temp.dir,
    '--tls-cert-file', certificate.certPath, '--tls-key-file', certificate.keyPath,
    ...(options.clientCa ? ['--tls-ca-cert-file', options.clientCa.certPath, '--tls-auth-clients', 'yes'] : ['--tls-auth-clients', 'no']),
  ]);
  try {
    await waitForOutput(service, /Ready to accept connections/, 10_000);
  } catch (error) {
    await service.stop();
    await temp.cleanup();
    throw error;
  }
  return serving(service, port, temp.cleanup);
}
