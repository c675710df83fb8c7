/**
 * storage.mysql.tls against a real MariaDB with a certificate (a throwaway mariadbd; the machine's own
 * has SSL off), the CA given through certificates_directory. mysql2 checks the name only when told to:
 * these tests show that a certificate for another name is refused.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Kysely, sql } from 'kysely';
import { pino } from 'pino';
import { gatewayConfigSchema } from '../../gateway/config/schema.ts';
import { storageProblems } from '../../gateway/config/validate/storage.ts';
import { createMysqlDialect } from '../../gateway/storage/mysql-dialect.ts';
import { StorageError } from '../../gateway/storage/errors.ts';
import { checkStorage } from '../../gateway/storage/open.ts';
import { storageOptionsFromConfig } from '../../gateway/storage/options.ts';
import { renderProblem } from '../../lib/config-problems.ts';
import { DEFAULT_TRUST, loadTrustedCertificates, type TrustedCertificates } from '../../lib/net/trusted-cas.ts';
import { startTlsMariadb, type TlsDatabaseServer } from '../helpers/tls-databases.ts';
import { makeCertificate, type TestCertificate } from '../helpers/tls.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const silent = pino({ level: 'silent' });
const KEY = 'a-storage-encryption-key-of-32-chars!';

let certificate: TestCertificate;
let server: TlsDatabaseServer;
let certificates: { dir: string; cleanup(): Promise<void> };
let trusted: TrustedCertificates;

before(async () => {
  certificate = await makeCertificate(['127.0.0.1', 'db.test']);
  server = await startTlsMariadb(certificate);
  certificates = await makeTempDir('gatehouse-cas-');
  await writeFile(join(certificates.dir, 'database-ca.pem'), certificate.certPem);
  trusted = await loadTrustedCertificates(certificates.dir);
});

after(async () => {
  await server?.stop();
  await certificates?.cleanup();
  await certificate?.cleanup();
});

function configured(mysql: Record<string, unknown>) {
  const config = gatewayConfigSchema.parse({ storage: { encryption_key: KEY, mysql: { address: `tcp://127.0.0.1:${server.port}`, database: 'mysql', username: 'root', ...mysql } } });
  return { storage: config.storage, problems: storageProblems(config.storage).map(renderProblem) };
}

function options(mysql: Record<string, unknown>, trust: TrustedCertificates = trusted) {
  return storageOptionsFromConfig(configured(mysql).storage, trust);
}

const refused = (pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof StorageError, String(error));
  assert.equal(error.code, 'unreachable');
  assert.match(error.message, pattern);
  return true;
};

/** The cipher of the session, as the server sees it: empty in clear text. */
async function sessionCipher(mysql: Record<string, unknown>): Promise<string> {
  const db = new Kysely<never>({ dialect: createMysqlDialect(options(mysql).mysql!, silent).dialect });
  try {
    const { rows } = await sql<{ Value: string }>`show session status like 'Ssl_cipher'`.execute(db);
    return rows[0]?.Value ?? '';
  } finally {
    await db.destroy();
  }
}

describe('storage.mysql.tls with the CA in certificates_directory', () => {
  it('the session is encrypted with a tls block and not without one', async () => {
    assert.notEqual(await sessionCipher({ tls: {} }), '');
    assert.equal(await sessionCipher({}), '');
  });

  it("a server without TLS (the machine's own MariaDB, SSL off) is refused, never spoken to in clear text", async () => {
    await assert.rejects(checkStorage(options({ address: 'tcp://127.0.0.1:3306', tls: {} }), silent), refused(/at 127\.0\.0\.1:3306 as 'root': TLS: the server does not offer TLS$/));
  });

  it('without the CA: refused, saying the certificate is not trusted', async () => {
    await assert.rejects(checkStorage(options({ tls: {} }, DEFAULT_TRUST), silent), refused(/as 'root': TLS: the server's certificate is not signed by a trusted CA/));
  });

  it('skip_verify connects without the CA, and the configuration warns', async () => {
    assert.match(await checkStorage(options({ tls: { skip_verify: true } }, DEFAULT_TRUST), silent), /MySQL database 'mysql'/);
    assert.ok(configured({ tls: { skip_verify: true } }).problems.includes("config: storage.mysql.tls.skip_verify: is true: the MySQL server's certificate is not checked"));
  });

  it('server_name: a name the certificate holds connects (the address stays the IP), another is refused', async () => {
    assert.notEqual(await sessionCipher({ tls: { server_name: 'db.test' } }), '');
    await assert.rejects(checkStorage(options({ tls: { server_name: 'other.test' } }), silent), refused(/TLS: the server's certificate does not name the server .*other\.test/));
    // an IP address is checked too (mysql2 alone would check 'localhost' instead)
    await assert.rejects(checkStorage(options({ tls: { server_name: '127.0.0.2' } }), silent), refused(/TLS: the server's certificate does not name the server .*127\.0\.0\.2/));
  });

  it('a unix socket address with a tls block is warned about: TLS does not apply to it', () => {
    assert.ok(configured({ address: 'unix:///run/mysqld/mysqld.sock', tls: {} }).problems.includes(
      'config: storage.mysql.tls: is ignored: the address is a unix socket, which is not encrypted with TLS (it does not leave this machine)',
    ));
  });
});
