// Startup checks against real services: a fresh PostgreSQL database on 127.0.0.1:5432, a redis-server
// started here, a closed port for a service that is down, the stall proxy for one that hangs.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { openSessionStore } from '../../gateway/session/store.ts';
import { StartupCheckError } from '../../gateway/startup-checks.ts';
import { generateSecret } from '../../lib/secret-strength.ts';
import { runGatehouse, type CliRun } from '../helpers/cli.ts';
import { portal, startInProcessGateway } from '../helpers/inprocess-gateway.ts';
import { freePort } from '../helpers/ports.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { startRedis, type RedisServer } from '../helpers/redis.ts';
import { repoPath, repoRoot } from '../helpers/repo.ts';
import { startStallProxy, type StallProxy } from '../helpers/stall-proxy.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { rawQuery } from '../unit/storage/backends.ts';

const silent = pino({ level: 'silent' });
const REDIS_DEFAULTS = { database_index: 0, maximum_active_connections: 8, minimum_idle_connections: 0, timeout: 1, command_timeout: 500 };

/** `storage.postgres` for the config file, from a test database. */
function postgresConfig(database: TestDatabase, address = database.options.address): Record<string, unknown> {
  const { timeout: _ms, ...connection } = database.options;
  return { ...connection, address, timeout: '1s', statement_timeout: '500ms' };
}

/** An in-process gateway on these providers (the rest as the helper sets it up). */
function startWith(config: Record<string, unknown>) {
  return startInProcessGateway({ config: { access_control: { default_policy: 'one_factor' }, ...config } });
}

let redis: RedisServer;
let closedPort: number;
before(async () => {
  redis = await startRedis();
  closedPort = await freePort();
});
after(() => redis?.stop());

describe('a start stops on every provider that fails its check, naming each, before serving anything', () => {
  it('PostgreSQL refused, Redis refused, the notifier directory missing: three lines, one per provider', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const notifications = join(temp.dir, 'missing', 'notifications.txt');
    await assert.rejects(
      startWith({
        storage: { local: undefined, postgres: { address: 'tcp://127.0.0.1:1', database: 'gatehouse', username: 'gatehouse', password: 'pw', timeout: '1s' } },
        session: { redis: { host: '127.0.0.1', port: closedPort } },
        notifier: { filesystem: { filename: notifications } },
      }),
      (error: unknown) => {
        assert.ok(error instanceof StartupCheckError);
        assert.equal(error.code, 'startup_check_failed');
        assert.equal(
          error.message,
          [
            "startup check failed: storage: postgres: cannot connect to database 'gatehouse' at 127.0.0.1:1 as 'gatehouse': connection refused",
            `startup check failed: session store: cannot connect to Redis at 127.0.0.1:${closedPort}: connection refused`,
            `startup check failed: notifier: filesystem: the directory '${join(temp.dir, 'missing')}' does not exist (notifier.filesystem.filename is '${notifications}')`,
          ].join('\n'),
        );
        assert.deepEqual(error.failures.map((failure) => failure.name), ['storage', 'session store', 'notifier']);
        return true;
      },
    );
  });

  it('a hung Redis fails the start after session.redis.timeout, not never', { timeout: 20_000 }, async (t) => {
    const proxy = await startStallProxy({ host: redis.host, port: redis.port });
    t.after(() => proxy.close());
    proxy.stall();
    const started = Date.now();
    await assert.rejects(startWith({ session: { redis: { host: proxy.host, port: proxy.port, timeout: '1s' } } }), {
      name: 'StartupCheckError',
      // the connection's ready check is a command: command_timeout (500 ms) runs out first
      message: new RegExp(`^startup check failed: session store: cannot connect to Redis at 127\\.0\\.0\\.1:${proxy.port}: no answer within (500 ms|1 s)$`),
    });
    assert.ok(Date.now() - started < 5_000, `gave up after ${Date.now() - started} ms`);
  });

  it('a hung PostgreSQL fails the start after storage.postgres.timeout', { timeout: 20_000 }, async (t) => {
    const database = await createTestDatabase();
    t.after(database.drop);
    const proxy = await startStallProxy({ host: '127.0.0.1', port: 5432 });
    t.after(() => proxy.close());
    proxy.stall();
    const started = Date.now();
    await assert.rejects(startWith({ storage: { local: undefined, postgres: postgresConfig(database, `tcp://${proxy.host}:${proxy.port}`) } }), {
      name: 'StartupCheckError',
      message: `startup check failed: storage: postgres: cannot connect to database '${database.options.database}' at 127.0.0.1:${proxy.port} as 'postgres': timed out after 1000 ms`,
    });
    assert.ok(Date.now() - started < 5_000, `gave up after ${Date.now() - started} ms`);
  });

  it('notifier.disable_startup_check skips the notifier check: a missing directory does not stop the start', async (t) => {
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const gw = await startWith({ notifier: { disable_startup_check: true, filesystem: { filename: join(temp.dir, 'missing', 'n.txt') } } });
    await gw.close();
  });
});

describe('a start on working providers: PostgreSQL, Redis and the filesystem notifier all pass', () => {
  it('serves, /api/health reads storage through ping(), and the notifier file is not created before a message', async (t) => {
    const database = await createTestDatabase();
    t.after(database.drop);
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const notifications = join(temp.dir, 'notifications.txt');
    const gw = await startWith({
      storage: { local: undefined, postgres: postgresConfig(database) },
      session: { redis: { host: redis.host, port: redis.port } },
      notifier: { filesystem: { filename: notifications } },
    });
    t.after(() => gw.close());
    const health = await portal(gw, '/api/health');
    assert.equal(health.status, 200);
    assert.deepEqual(health.json(), { status: 'OK' });
    await assert.rejects(stat(notifications), { code: 'ENOENT' });
  });
});

describe('the session store startup check: Redis answers PING within its timeouts', () => {
  it('passes on a running Redis; fails, naming the server, once it is gone or hung', { timeout: 20_000 }, async (t) => {
    const own = await startRedis();
    t.after(() => own.stop());
    const proxy = await startStallProxy({ host: own.host, port: own.port });
    t.after(() => proxy.close());
    const sessions = await openSessionStore({ host: proxy.host, port: proxy.port, ...REDIS_DEFAULTS }, generateSecret(), silent);
    t.after(() => sessions.close());
    await sessions.startupCheck();

    proxy.stall();
    const started = Date.now();
    await assert.rejects(sessions.startupCheck(), {
      code: 'session_store_unavailable',
      message: `session store: Redis at 127.0.0.1:${proxy.port} did not answer PING: no answer within 1 s`,
    });
    assert.ok(Date.now() - started < 3_000, `gave up after ${Date.now() - started} ms`);

    proxy.refuse();
    await assert.rejects(sessions.startupCheck(), { code: 'session_store_unavailable', message: new RegExp(`^session store: Redis at 127\\.0\\.0\\.1:${proxy.port} did not answer PING: `) });
  });

  it('the memory store has nothing to check', async () => {
    const sessions = await openSessionStore(undefined, generateSecret(), silent);
    await sessions.startupCheck();
    await sessions.close();
  });
});

/** A complete gateway configuration naming these services. */
async function writeConfig(dir: string, services: { postgres: Record<string, unknown>; redisPort: number; notifications: string }): Promise<string> {
  const path = join(dir, 'gatehouse.yml');
  const config = {
    // reset off: with the filesystem notifier it would add a config warning that this test is not about
    authentication_backend: { file: { path: join(dir, 'users.yml') }, password_reset: { disable: true } },
    access_control: { default_policy: 'one_factor' },
    session: { secret: generateSecret(), cookies: [{ domain: 'example.com', authelia_url: 'https://auth.example.com' }], redis: { host: '127.0.0.1', port: services.redisPort, timeout: '1s' } },
    storage: { encryption_key: generateSecret(), postgres: services.postgres },
    notifier: { filesystem: { filename: services.notifications } },
  };
  await writeFile(path, stringify(config), { mode: 0o600 });
  return path;
}

function gatehouse(argv: string[], dataDir: string): Promise<CliRun> {
  return runGatehouse(argv, { GATEHOUSE_DATA: dataDir });
}

describe('gatehouse config validate --check: the startup checks against what the configuration names', () => {
  it('one ok line per provider, exit 0; it never migrates the database nor creates the notifier file', async (t) => {
    const database = await createTestDatabase();
    t.after(database.drop);
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const notifications = join(temp.dir, 'notifications.txt');
    const file = await writeConfig(temp.dir, { postgres: postgresConfig(database), redisPort: redis.port, notifications });
    await writeFile(join(temp.dir, 'users.yml'), 'users: {}\n', { mode: 0o600 });

    const result = await gatehouse(['config', 'validate', '--config', file, '--check'], join(temp.dir, 'data'));
    assert.equal(result.err, '');
    assert.equal(
      result.out,
      'config: OK\n'
        + `storage: ok (PostgreSQL database '${database.options.database}' at 127.0.0.1:5432: 9 migration(s) pending, the next start applies them; encryption_key not recorded yet, the next start records it)\n`
        + `session store: ok (Redis at 127.0.0.1:${redis.port} answers)\n`
        + `users: ok (users file ${join(temp.dir, 'users.yml')})\n`
        + `notifier: ok (filesystem: ${notifications})\n`,
    );
    assert.equal(result.code, 0);
    assert.deepEqual(await rawQuery({ encryption_key: '', postgres: database.options }, "select table_name from information_schema.tables where table_schema = 'public'"), []);
    await assert.rejects(stat(notifications), { code: 'ENOENT' });
  });

  it('a provider that is down: its failed line on stderr, the others still checked, exit 3', async (t) => {
    const database = await createTestDatabase();
    t.after(database.drop);
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const notifications = join(temp.dir, 'notifications.txt');
    const file = await writeConfig(temp.dir, { postgres: postgresConfig(database, 'tcp://127.0.0.1:1'), redisPort: closedPort, notifications });

    const result = await gatehouse(['config', 'validate', '--config', file, '--check'], join(temp.dir, 'data'));
    assert.equal(result.code, 3);
    assert.equal(result.out, `config: OK\nnotifier: ok (filesystem: ${notifications})\n`);
    assert.equal(
      result.err,
      `storage: failed: postgres: cannot connect to database '${database.options.database}' at 127.0.0.1:1 as 'postgres': connection refused\n`
        + `session store: failed: cannot connect to Redis at 127.0.0.1:${closedPort}: connection refused\n`
        + `users: failed: users file ${join(temp.dir, 'users.yml')}: cannot read the file (ENOENT); it does not exist: create it with \`gatehouse users add NAME\`\n`,
    );
    // checking never creates the users file it reports missing
    await assert.rejects(stat(join(temp.dir, 'users.yml')), { code: 'ENOENT' });
  });
});

/** Runs `gatehouse gateway` as a process; one still running after `killAfterMs` is killed (code null). */
function runGateway(file: string, dataDir: string, killAfterMs = 20_000): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [repoPath('bin', 'gatehouse.ts'), 'gateway', '--config', file], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', GATEHOUSE_DATA: dataDir },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, err });
    });
  });
}

describe('bin/gatehouse.ts gateway: a failed startup check is exit code 3 with the reason on stderr', () => {
  it('Redis down: exit 3, and one line naming it', { timeout: 30_000 }, async (t) => {
    const database = await createTestDatabase();
    t.after(database.drop);
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const file = await writeConfig(temp.dir, { postgres: postgresConfig(database), redisPort: closedPort, notifications: join(temp.dir, 'n.txt') });
    const result = await runGateway(file, join(temp.dir, 'data'));
    assert.equal(result.code, 3);
    assert.equal(result.err, `startup check failed: session store: cannot connect to Redis at 127.0.0.1:${closedPort}: connection refused\n`);
  });

  it('a FIFO where the users file should be: exit 3 at once, naming it, instead of waiting on the pipe', { timeout: 30_000 }, async (t) => {
    const database = await createTestDatabase();
    t.after(database.drop);
    const temp = await makeTempDir();
    t.after(temp.cleanup);
    const users = join(temp.dir, 'users.yml');
    execFileSync('mkfifo', ['-m', '600', users]);
    const file = await writeConfig(temp.dir, { postgres: postgresConfig(database), redisPort: redis.port, notifications: join(temp.dir, 'n.txt') });
    // exiting by itself with this reason (not the 60 s check timeout, not killed) is the proof it never waited on the pipe
    const result = await runGateway(file, join(temp.dir, 'data'));
    assert.equal(result.code, 3, result.err);
    assert.equal(result.err, `startup check failed: users: users file ${users}: cannot read the file: it is a FIFO (named pipe), not a regular file; give the path of the users file itself\n`);
  });
});
