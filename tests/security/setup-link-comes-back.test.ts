// The first-run setup link must open once. If the users file becomes empty after the first admin exists
// (an operator's mistake, a bad sync, an attacker who can truncate it), no new link may be printed or
// accepted: storage remembers setup is done, and the gateway refuses to start, naming the CLI.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GatehouseError } from '../../lib/errors.ts';
import { PORTAL_ORIGIN, portal, startInProcessGateway, writeUsersFile, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const FORM = 'application/x-www-form-urlencoded';
const CONFIG = { access_control: { default_policy: 'one_factor' } };
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();

async function waitForUserCount(gw: InProcessGateway, count: number): Promise<void> {
  for (let i = 0; i < 100 && gw.gateway.userAdmin!.listUsers().length !== count; i++) {
    await gw.gateway.users.reload!();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.equal(gw.gateway.userAdmin!.listUsers().length, count);
}

/** startInProcessGateway on `dir`, or the error it refused to start with. */
async function startOrError(dir: string): Promise<InProcessGateway | GatehouseError> {
  try {
    return await startInProcessGateway({ dir, config: CONFIG });
  } catch (error) {
    if (error instanceof GatehouseError) return error;
    throw error;
  }
}

describe('the setup link does not come back once the first administrator exists', () => {
  it('created via setup, users file emptied: the old link is refused at once, and a restart is an error naming the CLI', async (t) => {
    const temp = await makeTempDir('gatehouse-setup-');
    t.after(temp.cleanup);

    const first = await startInProcessGateway({ dir: temp.dir, config: CONFIG });
    const setupUrl = first.gateway.setupUrl();
    assert.ok(setupUrl, 'first run: a setup link');
    const token = new URL(setupUrl).searchParams.get('token')!;
    const created = await portal(first, '/setup', {
      method: 'POST',
      body: form({ token, username: 'root', password: 'long enough password', confirm: 'long enough password' }),
      headers: { 'content-type': FORM, origin: PORTAL_ORIGIN },
    });
    assert.equal(created.status, 200, created.body);

    await writeFile(first.usersPath, 'users: {}\n', { mode: 0o600 });
    await waitForUserCount(first, 0);
    assert.equal(first.gateway.setupUrl(), null, 'no new link while running');
    assert.equal((await portal(first, `/setup?token=${token}`)).status, 404, 'the old link works again');
    const again = await portal(first, '/setup', {
      method: 'POST',
      body: form({ token, username: 'intruder', password: 'long enough password', confirm: 'long enough password' }),
      headers: { 'content-type': FORM, origin: PORTAL_ORIGIN },
    });
    assert.equal(again.status, 404);
    await first.close();

    const second = await startOrError(temp.dir);
    if (!(second instanceof GatehouseError)) {
      const link = second.gateway.setupUrl();
      await second.close();
      assert.fail(`the gateway started again with an empty users file${link ? `, offering a new setup link ${link}` : ''}`);
    }
    assert.equal(second.code, 'users_empty_after_setup');
    assert.match(second.message, /has no user, but the first administrator was created on /);
    assert.match(second.message, /gatehouse users add NAME --group admins/);
  });

  it('an install from before the record (users present, nothing stored): the first start records it', async (t) => {
    const temp = await makeTempDir('gatehouse-setup-upgrade-');
    t.after(temp.cleanup);
    const gw = await startInProcessGateway({ dir: temp.dir, config: CONFIG, users: { alice: { password: 'correct horse battery staple' } } });
    assert.equal(gw.gateway.setupUrl(), null);
    await gw.close();

    await writeUsersFile(gw.usersPath, {});
    const again = await startOrError(temp.dir);
    if (!(again instanceof GatehouseError)) {
      await again.close();
      assert.fail('the gateway started with an empty users file after users had existed');
    }
    assert.equal(again.code, 'users_empty_after_setup');
  });

  it('a user added another way (the CLI) while the link is open closes it for good', async (t) => {
    const temp = await makeTempDir('gatehouse-setup-cli-');
    t.after(temp.cleanup);
    const gw = await startInProcessGateway({ dir: temp.dir, config: CONFIG });
    t.after(() => gw.close());
    const token = new URL(gw.gateway.setupUrl()!).searchParams.get('token')!;

    await writeUsersFile(gw.usersPath, { alice: { password: 'correct horse battery staple' } });
    await waitForUserCount(gw, 1);
    assert.equal(gw.gateway.setupUrl(), null);
    await writeUsersFile(gw.usersPath, {});
    await waitForUserCount(gw, 0);
    assert.equal((await portal(gw, `/setup?token=${token}`)).status, 404);
    assert.equal(gw.gateway.setupUrl(), null);
  });
});

/** A gateway on `usersPath` whose storage is the SQLite file `db`, shared with other instances. */
function startSharing(dir: string, db: string, usersPath: string, watch: boolean): Promise<InProcessGateway> {
  return startInProcessGateway({
    dir,
    config: { ...CONFIG, storage: { local: { path: db } }, authentication_backend: { file: { path: usersPath, watch } } },
  });
}

const tokenOf = (gw: InProcessGateway) => new URL(gw.gateway.setupUrl()!).searchParams.get('token')!;
const submitSetup = (gw: InProcessGateway, token: string, username: string) =>
  portal(gw, '/setup', {
    method: 'POST',
    body: form({ token, username, password: 'long enough password', confirm: 'long enough password' }),
    headers: { 'content-type': FORM, origin: PORTAL_ORIGIN },
  });

describe('two instances sharing storage both print a link: only one administrator is ever created', () => {
  for (const shared of [false, true]) {
    it(`A completes setup, then B's link is refused like an old one (${shared ? 'one users file, watch off' : 'a users file each'})`, async (t) => {
      const temp = await makeTempDir('gatehouse-setup-two-');
      t.after(temp.cleanup);
      const db = join(temp.dir, 'shared.sqlite3');
      const usersA = join(temp.dir, 'users-a.yml');
      const usersB = shared ? usersA : join(temp.dir, 'users-b.yml');
      const a = await startSharing(temp.dir, db, usersA, false);
      t.after(() => a.close());
      const b = await startSharing(temp.dir, db, usersB, false);
      t.after(() => b.close());
      const tokenA = tokenOf(a);
      const tokenB = tokenOf(b);

      assert.equal((await submitSetup(a, tokenA, 'root')).status, 200);
      assert.equal((await portal(b, `/setup?token=${tokenB}`)).status, 404, "B's setup page still opens");
      const second = await submitSetup(b, tokenB, 'intruder');
      assert.equal(second.status, 404, `B accepted its link after A's setup; users of B: ${b.gateway.userAdmin!.listUsers().map((u) => u.username)}`);
      assert.equal(b.gateway.setupUrl(), null);
      await b.gateway.users.reload!();
      assert.deepEqual(b.gateway.userAdmin!.listUsers().map((u) => u.username), shared ? ['root'] : []);
    });
  }

  it('both links submitted at once: exactly one administrator, the other answer is 404', async (t) => {
    const temp = await makeTempDir('gatehouse-setup-race-');
    t.after(temp.cleanup);
    const db = join(temp.dir, 'shared.sqlite3');
    const usersPath = join(temp.dir, 'users.yml');
    const a = await startSharing(temp.dir, db, usersPath, false);
    t.after(() => a.close());
    const b = await startSharing(temp.dir, db, usersPath, false);
    t.after(() => b.close());
    const [ra, rb] = await Promise.all([submitSetup(a, tokenOf(a), 'root-a'), submitSetup(b, tokenOf(b), 'root-b')]);
    assert.deepEqual([ra.status, rb.status].sort(), [200, 404]);
    await a.gateway.users.reload!();
    assert.equal(a.gateway.userAdmin!.listUsers().length, 1);
  });

  it("a user written into the shared file by other means (nothing recorded yet): B's link is refused, the user stays alone", async (t) => {
    const temp = await makeTempDir('gatehouse-setup-file-');
    t.after(temp.cleanup);
    const usersPath = join(temp.dir, 'users.yml');
    const b = await startSharing(temp.dir, join(temp.dir, 'shared.sqlite3'), usersPath, false);
    t.after(() => b.close());
    const token = tokenOf(b);
    await writeUsersFile(usersPath, { alice: { password: 'correct horse battery staple' } }); // B does not watch: it still sees no user
    assert.equal((await submitSetup(b, token, 'intruder')).status, 404);
    await b.gateway.users.reload!();
    assert.deepEqual(b.gateway.userAdmin!.listUsers().map((u) => u.username), ['alice']);
  });

  it('a failed write gives the claim back: the same link works after a refused username', async (t) => {
    const temp = await makeTempDir('gatehouse-setup-retry-');
    t.after(temp.cleanup);
    const gw = await startSharing(temp.dir, join(temp.dir, 'shared.sqlite3'), join(temp.dir, 'users.yml'), false);
    t.after(() => gw.close());
    const token = tokenOf(gw);
    assert.equal((await submitSetup(gw, token, 'bad name\u0001')).status, 400);
    assert.equal((await submitSetup(gw, token, 'root')).status, 200);
  });
});
