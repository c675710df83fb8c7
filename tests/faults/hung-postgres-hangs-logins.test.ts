/**
 * Issue 7, item 14: with PostgreSQL hung (connections open, no byte answered), a login used to wait
 * about 45 s and end in a generic 500. Now every query has a timeout (`storage.postgres.statement_timeout`),
 * connecting has one (`storage.postgres.timeout`), a hung database answers 503 with a clear message,
 * and the gateway recovers on its own when the database answers again.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { startStallProxy, type StallProxy } from '../helpers/stall-proxy.ts';
import { askAuthz, eventually, firstFactor, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';

describe('a hung PostgreSQL: a login answers 503 within the timeouts, then works again', () => {
  let database: TestDatabase;
  let proxy: StallProxy;
  let gw: InProcessGateway;

  before(async () => {
    database = await createTestDatabase();
    proxy = await startStallProxy({ host: '127.0.0.1', port: 5432 });
    const { timeout: _ms, address: _address, ...connection } = database.options;
    gw = await startInProcessGateway({
      users: { alice: { password: 'alice-password' } },
      config: {
        storage: { local: undefined, postgres: { ...connection, address: `tcp://${proxy.host}:${proxy.port}`, timeout: '1s', statement_timeout: '500ms' } },
        access_control: { default_policy: 'one_factor' },
      },
    });
    assert.equal((await firstFactor(gw, { username: 'alice', password: 'alice-password' })).status, 200);
  });
  after(async () => {
    proxy?.resume();
    await gw?.close();
    await proxy?.close();
    await database?.drop();
  });

  it('answers 503 {status:"KO"} with a clear message and no cookie, twice in a row (pooled and new connections)', { timeout: 30_000 }, async () => {
    proxy.stall();
    for (let i = 0; i < 2; i++) {
      const answer = await firstFactor(gw, { username: 'alice', password: 'alice-password' });
      assert.equal(answer.status, 503, answer.body);
      assert.deepEqual(answer.json(), { status: 'KO', message: 'The database is unavailable, try again shortly.' });
      assert.ok(Number(answer.headers['retry-after']) > 0);
      assert.deepEqual(answer.cookies, []);
    }
    const down = gw.logs().filter((r) => r.msg === 'storage (postgres): unavailable; requests that need it fail until it answers again');
    assert.equal(down.length, 1);
  });

  it('Basic credentials on forward auth: 503 with Retry-After (not 500, never 200), and no error line per request', { timeout: 30_000 }, async () => {
    proxy.stall();
    const before = gw.logs().length;
    const basic = `Basic ${Buffer.from('alice:alice-password').toString('base64')}`;
    // as many as one client may have in flight (password_checks.per_client, 4): more would get 429 at once
    const answers = await Promise.all(
      Array.from({ length: 4 }, () => askAuthz(gw, 'forward-auth', 'https://app.example.test/', { headers: { authorization: basic } })),
    );
    for (const answer of answers) {
      assert.equal(answer.status, 503, answer.body);
      assert.ok(Number(answer.headers['retry-after']) > 0);
      assert.equal(answer.headers['remote-user'], undefined);
    }
    const lines = gw.logs().slice(before);
    assert.deepEqual(lines.filter((r) => r.msg === 'authz: error while deciding; denied'), [], 'no line per request');
    // the outage was already logged by the test above: its outage log counts these, for the summary
    assert.ok(lines.filter((r) => Number(r.level) >= 50).length <= 1, lines.map((r) => r.msg).join('\n'));
  });

  it('logs in again once the database answers', { timeout: 30_000 }, async () => {
    proxy.resume();
    await eventually('a login succeeds', async () => (await firstFactor(gw, { username: 'alice', password: 'alice-password' })).status === 200, 10_000);
    assert.ok(gw.logs().some((r) => typeof r.msg === 'string' && r.msg.startsWith('storage (postgres): available again')));
  });
});
