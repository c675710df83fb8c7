/**
 * Several gateways sharing sessions through Redis, reached the way operators run it in high
 * availability: through Redis Sentinel (`session.redis.high_availability`). Forward auth serves
 * sessions from a short in-memory cache, so the point here is that a logout or a new login on one
 * instance takes effect on the others at once, not when the cache entry ages out.
 *
 * The two instances reach the Sentinel the two ways Authelia allows: `a` through `session.redis.host`
 * and `port`, `b` through `high_availability.nodes` alone (no host), its first node a port where nothing
 * listens, so `b` works only by going on to the next Sentinel. The Sentinel admits only an ACL user
 * (its default user is off), so `sentinel_username` and `sentinel_password` are used too.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { requireBinary } from '../helpers/binaries.ts';
import { freePort, waitForPort } from '../helpers/ports.ts';
import { startService, type ServiceProcess } from '../helpers/processes.ts';
import { startRedis, type RedisServer } from '../helpers/redis.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { askAuthz, login, portal, PORTAL_ORIGIN, startInProcessGateway, writeUsersFile, type InProcessGateway } from '../helpers/inprocess-gateway.ts';

const run = promisify(execFile);
const TARGET = 'https://app.example.test/dashboard';
const SENTINEL_USER = 'gatehouse-sentinel';
const SENTINEL_SECRET = 'Vb7xK2qN9mR4tW8zL3cF6hJ1';

async function startSentinel(masterPort: number, dir: string): Promise<{ port: number; service: ServiceProcess }> {
  const binary = requireBinary('redis-server', 'redis-server');
  const port = await freePort();
  const conf = join(dir, 'sentinel.conf');
  // sentinel rewrites its own config file, so it must be writable and private to this test
  await writeFile(conf, `port ${port}\nbind 127.0.0.1\ndir ${dir}\nsentinel monitor gatehouse-test 127.0.0.1 ${masterPort} 1\nsentinel down-after-milliseconds gatehouse-test 2000\nuser default off\nuser ${SENTINEL_USER} on >${SENTINEL_SECRET} ~* &* +@all\n`);
  const service = startService('redis-sentinel', binary, [conf, '--sentinel'], { cwd: dir });
  await waitForPort(port);
  return { port, service };
}

describe('sessions shared by two gateways through Redis Sentinel', () => {
  let master: RedisServer;
  let sentinel: { port: number; service: ServiceProcess };
  let temp: { dir: string; cleanup: () => Promise<void> };
  let a: InProcessGateway;
  let b: InProcessGateway;

  before(async () => {
    temp = await makeTempDir();
    master = await startRedis();
    sentinel = await startSentinel(master.port, temp.dir);
    await writeUsersFile(join(temp.dir, 'users.yml'), { alice: { password: 'alice-password-1', groups: ['dev'] } });
    const deadSentinel = await freePort();
    const config = (redis: Record<string, unknown>) => ({
      session: {
        secret: 'R8tYw3ZqLm6NpV2cXk9BhJ4dG7sFa5Ue-shared-by-both-instances',
        cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }],
        redis,
      },
      access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', policy: 'one_factor' }] },
    });
    // both instances share the users file and the database, as a real deployment would
    a = await startInProcessGateway({
      dir: temp.dir,
      config: config({ host: '127.0.0.1', port: sentinel.port, high_availability: { sentinel_name: 'gatehouse-test', sentinel_username: SENTINEL_USER, sentinel_password: SENTINEL_SECRET } }),
    });
    b = await startInProcessGateway({
      dir: temp.dir,
      config: config({
        high_availability: {
          sentinel_name: 'gatehouse-test',
          sentinel_username: SENTINEL_USER,
          sentinel_password: SENTINEL_SECRET,
          nodes: [{ host: '127.0.0.1', port: deadSentinel }, { host: '127.0.0.1', port: sentinel.port }],
        },
      }),
    });
  });

  after(async () => {
    await a?.close();
    await b?.close();
    await sentinel?.service.stop();
    await master?.stop();
    await temp?.cleanup();
  });

  it('finds the master through Sentinel and stores the session there', async () => {
    const cookie = await login(a, 'alice', 'alice-password-1');
    const { stdout } = await run(requireBinary('redis-cli', 'redis-server'), ['-p', String(master.port), '--scan', '--pattern', 'gatehouse-session:*']);
    assert.equal(stdout.trim().split('\n').filter(Boolean).length, 1, 'exactly one session key on the master');
    const answer = await askAuthz(b, 'auth-request', TARGET, { cookie });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['remote-user'], 'alice');
  });

  it('an instance configured with Sentinel nodes only (no session.redis.host) logs in and is honoured by the other', async () => {
    const cookie = await login(b, 'alice', 'alice-password-1');
    const answer = await askAuthz(a, 'auth-request', TARGET, { cookie });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['remote-user'], 'alice');
  });

  it('a logout on one instance is honoured by the other at once, although it had the session cached', async () => {
    const cookie = await login(a, 'alice', 'alice-password-1');
    // b reads (and caches) the session
    assert.equal((await askAuthz(b, 'auth-request', TARGET, { cookie })).status, 200);
    assert.equal((await askAuthz(b, 'auth-request', TARGET, { cookie })).status, 200);
    const out = await portal(a, '/api/logout', { method: 'POST', json: {}, headers: { cookie, origin: PORTAL_ORIGIN } });
    assert.equal(out.status, 200);
    // well inside the cache's lifetime: only the pub/sub eviction can make this a 401
    const started = Date.now();
    let status = 0;
    while (Date.now() - started < 1_000) {
      status = (await askAuthz(b, 'auth-request', TARGET, { cookie })).status;
      if (status === 401) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.equal(status, 401, 'b still authorised a session that a destroyed');
    assert.ok(Date.now() - started < 1_000);
  });

  it('a session created on one instance is authorised on the other right away (no stale "no session" cached)', async () => {
    const stale = await login(a, 'alice', 'alice-password-1');
    await portal(a, '/api/logout', { method: 'POST', json: {}, headers: { cookie: stale, origin: PORTAL_ORIGIN } });
    assert.equal((await askAuthz(b, 'auth-request', TARGET, { cookie: stale })).status, 401);
    const fresh = await login(a, 'alice', 'alice-password-1');
    assert.equal((await askAuthz(b, 'auth-request', TARGET, { cookie: fresh })).status, 200);
  });
});
