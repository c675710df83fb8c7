// Brute-force protection as an attacker meets it: after max_retries failures within find_time the
// account answers every password, right or wrong, with the same refusal, on every gateway sharing
// the PostgreSQL database, until ban_time has passed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { askAuthz, firstFactor, makeClock, startInProcessGateway, type InProcessGateway, type TestUser } from '../helpers/inprocess-gateway.ts';

const PASSWORD = 'correct horse battery staple';
const MINUTE = 60_000;
const names = ['alice', 'bob', 'carol', 'dan', 'erin', 'frank'];
const USERS: Record<string, TestUser> = Object.fromEntries(names.map((name) => [name, { password: PASSWORD, email: `${name}@example.test`, groups: ['dev'] }]));

function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

describe('regulation bans across gateways sharing PostgreSQL (max_retries 3, find_time 2m, ban_time 5m)', () => {
  let database: TestDatabase;
  let one: InProcessGateway;
  let two: InProcessGateway;
  let client: pg.Client;
  const clock = makeClock();

  const attempt = (gw: InProcessGateway, username: string, password: string) => firstFactor(gw, { username, password });
  const refused = async (gw: InProcessGateway, username: string, password: string) => {
    const response = await attempt(gw, username, password);
    assert.equal(response.status, 401, `${username} on ${gw.url}: ${response.status} ${response.body}`);
    assert.deepEqual(response.json(), { status: 'KO', message: 'Authentication failed. Check your credentials.' });
    assert.equal(response.cookies.length, 0);
    return response.body;
  };
  const accepted = async (gw: InProcessGateway, username: string) => {
    const response = await attempt(gw, username, PASSWORD);
    assert.equal(response.status, 200, `${username} on ${gw.url}: ${response.status} ${response.body}`);
  };

  before(async () => {
    database = await createTestDatabase();
    const { timeout: _ms, ...connection } = database.options;
    const config = {
      regulation: { max_retries: 3, find_time: '2m', ban_time: '5m' },
      storage: { local: undefined, postgres: { ...connection, timeout: '5s' } },
      access_control: { default_policy: 'one_factor' },
    };
    one = await startInProcessGateway({ users: USERS, clock, config });
    two = await startInProcessGateway({ users: USERS, clock, config });
    client = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: database.options.database });
    await client.connect();
  });
  after(async () => {
    await client?.end();
    await one?.close();
    await two?.close();
    await database?.drop();
  });

  it('after 3 failures the right password is refused exactly like a wrong one, on this gateway and the other', async () => {
    const wrong = [];
    for (let i = 0; i < 3; i++) wrong.push(await refused(one, 'alice', `wrong ${i}`));
    const right = await refused(one, 'alice', PASSWORD);
    assert.equal(right, wrong[0], 'same body');
    await refused(two, 'alice', PASSWORD);
    // forward auth's Basic credentials are refused too
    const viaBasic = await askAuthz(two, 'auth-request', 'https://app.example.test/', { headers: { authorization: basic('alice', PASSWORD) } });
    assert.equal(viaBasic.status, 401);
  });

  it('every attempt is recorded in authentication_logs, with the ban visible on the refused ones', async () => {
    const { rows } = await client.query<{ successful: boolean; banned: boolean; auth_type: string; remote_ip: string }>(
      `select successful, banned, auth_type, remote_ip from authentication_logs where username = 'alice' order by id`,
    );
    assert.deepEqual(
      rows.map((r) => [r.successful, r.banned, r.auth_type]),
      [
        [false, false, '1fa'],
        [false, false, '1fa'],
        [false, false, '1fa'],
        [false, true, '1fa'],
        [false, true, '1fa'],
        [false, true, 'basic'],
      ],
    );
    assert.ok(rows.every((r) => r.remote_ip === '127.0.0.1'));
  });

  it('Bob, BOB and bob are one account for counting', async () => {
    for (const name of ['Bob', 'BOB', ' bob']) await refused(one, name, 'wrong');
    await refused(two, 'bob', PASSWORD);
  });

  it('Basic credentials on forward auth count towards the ban', async () => {
    for (let i = 0; i < 3; i++) {
      const response = await askAuthz(one, 'auth-request', 'https://app.example.test/', { headers: { authorization: basic('dan', `wrong ${i}`) } });
      assert.equal(response.status, 401);
    }
    await refused(two, 'dan', PASSWORD);
    const { rows } = await client.query<{ n: string }>(`select count(*) as n from authentication_logs where username = 'dan' and auth_type = 'basic'`);
    assert.equal(Number(rows[0]!.n), 3);
  });

  it('the ban ends after ban_time', async () => {
    for (let i = 0; i < 3; i++) await refused(one, 'carol', 'wrong');
    clock.advance(4 * MINUTE);
    await refused(two, 'carol', PASSWORD);
    clock.advance(MINUTE + 1_000);
    await accepted(two, 'carol');
    await accepted(one, 'carol');
  });

  it('failures further apart than find_time do not ban', async () => {
    await refused(one, 'erin', 'wrong');
    await refused(two, 'erin', 'wrong');
    clock.advance(3 * MINUTE);
    await refused(one, 'erin', 'wrong');
    await accepted(two, 'erin');
  });

  it('a success in between starts the count again', async () => {
    await refused(one, 'frank', 'wrong');
    await refused(one, 'frank', 'wrong');
    await accepted(two, 'frank');
    await refused(one, 'frank', 'wrong');
    await refused(two, 'frank', 'wrong');
    await accepted(one, 'frank');
  });
});
