/**
 * The e-mailed code and the reset link on PostgreSQL (the SQLite runs are in elevation.test.ts and
 * password-reset.test.ts): a code is single use and bound to its session; a reset link issued by one
 * gateway instance is used once, on another sharing the database, and then refused on both.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { firstFactor, login } from '../helpers/inprocess-gateway.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { linkIn, mailTo, postForm, postJson, startMailingGateway, USERS, waitFor, type MailingGateway } from '../helpers/self-service.ts';

describe('self-service on PostgreSQL', () => {
  let database: TestDatabase;
  let one: MailingGateway;
  let two: MailingGateway;

  before(async () => {
    database = await createTestDatabase();
    const { address, database: name, username, password } = database.options;
    const config = { storage: { local: undefined, postgres: { address, database: name, username, password, timeout: '5s' } } };
    one = await startMailingGateway({ config });
    two = await startMailingGateway({ config, dir: one.gw.dir, clock: one.gw.clock });
  });

  after(async () => {
    await two?.close();
    await one?.close();
    await database?.drop();
  });

  it('an elevation code is single use and bound to its session', async () => {
    const cookie = await login(one.gw, 'bob', USERS.bob!.password);
    const other = await login(one.gw, 'bob', USERS.bob!.password);
    const before = one.smtp.received.length;
    assert.equal((await postForm(one.gw, '/elevate/send', {}, { cookie })).status, 303);
    const code = /Your code:\s*([A-Z0-9]+)/.exec(mailTo(one.smtp, 'bob@example.test', before)[0]!.text)![1]!;
    assert.equal((await postJson(one.gw, '/api/user/session/elevation', { otc: code }, { cookie: other }, 'PUT')).status, 403);
    assert.equal((await postJson(one.gw, '/api/user/session/elevation', { otc: code }, { cookie }, 'PUT')).status, 200);
    assert.equal((await postJson(one.gw, '/api/user/session/elevation', { otc: code }, { cookie }, 'PUT')).status, 403);
  });

  it('a reset link issued by one instance is used once, on the other; then refused on both', async () => {
    const before = one.smtp.received.length;
    assert.equal((await postJson(one.gw, '/api/reset-password/identity/start', { username: 'alice' })).status, 200);
    const link = linkIn(await waitFor('the reset mail', () => mailTo(one.smtp, 'alice@example.test', before)[0]), '/reset-password/finish');
    const token = link.searchParams.get('token')!;
    const password = 'Postgres-Lantern-Orbit-64';
    assert.equal((await postForm(two.gw, '/reset-password/finish', { token, password, confirm: password })).status, 200);
    assert.equal((await postForm(one.gw, '/reset-password/finish', { token, password, confirm: password })).status, 403);
    assert.equal((await postJson(two.gw, '/api/reset-password/identity/finish', { token })).status, 403);
    assert.equal((await firstFactor(two.gw, { username: 'alice', password })).status, 200);
  });
});
