/**
 * storage.postgres.tls against a real PostgreSQL that speaks only TLS (a throwaway cluster: pg_hba has
 * hostssl lines only, so every connection that works went through TLS), with the CA given through
 * certificates_directory, as an Authelia 4.39 file gives it.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { pino } from 'pino';
import { migrateDeprecated } from '../../gateway/config/deprecations.ts';
import { gatewayConfigSchema } from '../../gateway/config/schema.ts';
import { storageProblems } from '../../gateway/config/validate/storage.ts';
import { StorageError } from '../../gateway/storage/errors.ts';
import { checkStorage, openStorage } from '../../gateway/storage/open.ts';
import { storageOptionsFromConfig } from '../../gateway/storage/options.ts';
import { renderProblem } from '../../lib/config-problems.ts';
import { DEFAULT_TRUST, loadTrustedCertificates, type TrustedCertificates } from '../../lib/net/trusted-cas.ts';
import { freePort } from '../helpers/ports.ts';
import { startTlsPostgres, type TlsDatabaseServer } from '../helpers/tls-databases.ts';
import { makeCertificate, type TestCertificate } from '../helpers/tls.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const silent = pino({ level: 'silent' });
const KEY = 'a-storage-encryption-key-of-32-chars!';

let serverCertificate: TestCertificate;
let clientCertificate: TestCertificate;
let server: TlsDatabaseServer;
let certificates: { dir: string; cleanup(): Promise<void> };
let trusted: TrustedCertificates;

before(async () => {
  [serverCertificate, clientCertificate] = await Promise.all([makeCertificate(['127.0.0.1', 'db.test']), makeCertificate(['gatehouse-client'])]);
  server = await startTlsPostgres(serverCertificate, { clientCa: clientCertificate });
  certificates = await makeTempDir('gatehouse-cas-');
  await writeFile(join(certificates.dir, 'database-ca.crt'), serverCertificate.certPem);
  trusted = await loadTrustedCertificates(certificates.dir);
  // the role that must show a client certificate (pg_hba: clientcert=verify-ca)
  const client = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'postgres', database: 'postgres', ssl: { ca: serverCertificate.certPem } });
  await client.connect();
  await client.query('create role mtls login superuser');
  await client.end();
});

after(async () => {
  await server?.stop();
  await certificates?.cleanup();
  await serverCertificate?.cleanup();
  await clientCertificate?.cleanup();
});

/** storage.postgres as a configuration file writes it, read through the schema and the deprecation table. */
function configured(postgres: Record<string, unknown>) {
  const { raw, problems } = migrateDeprecated({ storage: { encryption_key: KEY, postgres: { address: `tcp://127.0.0.1:${server.port}`, database: 'postgres', username: 'postgres', ...postgres } } });
  const config = gatewayConfigSchema.parse(raw);
  return { storage: config.storage, problems: [...problems, ...storageProblems(config.storage)].map(renderProblem) };
}

function options(postgres: Record<string, unknown>, trust: TrustedCertificates = trusted) {
  return storageOptionsFromConfig(configured(postgres).storage, trust);
}

const refused = (pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof StorageError, String(error));
  assert.equal(error.code, 'unreachable');
  assert.match(error.message, pattern);
  return true;
};

describe('storage.postgres.tls with the CA in certificates_directory', () => {
  it('connects, migrates and records the key over TLS', async () => {
    const storage = await openStorage(options({ tls: {} }), { logger: silent, migrate: true });
    try {
      assert.ok(storage.appliedMigrations.length > 0);
    } finally {
      await storage.close();
    }
  });

  it('without a tls block the same server is refused: it takes no clear text (so the connection above was TLS)', async () => {
    await assert.rejects(checkStorage(options({}), silent), refused(/authentication failed|connection failed/));
  });

  it('a server without TLS (the machine\'s own, on 5432) is refused, never spoken to in clear text', async () => {
    await assert.rejects(checkStorage(options({ address: 'tcp://127.0.0.1:5432', tls: {} }), silent), refused(/at 127\.0\.0\.1:5432 as 'postgres': TLS: the server does not offer TLS$/));
  });

  it('without the CA: refused, saying the certificate is not trusted and where a CA goes', async () => {
    await assert.rejects(
      checkStorage(options({ tls: {} }, DEFAULT_TRUST), silent),
      refused(/at 127\.0\.0\.1:\d+ as 'postgres': TLS: the server's certificate is not signed by a trusted CA \(\w+\); add the CA to certificates_directory/),
    );
  });

  it('skip_verify connects without the CA, and the configuration warns', async () => {
    assert.match(await checkStorage(options({ tls: { skip_verify: true } }, DEFAULT_TRUST), silent), /PostgreSQL database 'postgres'/);
    assert.ok(configured({ tls: { skip_verify: true } }).problems.includes("config: storage.postgres.tls.skip_verify: is true: the PostgreSQL server's certificate is not checked"));
  });

  it('server_name is the name the certificate must hold: a name it holds connects, another is refused', async () => {
    assert.match(await checkStorage(options({ tls: { server_name: 'db.test' } }), silent), /PostgreSQL database 'postgres'/);
    await assert.rejects(checkStorage(options({ tls: { server_name: 'other.test' } }), silent), refused(/TLS: the server's certificate does not name the server .*other\.test.*; set tls\.server_name/));
  });

  it('minimum_version TLS1.3 is honoured (the server speaks 1.3), and maximum_version below the minimum is a config error', async () => {
    assert.match(await checkStorage(options({ tls: { minimum_version: 'TLS1.3' } }), silent), /PostgreSQL database 'postgres'/);
    assert.ok(configured({ tls: { minimum_version: 'TLS1.3', maximum_version: 'TLS1.2' } }).problems.includes('config: storage.postgres.tls.minimum_version: is TLS1.3, above maximum_version TLS1.2'));
  });
});

describe('storage.postgres.tls client certificate (certificate_chain, private_key)', () => {
  it('a role that requires one is refused without it and connects with it', async () => {
    await assert.rejects(checkStorage(options({ username: 'mtls', tls: {} }), silent), refused(/as 'mtls': authentication failed/));
    const withCertificate = { username: 'mtls', tls: { certificate_chain: clientCertificate.certPem, private_key: await readFile(clientCertificate.keyPath, 'utf8') } };
    assert.deepEqual(configured(withCertificate).problems, []);
    assert.match(await checkStorage(options(withCertificate), silent), /PostgreSQL database 'postgres'/);
  });
});

describe('storage.postgres.ssl (Authelia ≤ 4.35) read as a tls block connects', () => {
  it("mode 'require' connects without checking the certificate; 'verify-full' with the CA in certificates_directory", async () => {
    const required = configured({ ssl: { mode: 'require' } });
    assert.match(await checkStorage(storageOptionsFromConfig(required.storage, DEFAULT_TRUST), silent), /PostgreSQL database 'postgres'/);
    assert.match(await checkStorage(options({ ssl: { mode: 'verify-full' } }), silent), /PostgreSQL database 'postgres'/);
    await assert.rejects(checkStorage(options({ ssl: { mode: 'verify-full' } }, DEFAULT_TRUST), silent), refused(/not signed by a trusted CA/));
  });
});

describe('storage.postgres.servers (Authelia 4.39 fallbacks)', () => {
  it('an address that cannot be reached falls back to the next server, with its own tls', async () => {
    const closed = `tcp://127.0.0.1:${await freePort()}`;
    const fallback = { address: closed, servers: [{ address: `tcp://127.0.0.1:${server.port}`, tls: {} }] };
    assert.match(await checkStorage(options(fallback), silent), /PostgreSQL database 'postgres'/);
    await assert.rejects(
      checkStorage(options({ address: closed, servers: [{ address: `tcp://127.0.0.1:${await freePort()}` }] }), silent),
      refused(/at 127\.0\.0\.1:\d+ \(nor at its 1 fallback server\(s\)\) as 'postgres': connection refused/),
    );
  });

  it('a fallback without a tls block while the address has one is warned about (it is spoken to in clear text, as in Authelia)', () => {
    assert.ok(configured({ tls: {}, servers: [{ address: 'tcp://db2.internal:5432' }] }).problems.includes(
      'config: storage.postgres.servers[0].tls: is not set while storage.postgres.tls is: this fallback server is connected to without TLS (each server has its own tls block, as in Authelia)',
    ));
  });
});
