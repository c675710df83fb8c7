/**
 * Redis Sentinel with `session.redis.tls`: the Sentinels and the master they name are reached over TLS,
 * as Authelia's one tls setting does. ioredis alone would ask the Sentinels in clear text and, worse,
 * connect to the master in clear text whatever `tls` says; here both listen for TLS only (no plain port),
 * so a session that works proves every hop was TLS.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { requireBinary } from '../helpers/binaries.ts';
import { freePort, waitForPort } from '../helpers/ports.ts';
import { startService, type ServiceProcess } from '../helpers/processes.ts';
import { makeCertificate, type TestCertificate } from '../helpers/tls.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { askAuthz, login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';

const TARGET = 'https://app.example.test/dashboard';

describe('sessions in Redis reached through Sentinel over TLS only', () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  let cert: TestCertificate;
  let master: ServiceProcess;
  let sentinel: ServiceProcess;
  let gw: InProcessGateway;

  before(async () => {
    temp = await makeTempDir();
    cert = await makeCertificate(['127.0.0.1']);
    const binary = requireBinary('redis-server', 'redis-server');
    const tlsFiles = ['tls-cert-file', cert.certPath, 'tls-key-file', cert.keyPath, 'tls-ca-cert-file', cert.certPath, 'tls-auth-clients', 'no'];
    const masterPort = await freePort();
    master = startService('redis-server', binary, ['--port', '0', '--tls-port', String(masterPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', temp.dir, ...tlsFiles.map((v, i) => (i % 2 === 0 ? `--${v}` : v))], { cwd: temp.dir });
    await waitForPort(masterPort);
    const sentinelPort = await freePort();
    const conf = join(temp.dir, 'sentinel.conf');
    const pairs = tlsFiles.flatMap((v, i) => (i % 2 === 0 ? [`${v} ${tlsFiles[i + 1]}`] : []));
    // the Sentinel talks TLS to the master too (tls-replication), and rewrites this file, so it is private to the test
    await writeFile(conf, [`port 0`, `tls-port ${sentinelPort}`, 'bind 127.0.0.1', `dir ${temp.dir}`, ...pairs, 'tls-replication yes', `sentinel monitor gatehouse-tls 127.0.0.1 ${masterPort} 1`, ''].join('\n'));
    sentinel = startService('redis-sentinel', binary, [conf, '--sentinel'], { cwd: temp.dir });
    await waitForPort(sentinelPort);
    gw = await startInProcessGateway({
      users: { alice: { password: 'alice-password-1', groups: [] } },
      config: {
        session: { redis: { tls: { skip_verify: true }, high_availability: { sentinel_name: 'gatehouse-tls', nodes: [{ host: '127.0.0.1', port: sentinelPort }] } } },
        access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
      },
    });
  });

  after(async () => {
    await gw?.close();
    await sentinel?.stop();
    await master?.stop();
    await cert?.cleanup();
    await temp?.cleanup();
  });

  it('a login stores its session on the TLS-only master found through the TLS-only Sentinel, and forward auth reads it', async () => {
    assert.equal(gw.config.session.redis?.high_availability?.sentinel_name, 'gatehouse-tls');
    const cookie = await login(gw, 'alice', 'alice-password-1');
    const answer = await askAuthz(gw, 'auth-request', TARGET, { cookie });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['remote-user'], 'alice');
  });
});
