/**
 * session.redis.tls against a redis-server that speaks only TLS, the CA given through
 * certificates_directory; a client certificate for a server that asks for one.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { gatewayConfigSchema, type RedisConfig } from '../../gateway/config/schema.ts';
import { sessionProblems } from '../../gateway/config/validate/session.ts';
import { openSessionStore } from '../../gateway/session/store.ts';
import { renderProblem } from '../../lib/config-problems.ts';
import { GatehouseError } from '../../lib/errors.ts';
import { DEFAULT_TRUST, loadTrustedCertificates, type TrustedCertificates } from '../../lib/net/trusted-cas.ts';
import { requireBinary } from '../helpers/binaries.ts';
import { freePort } from '../helpers/ports.ts';
import { startService, waitForOutput } from '../helpers/processes.ts';
import { startTlsRedis, type TlsDatabaseServer } from '../helpers/tls-databases.ts';
import { makeCertificate, type TestCertificate } from '../helpers/tls.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const silent = pino({ level: 'silent' });
const SECRET = 'a-session-secret-that-is-long-enough-0123';

let serverCertificate: TestCertificate;
let clientCertificate: TestCertificate;
let server: TlsDatabaseServer;
let mutual: TlsDatabaseServer;
let certificates: { dir: string; cleanup(): Promise<void> };
let trusted: TrustedCertificates;

before(async () => {
  [serverCertificate, clientCertificate] = await Promise.all([makeCertificate(['127.0.0.1', 'redis.test']), makeCertificate(['gatehouse-client'])]);
  [server, mutual] = await Promise.all([startTlsRedis(serverCertificate), startTlsRedis(serverCertificate, { clientCa: clientCertificate })]);
  certificates = await makeTempDir('gatehouse-cas-');
  await writeFile(join(certificates.dir, 'redis-ca.pem'), serverCertificate.certPem);
  trusted = await loadTrustedCertificates(certificates.dir);
});

after(async () => {
  await server?.stop();
  await mutual?.stop();
  await certificates?.cleanup();
  await serverCertificate?.cleanup();
  await clientCertificate?.cleanup();
});

function configured(redis: Record<string, unknown>, port = server.port) {
  const config = gatewayConfigSchema.parse({ session: { secret: SECRET, redis: { host: '127.0.0.1', port, ...redis } } });
  return { redis: config.session.redis as RedisConfig, problems: sessionProblems(config.session).map(renderProblem) };
}

/** Opens the store (connects and subscribes), checks it answers PING, closes it. */
async function answers(redis: Record<string, unknown>, trust: TrustedCertificates = trusted, port = server.port): Promise<void> {
  const store = await openSessionStore(configured(redis, port).redis, SECRET, silent, Date.now, trust);
  try {
    await store.startupCheck();
    assert.equal(await store.ping(), true);
  } finally {
    await store.close();
  }
}

const refused = (pattern: RegExp) => (error: unknown) => {
  assert.ok(error instanceof GatehouseError, String(error));
  assert.equal(error.code, 'session_store_unavailable');
  assert.match(error.message, pattern);
  return true;
};

describe('session.redis.tls with the CA in certificates_directory', () => {
  it('connects; without a tls block the TLS-only server is not reached', async () => {
    await answers({ tls: {} });
    await assert.rejects(answers({ timeout: 1 }), refused(/cannot connect to Redis at 127\.0\.0\.1:\d+/));
  });

  it('without the CA: refused, saying the certificate is not trusted (again and again: no late socket error escapes to end the process)', async () => {
    // a refused handshake can raise a second socket error after ioredis's one-time listener: unhandled, it would crash the gateway
    for (let attempt = 0; attempt < 10; attempt++) {
      await assert.rejects(answers({ tls: {} }, DEFAULT_TRUST), refused(/TLS: the server's certificate is not signed by a trusted CA \(\w+\); add the CA to certificates_directory/));
    }
  });

  it('skip_verify connects without the CA, and the configuration warns', async () => {
    await answers({ tls: { skip_verify: true } }, DEFAULT_TRUST);
    assert.ok(configured({ tls: { skip_verify: true } }).problems.includes("config: session.redis.tls.skip_verify: is true: the Redis server's certificate is not checked"));
  });

  it('server_name: a name the certificate holds connects, another is refused', async () => {
    await answers({ tls: { server_name: 'redis.test' } });
    await assert.rejects(answers({ tls: { server_name: 'other.test' } }), refused(/TLS: the server's certificate does not name the server .*other\.test/));
  });
});

describe('session.redis.tls client certificate (certificate_chain, private_key)', () => {
  it('a server that asks for one refuses a client without it and takes the configured one', async () => {
    await assert.rejects(answers({ tls: {}, timeout: 2 }, trusted, mutual.port), (error: unknown) => error instanceof GatehouseError && error.code === 'session_store_unavailable');
    const withCertificate = { tls: { certificate_chain: clientCertificate.certPem, private_key: await readFile(clientCertificate.keyPath, 'utf8') } };
    assert.deepEqual(configured(withCertificate).problems.filter((problem) => problem.includes('tls')), []);
    await answers(withCertificate, trusted, mutual.port);
  });
});

/** A redis-sentinel that speaks only TLS, monitoring the TLS-only `server` (and trusting its certificate). */
async function startTlsSentinel(t: { after(fn: () => Promise<void>): void }): Promise<number> {
  const temp = await makeTempDir('gatehouse-sentineltls-');
  t.after(temp.cleanup);
  const port = await freePort();
  const conf = join(temp.dir, 'sentinel.conf');
  // sentinel rewrites its own config file, so it must be writable and private to this test
  await writeFile(conf, [
    'port 0', `tls-port ${port}`, 'bind 127.0.0.1', `dir ${temp.dir}`,
    `tls-cert-file ${serverCertificate.certPath}`, `tls-key-file ${serverCertificate.keyPath}`, `tls-ca-cert-file ${serverCertificate.certPath}`,
    'tls-auth-clients no', 'tls-replication yes', `sentinel monitor gatehouse-tls 127.0.0.1 ${server.port} 1`, '',
  ].join('\n'));
  const service = startService('redis-sentinel', requireBinary('redis-server', 'redis-server'), [conf, '--sentinel'], { cwd: temp.dir });
  t.after(() => service.stop());
  await waitForOutput(service, /Sentinel ID is/, 10_000);
  return port;
}

describe('session.redis.tls with Sentinel (high_availability)', () => {
  it('the Sentinels and the master they name are both spoken to over TLS, with the CAs of certificates_directory', async (t) => {
    const sentinelPort = await startTlsSentinel(t);
    const ha = { high_availability: { sentinel_name: 'gatehouse-tls' } };
    await answers({ ...ha, tls: {} }, trusted, sentinelPort);
    // ioredis keeps the Sentinels' TLS errors to itself ('All sentinels are unreachable… Connection is closed')
    // and retries them until the connect timeout: refused, though not in those words
    await assert.rejects(answers({ ...ha, tls: {}, timeout: 1 }, DEFAULT_TRUST, sentinelPort), refused(/via 127\.0\.0\.1:\d+: no answer within 1 s$/));
  });
});
