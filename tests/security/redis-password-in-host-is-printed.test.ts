// A Redis password pasted into session.redis.host as a URL (`redis://:pw@host`) was accepted, then
// printed on stderr and in the log when the connection failed. Validation now refuses a host holding a
// scheme, user info or a path without repeating it, and the runtime messages never print user info.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { redisEndpoint, redisReason } from '../../gateway/session/store.ts';
import type { RedisConfig } from '../../gateway/config/schema.ts';
import { parsed } from '../unit/config/validate/parsed.ts';
import { makeConfigDir, MINIMAL_CONFIG, type ConfigDir } from '../unit/config/config-files.ts';

const PASSWORD = 'MyRedisPassw0rd_Zq9';
const SECRET = 'Rk4Vn9Zq2Wt7Lx3Hc8Jb5Pd6Fg1Sm0Ae';

let t: ConfigDir;
before(async () => {
  t = await makeConfigDir();
});
after(() => t.cleanup());

function withRedis(redis: string): string {
  return MINIMAL_CONFIG.replace('session:\n', `session:\n  secret: ${SECRET}\n  redis:\n${redis}`);
}

describe('validation refuses a Redis host that is a URL, and does not repeat it', () => {
  for (const host of [`redis://:${PASSWORD}@127.0.0.1`, `default:${PASSWORD}@127.0.0.1`, `rediss://127.0.0.1:6380/0`, '127.0.0.1/0']) {
    it(`session.redis.host: ${host.replace(PASSWORD, '…')}`, async () => {
      const file = await t.write('redis-url-host.yml', withRedis(`    host: '${host}'\n`));
      const problems = t.problems([file]);
      assert.deepEqual(problems.map((p) => p.split(': ')[1]), ['session.redis.host']);
      assert.match(problems[0]!, /must be a host name or address only; set the port, username and password in session\.redis\.port, \.username and \.password/);
      const [problem = ''] = problems;
      assert.ok(!problem.includes(PASSWORD) && !problem.includes('127.0.0.1'), problem);
    });
  }

  it('a Sentinel node host is held to the same rule', async () => {
    const file = await t.write('sentinel-url-host.yml', withRedis(
      `    host: sentinel-a\n    high_availability:\n      sentinel_name: main\n      nodes:\n        - host: 'redis://:${PASSWORD}@sentinel-b'\n`,
    ));
    const problems = t.problems([file]);
    assert.deepEqual(problems.map((p) => p.split(': ')[1]), ['session.redis.high_availability.nodes[0].host']);
    const [problem = ''] = problems;
    assert.ok(!problem.includes(PASSWORD), problem);
  });

  it('a plain host and a socket path (port 0) still load', async () => {
    const host = t.load([await t.write('redis-host.yml', withRedis('    host: redis.internal\n'))]);
    assert.equal(host.config.session.redis?.host, 'redis.internal');
    const socket = t.load([await t.write('redis-socket.yml', withRedis('    host: /run/redis/redis.sock\n    port: 0\n'))]);
    assert.equal(socket.config.session.redis?.host, '/run/redis/redis.sock');
  });
});

describe('the runtime messages never print user info, should such a host reach them', () => {
  const cfg = (redis: Record<string, unknown>): RedisConfig => parsed({ session: { redis } }).session.redis!;

  it('where Redis is: standalone and Sentinel', () => {
    assert.equal(redisEndpoint(cfg({ host: `redis://:${PASSWORD}@127.0.0.1`, port: 16399 })), 'Redis at redis://***@127.0.0.1:16399');
    assert.equal(redisEndpoint(cfg({ host: `:${PASSWORD}@127.0.0.1` })), 'Redis at ***@127.0.0.1:6379');
    assert.equal(
      redisEndpoint(cfg({ host: `redis://u:${PASSWORD}@sentinel-a`, high_availability: { sentinel_name: 'main' } })),
      "Redis Sentinel master 'main' via redis://***@sentinel-a:26379",
    );
    assert.equal(redisEndpoint(cfg({ host: '127.0.0.1', port: 6379 })), 'Redis at 127.0.0.1:6379');
  });

  it('why it failed, when the driver error repeats the host', () => {
    const config = cfg({ host: `redis://:${PASSWORD}@127.0.0.1`, high_availability: { sentinel_name: 'main', nodes: [{ host: `x:${PASSWORD}@node-b` }] } });
    const reason = redisReason(new Error(`getaddrinfo EBUSY redis://:${PASSWORD}@127.0.0.1 and x:${PASSWORD}@node-b`), config);
    assert.equal(reason, 'getaddrinfo EBUSY redis://***@127.0.0.1 and ***@node-b');
  });
});
