// `gatehouse regulation list|unban` against a real SQLite storage: a ban the regulator wrote is listed,
// found again whatever spelling the operator types (as login resolves it), lifted, audited, and the
// failures before it stop counting.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { Regulator } from '../../../gateway/regulation/regulator.ts';
import { openStorage } from '../../../gateway/storage/open.ts';
import type { Storage } from '../../../gateway/storage/storage.ts';
import { openUsers } from '../../../gateway/users/open.ts';
import { parseGatewayConfig } from '../../../gateway/config/load.ts';
import { runGatehouse } from '../../helpers/cli.ts';
import { FAST_ARGON2, writeUsersFile } from '../../helpers/inprocess-gateway.ts';
import { makeTempDir } from '../../helpers/tmp.ts';

const KEY = 'Xq7vR2mLp9TzW4nB8cYd3JfH6sKa5GuE';
const OPTIONS = { max_retries: 3, find_time: 120, ban_time: 300, modes: ['user', 'ip'] as const };
const silent = pino({ level: 'silent' });

let dir: string;
let cleanup: () => Promise<void>;
let configPath: string;
let env: NodeJS.ProcessEnv;

function gatehouse(argv: string[]) {
  return runGatehouse([...argv, '--config', configPath], env);
}

/** The storage and a regulator resolving logins as the gateway does (search.email, case-insensitive). */
async function openRegulation(): Promise<{ storage: Storage; regulator: Regulator; close: () => Promise<void> }> {
  const storage = await openStorage({ encryption_key: KEY, local: { path: join(dir, 'db.sqlite3') } }, { logger: silent, migrate: true });
  const raw = {
    authentication_backend: { file: { path: join(dir, 'users.yml'), search: { email: true, case_insensitive: true }, password: { argon2: FAST_ARGON2 } } },
    access_control: { default_policy: 'one_factor' },
    session: { secret: 'Hq3vT8mWp2ZrK6nB9cYd4JfL7sGa5UeX', cookies: [{ domain: 'example.com', authelia_url: 'https://auth.example.com' }] },
    storage: { encryption_key: KEY, local: { path: join(dir, 'db.sqlite3') } },
  };
  const { users } = await openUsers(parseGatewayConfig(raw).config.authentication_backend, { logger: silent, watch: false });
  const regulator = new Regulator({ options: OPTIONS, storage, logger: silent, canonicalise: (login) => users.resolveLogin(login) });
  return { storage, regulator, close: async () => { await users.close(); await storage.close(); } };
}

async function fail(regulator: Regulator, username: string, ip: string, times = 3): Promise<void> {
  for (let i = 0; i < times; i++) {
    await regulator.mark({ username, ip, successful: false, authType: '1fa', requestUri: '', requestMethod: '' });
  }
}

before(async () => {
  ({ dir, cleanup } = await makeTempDir('gatehouse-regulation-cli-'));
  env = { GATEHOUSE_DATA: join(dir, 'data') };
  await writeUsersFile(join(dir, 'users.yml'), { Alice: { password: 'correct horse battery staple', email: 'alice@example.com' } });
  configPath = join(dir, 'gatehouse.yml');
  await writeFile(configPath, `
authentication_backend:
  file:
    path: '${dir}/users.yml'
    search: { email: true, case_insensitive: true }
    password: { argon2: { iterations: 1, memory: 1024, parallelism: 1 } }
access_control: { default_policy: one_factor }
session:
  secret: Hq3vT8mWp2ZrK6nB9cYd4JfL7sGa5UeX
  cookies: [{ domain: example.com, authelia_url: 'https://auth.example.com' }]
storage:
  encryption_key: ${KEY}
  local: { path: '${dir}/db.sqlite3' }
`);
});
after(() => cleanup());

describe('gatehouse regulation --help, on each command, loads no configuration', () => {
  for (const [argv, expected] of [
    [['regulation', '--help'], /^Usage: gatehouse regulation list \[--json\]/],
    [['regulation', 'list', '--help'], /^Usage: gatehouse regulation list \[--json\]/],
    [['regulation', 'unban', '--help'], /^Usage: gatehouse regulation unban USER\|IP/],
  ] as const) {
    it(argv.join(' '), async () => {
      const r = await runGatehouse([...argv], env);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, expected);
    });
  }

  it('without a subcommand: the usage on stderr, exit 2', async () => {
    const r = await runGatehouse(['regulation'], env);
    assert.equal(r.code, 2);
    assert.match(r.err, /^Usage: gatehouse regulation/);
  });
});

describe('gatehouse regulation list and unban: a ban the regulator wrote, lifted by any spelling of the login', () => {
  it('lists the user and IP bans with expiry and source, as a table and as JSON', async () => {
    const { regulator, close } = await openRegulation();
    try {
      // counted under the account's name whatever the spelling, and under the address
      await fail(regulator, 'ALICE@example.com', '2001:DB8::7');
      await fail(regulator, 'Nobody-Here', '203.0.113.9');
    } finally {
      await close();
    }
    const table = await gatehouse(['regulation', 'list']);
    assert.equal(table.code, 0, table.err);
    const lines = table.out.trimEnd().split('\n');
    assert.match(lines[0]!, /^KIND\s+BANNED\s+SINCE\s+UNTIL\s+SOURCE\s+REASON$/);
    const rows = lines.slice(1).map((line) => line.split(/\s{2,}/));
    assert.deepEqual(rows.map((row) => [row[0], row[1], row[4], row[5]]).sort(), [
      ['ip', '2001:db8::7', 'regulation', '3 failed attempts within 120s'],
      ['ip', '203.0.113.9', 'regulation', '3 failed attempts within 120s'],
      ['user', 'alice', 'regulation', '3 failed attempts within 120s'],
      ['user', 'nobody-here', 'regulation', '3 failed attempts within 120s'],
    ]);

    const json = await gatehouse(['regulation', 'list', '--json']);
    assert.equal(json.code, 0, json.err);
    const bans = JSON.parse(json.out) as Array<{ kind: string; subject: string; since: string; until: string | null; source: string }>;
    const alice = bans.find((ban) => ban.kind === 'user' && ban.subject === 'alice')!;
    assert.equal(Date.parse(alice.until!) - Date.parse(alice.since), 300_000, 'until is ban_time after the ban');
    assert.equal(alice.source, 'regulation');
  });

  it('unban USER resolves the login as the login form does (e-mail, any case), revokes, audits, and the count starts again', async () => {
    const r = await gatehouse(['regulation', 'unban', 'Alice@EXAMPLE.com']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, "regulation: unbanned user 'alice' (1 ban revoked)\n");
    const audit = r.err.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>).find((line) => line.event === 'regulation.unban');
    assert.ok(audit, `an audit line on the configured log (stderr here): ${r.err}`);
    assert.equal(audit.subject, 'alice');
    assert.equal(audit.audit, true);
    assert.match(String(audit.msg), /^regulation: unbanned user 'alice' \(1 ban revoked\) from the command line$/);

    const listed = JSON.parse((await gatehouse(['regulation', 'list', '--json'])).out) as Array<{ kind: string; subject: string }>;
    assert.deepEqual(listed.map((ban) => `${ban.kind}:${ban.subject}`).sort(), ['ip:2001:db8::7', 'ip:203.0.113.9', 'user:nobody-here']);

    // the three failures before the unban no longer count: a new attempt from a fresh address is admitted
    const { regulator, close } = await openRegulation();
    try {
      const reservation = await regulator.reserve({ username: 'alice', ip: '198.51.100.1', authType: '1fa', requestUri: '', requestMethod: '' });
      assert.equal(reservation.admitted, true, JSON.stringify(reservation));
    } finally {
      await close();
    }
  });

  it('unban IP normalises the address as the regulator keys it; an unknown name is unbanned as typed', async () => {
    const ip = await gatehouse(['regulation', 'unban', '2001:DB8::7']);
    assert.equal(ip.code, 0, ip.err);
    assert.equal(ip.out, "regulation: unbanned address '2001:db8::7' (1 ban revoked)\n");
    const mapped = await gatehouse(['regulation', 'unban', '::ffff:203.0.113.9']);
    assert.equal(mapped.out, "regulation: unbanned address '203.0.113.9' (1 ban revoked)\n");
    const unknown = await gatehouse(['regulation', 'unban', 'NOBODY-here']);
    assert.equal(unknown.out, "regulation: unbanned user 'nobody-here' (1 ban revoked)\n");
    const empty = await gatehouse(['regulation', 'list']);
    assert.deepEqual([empty.code, empty.out], [0, 'regulation: no ban in force\n']);
  });

  it('nothing to unban: exit 1 and say so; a missing argument is a usage error', async () => {
    const none = await gatehouse(['regulation', 'unban', 'alice']);
    assert.equal(none.code, 1);
    assert.equal(none.out, '');
    assert.match(none.err, /^gatehouse regulation: no ban in force for user 'alice'; see 'gatehouse regulation list'$/m);
    const missing = await gatehouse(['regulation', 'unban']);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /^gatehouse: regulation unban needs a USER or an IP address$/m);
  });

  it('--user names a user whose name looks like an address', async () => {
    const { storage, close } = await openRegulation();
    try {
      await storage.bans.banUser({ username: '10.0.0.1', time: Date.now(), expires: null, source: 'cli' });
    } finally {
      await close();
    }
    const asIp = await gatehouse(['regulation', 'unban', '10.0.0.1']);
    assert.equal(asIp.code, 1, 'the address 10.0.0.1 is not banned');
    const asUser = await gatehouse(['regulation', 'unban', '--user', '10.0.0.1']);
    assert.equal(asUser.out, "regulation: unbanned user '10.0.0.1' (1 ban revoked)\n");
  });
});
