import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MainOptions } from '../../../gateway/cli/main.ts';
import { describeGatewayRoutes } from '../../../gateway/routes.ts';
import { formatRouteTable, type RouteSummary } from '../../../lib/route-table.ts';
import { verifyClientSecret } from '../../../lib/client-secret.ts';
import { runGatehouse } from '../../helpers/cli.ts';
import { repoPath } from '../../helpers/repo.ts';
import { makeTempDir } from '../../helpers/tmp.ts';

interface Run {
  code: number;
  out: string;
  err: string;
}

let dir: string;
let cleanup: () => Promise<void>;
/** GATEHOUSE_DATA points into the temp directory, so the embedded defaults never touch ./data. */
let env: NodeJS.ProcessEnv;

/** `gatehouse <argv>` through main() with in-memory streams and exactly `env` as its environment. */
function gatehouse(argv: string[], options: { stdin?: string; env?: NodeJS.ProcessEnv; main?: MainOptions } = {}): Promise<Run> {
  return runGatehouse(argv, options.env ?? env, options);
}

function config(extra = ''): string {
  return `
authentication_backend:
  file:
    path: '${dir}/users.yml'
    password:
      argon2:
        iterations: 1
        memory: 1024
        parallelism: 1
access_control:
  default_policy: deny
  rules:
    - domain: www.example.com
      policy: bypass
    - domain: admin.example.com
      subject: 'group:admins'
      policy: two_factor
    - domain: '*.example.com'
      policy: one_factor
session:
  cookies:
    - domain: example.com
      authelia_url: https://auth.example.com
storage:
  encryption_key: Xq7vR2mLp9TzW4nB8cYd3JfH6sKa5GuE
  local:
    path: '${dir}/gatehouse.sqlite3'
${extra}`;
}

async function writeConfig(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

let fast: string;
before(async () => {
  ({ dir, cleanup } = await makeTempDir('gatehouse-cli-'));
  env = { GATEHOUSE_DATA: join(dir, 'data') };
  fast = await writeConfig('fast.yml', config());
});
after(() => cleanup());

describe('gatehouse config validate', () => {
  it("prints 'config: OK' and exits 0 for a sound file", async () => {
    const good = await writeConfig('good.yml', config().replace(/ {4}password:\n(?: {6}.*\n)+/, ''));
    const r = await gatehouse(['config', 'validate', '--config', good]);
    assert.deepEqual(r, { code: 0, out: 'config: OK\n', err: '' });
  });

  it('still exits 0 for weaker-than-default settings, and prints each as a warning', async () => {
    const weak = await writeConfig('weak.yml', config('regulation:\n  max_retries: 0\n'));
    const r = await gatehouse(['config', 'validate', '--config', weak]);
    assert.equal(r.code, 0);
    assert.equal(r.out, 'config: OK\n');
    assert.match(r.err, /^warning: config: regulation\.max_retries: is 0: brute-force protection is disabled$/m);
    assert.match(r.err, /^warning: config: authentication_backend\.file\.password\.argon2: is weaker than the default/m);
  });

  it('exits 2 and prints every problem, one per line, for a bad file', async () => {
    const bad = await writeConfig('bad.yml', config(`
server:
  trusted_proxies: [not-an-address]
regulation:
  max_retries: many
  find_time: 1h
  ban_time: 1m
`).replace('Xq7vR2mLp9TzW4nB8cYd3JfH6sKa5GuE', 'short').replace('https://auth.example.com', 'http://auth.example.com'));
    const r = await gatehouse(['config', 'validate', '--config', bad]);
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    const lines = r.err.trimEnd().split('\n');
    assert.ok(lines.every((line) => line.startsWith('config: ')), r.err);
    for (const expected of [
      'config: regulation.max_retries: must be a number, not string "many"',
      "config: server.trusted_proxies[0]: 'not-an-address' is not an IP address or CIDR range",
      "config: session.cookies[0].authelia_url: 'http://auth.example.com' must use https (plain http is accepted only for localhost)",
      'config: regulation.find_time: must be less than or equal to regulation.ban_time (3600s > 60s)',
      'config: storage.encryption_key: must be at least 20 characters; generate one with: gatehouse crypto rand --length 64 --charset alphanumeric (or put it in a file named by GATEHOUSE_STORAGE_ENCRYPTION_KEY_FILE)',
    ]) {
      assert.ok(lines.includes(expected), `missing '${expected}' in:\n${r.err}`);
    }
    assert.equal(lines.length, 5);
  });

  it('reports what only the start used to find: a PostgreSQL address the connection cannot read, a window of 0s', async () => {
    const startOnly = await writeConfig('start-only.yml', config().replace(
      `local:\n    path: '${dir}/gatehouse.sqlite3'`,
      'postgres:\n    address: postgres.example.com:5432\n    database: gatehouse\n    username: gatehouse',
    ) + 'regulation:\n  find_time: 0\n');
    const r = await gatehouse(['config', 'validate', '--config', startOnly]);
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    assert.equal(r.err, [
      'config: regulation.find_time: must be a duration greater than 0 (0s)',
      "config: storage.postgres.address: must look like 'tcp://host:5432' or 'unix:///var/run/postgresql'",
      '',
    ].join('\n'));
  });

  it('exits 2 naming a missing file', async () => {
    const missing = join(dir, 'nope.yml');
    const r = await gatehouse(['config', 'validate', '--config', missing]);
    assert.equal(r.code, 2);
    assert.equal(r.err, `config: ${missing}: cannot read the file (ENOENT); check the path given to --config\n`);
  });

  it('merges --config F and --config=F in order; $GATEHOUSE_CONFIG names files when no --config is given', async () => {
    const override = await writeConfig('override.yml', 'storage:\n  encryption_key: short\n');
    const both = await gatehouse(['config', 'validate', '--config', fast, `--config=${override}`]);
    assert.equal(both.code, 2);
    assert.equal(both.err, 'config: storage.encryption_key: must be at least 20 characters; generate one with: gatehouse crypto rand --length 64 --charset alphanumeric (or put it in a file named by GATEHOUSE_STORAGE_ENCRYPTION_KEY_FILE)\n');
    const fromEnv = await gatehouse(['config', 'validate'], { env: { ...env, GATEHOUSE_CONFIG: `${fast}, ${override}` } });
    assert.equal(fromEnv.err, both.err);
  });

  it('applies GATEHOUSE_* overrides', async () => {
    const r = await gatehouse(['config', 'validate', '--config', fast], { env: { ...env, GATEHOUSE_REGULATION_MAX_RETRIES: 'x' } });
    assert.equal(r.code, 2);
    assert.equal(r.err, 'config: regulation.max_retries: must be a number, not string "x"\n');
  });

  it('without --config checks the embedded defaults, creating their secrets 0600 in $GATEHOUSE_DATA', async () => {
    const data = join(dir, 'embedded-data');
    const r = await gatehouse(['config', 'validate'], { env: { GATEHOUSE_DATA: data } });
    assert.deepEqual(r, { code: 0, out: 'config: OK\n', err: '' });
    assert.equal((await stat(join(data, 'secrets.json'))).mode & 0o777, 0o600);
  });
});

describe('gatehouse config schema', () => {
  it('prints the committed config/gatehouse.schema.json', async () => {
    const r = await gatehouse(['config', 'schema']);
    assert.equal(r.code, 0);
    assert.equal(r.out, await readFile(repoPath('config', 'gatehouse.schema.json'), 'utf8'));
  });

  it('--output F writes it to a file', async () => {
    const out = join(dir, 'schema.json');
    const r = await gatehouse(['config', 'schema', '--output', out]);
    assert.deepEqual(r, { code: 0, out: '', err: '' });
    assert.equal(await readFile(out, 'utf8'), await readFile(repoPath('config', 'gatehouse.schema.json'), 'utf8'));
  });
});

describe('--help on every command prints its usage and exits 0, without loading a configuration', () => {
  const cases: [string[], RegExp][] = [
    [['--help'], /^Usage: gatehouse <command>/m],
    [['help'], /^Usage: gatehouse <command>/m],
    [['start', '--help'], /^Usage: gatehouse start/m],
    [['gateway', '--help'], /^Usage: gatehouse gateway --config F/m],
    [['config', '--help'], /^Usage: gatehouse config validate/m],
    [['config', 'validate', '--help'], /^Usage: gatehouse config validate/m],
    [['config', 'migrate', '--help'], /^Usage: gatehouse config migrate --from authelia FILE/m],
    [['hash-password', '--help'], /^Usage: gatehouse hash-password/m],
    [['users', '--help'], /^Usage: gatehouse users <command>/m],
    [['users', 'add', '--help'], /^Usage: gatehouse users add NAME/m],
    [['users', 'list', '--help'], /^Usage: gatehouse users list/m],
    [['access-control', '--help'], /^Usage: gatehouse access-control check --url URL/m],
    [['access-control', 'check', '--help'], /^Usage: gatehouse access-control check --url URL/m],
    [['storage', '--help'], /^Usage: gatehouse storage migrate/m],
    [['storage', 'migrate', '--help'], /^Usage: gatehouse storage migrate/m],
    [['routes', '--help'], /^Usage: gatehouse routes/m],
  ];
  for (const [argv, usage] of cases) {
    it(`gatehouse ${argv.join(' ')}`, async () => {
      const data = join(dir, 'help-data');
      const r = await gatehouse(argv, { env: { GATEHOUSE_DATA: data } });
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, usage);
      assert.equal(r.err, '');
      assert.equal(existsSync(data), false, 'asking for help must not create the data directory');
    });
  }
});

describe('gatehouse routes prints the gateway table, then the monitor table the entry point gives it', () => {
  const MONITOR: RouteSummary[] = [
    { method: 'GET', path: '/api/hosts', guard: 'READ', rateLimit: null },
    { method: 'WS', path: '/ws/terminal', guard: 'TICKET', rateLimit: 'terminal tickets' },
  ];

  it('without a configuration: every gateway row, then the monitor rows, and nothing is loaded or created', async () => {
    const data = join(dir, 'routes-data');
    const r = await gatehouse(['routes'], { env: { GATEHOUSE_DATA: data }, main: { monitorRoutes: async () => MONITOR } });
    assert.deepEqual(r, { code: 0, out: `${formatRouteTable('gateway', describeGatewayRoutes())}\n${formatRouteTable('monitor', MONITOR)}`, err: '' });
    assert.equal(existsSync(data), false, 'listing the routes must not create the data directory');
    const [gateway, monitor] = r.out.split('\n\n');
    assert.match(gateway!, /^gateway\nMETHOD +PATH +GUARD +RATE LIMIT\n/);
    assert.match(gateway!, /^GET +\/api\/user\/info +LEVEL_1 +-$/m);
    assert.match(gateway!, /^POST +\/api\/firstfactor +PUBLIC +regulation \+ password checks$/m);
    assert.match(gateway!, /^GET +\/jwks\.json +PUBLIC +-$/m);
    assert.match(gateway!, /^ANY +\/\* +ACCESS_RULES +regulation \+ password checks \(Basic auth\)$/m);
    assert.match(monitor!, /^monitor\nMETHOD +PATH +GUARD +RATE LIMIT\nGET +\/api\/hosts +READ +-\nWS +\/ws\/terminal +TICKET +terminal tickets\n$/);
  });

  it('without the monitor in this build: the gateway table alone', async () => {
    const r = await gatehouse(['routes']);
    assert.deepEqual(r, { code: 0, out: formatRouteTable('gateway', describeGatewayRoutes()), err: '' });
  });

  it('with a configuration: only the rows it serves (its authz endpoints; no /jwks.json or /* without identity_assertion or upstreams)', async () => {
    const legacyOnly = await writeConfig(
      'routes.yml',
      config(`server:
  endpoints:
    authz:
      legacy:
        implementation: Legacy
        authn_strategies:
          - name: CookieSession
`),
    );
    const r = await gatehouse(['routes', '--config', legacyOnly], { main: { monitorRoutes: () => MONITOR } });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^ANY +\/api\/verify +ACCESS_RULES +-$/m, 'a cookie-only endpoint checks no password');
    for (const absent of ['/api/authz/auth-request', '/api/authz/forward-auth', '/jwks.json', '/*']) {
      assert.doesNotMatch(r.out, new RegExp(`^\\S+ +${absent.replace(/[.*/]/g, '\\$&')} `, 'm'), absent);
    }
    assert.match(r.out, /^GET +\/api\/user\/info +LEVEL_1 +-$/m);
    assert.match(r.out, /\nmonitor\n/);
  });

  it('an argument it does not take is a usage error', async () => {
    const r = await gatehouse(['routes', '--all']);
    assert.equal(r.code, 2);
    assert.match(r.err, /^gatehouse: unexpected argument '--all'$/m);
  });
});

describe('usage errors exit 2 with a message on stderr', () => {
  it('an unknown command', async () => {
    const r = await gatehouse(['frobnicate']);
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    assert.equal(r.err, "gatehouse: unknown command 'frobnicate'\nRun 'gatehouse --help' for the commands.\n");
  });

  it('no command at all prints the overview', async () => {
    const r = await gatehouse([]);
    assert.equal(r.code, 2);
    assert.match(r.out, /^Usage: gatehouse <command>/m);
  });

  it('unknown subcommands of config, storage, access-control and regulation', async () => {
    for (const argv of [['config', 'frob'], ['storage', 'frob'], ['access-control', 'frob'], ['regulation', 'frob']]) {
      const r = await gatehouse(argv);
      assert.equal(r.code, 2, argv.join(' '));
      assert.match(r.err, /^gatehouse: /, argv.join(' '));
    }
  });

  it('gateway without --config', async () => {
    const r = await gatehouse(['gateway']);
    assert.equal(r.code, 2);
    assert.match(r.err, /^gatehouse: gateway needs --config FILE \(or use "gatehouse start" for the embedded defaults\)$/m);
  });

  it('gateway with an invalid file exits 2 with the problems and starts nothing', async () => {
    const bad = await writeConfig('gateway-bad.yml', config().replace('Xq7vR2mLp9TzW4nB8cYd3JfH6sKa5GuE', 'short'));
    const r = await gatehouse(['gateway', '--config', bad]);
    assert.equal(r.code, 2);
    assert.equal(r.err, 'config: storage.encryption_key: must be at least 20 characters; generate one with: gatehouse crypto rand --length 64 --charset alphanumeric (or put it in a file named by GATEHOUSE_STORAGE_ENCRYPTION_KEY_FILE)\n');
  });

  it('--config without a file name', async () => {
    const r = await gatehouse(['config', 'validate', '--config']);
    assert.equal(r.code, 2);
    assert.match(r.err, /^gatehouse: --config needs a file name$/m);
  });
});

describe('gatehouse storage migrate', () => {
  it('applies the migrations to a new SQLite file, then says it is up to date', async () => {
    const first = await gatehouse(['storage', 'migrate', '--config', fast]);
    assert.equal(first.code, 0, first.err);
    assert.deepEqual(first.out.trimEnd().split('\n'), [
      'storage: applied 0001-authentication-logs',
      'storage: applied 0002-bans',
      'storage: applied 0003-encryption',
      'storage: applied 0004-attempt-reservations',
      'storage: applied 0005-setup-state',
      'storage: applied 0006-second-factors',
      'storage: applied 0007-session-ids',
      'storage: applied 0008-oidc',
      'storage: applied 0009-oidc-session-links',
    ]);
    assert.ok((await stat(join(dir, 'gatehouse.sqlite3'))).size > 0);
    const second = await gatehouse(['storage', 'migrate', '--config', fast]);
    assert.deepEqual(second, { code: 0, out: 'storage: up to date\n', err: '' });
  });

  it('refuses another encryption key for the same database, exit 1', async () => {
    await gatehouse(['storage', 'migrate', '--config', fast]);
    const r = await gatehouse(['storage', 'migrate', '--config', fast], {
      env: { ...env, GATEHOUSE_STORAGE_ENCRYPTION_KEY: 'another-key-of-more-than-20-characters' },
    });
    assert.equal(r.code, 1);
    assert.equal(r.out, '');
    assert.equal(r.err, 'gatehouse: storage: the encryption_key does not match the one this database was created with\n');
  });
});

describe('gatehouse access-control check', () => {
  it('prints the decision for a user and groups', async () => {
    const r = await gatehouse(['access-control', 'check', '--config', fast, '--url', 'https://admin.example.com/settings', '--user', 'alice', '--groups', 'admins,dev']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Checking GET https:\/\/admin\.example\.com\/settings as user 'alice' groups 'admins,dev'\.$/m);
    assert.match(r.out, /\npolicy: two_factor \(rule #2\)\n$/);
  });

  it('an anonymous visitor of the public site is let through', async () => {
    const r = await gatehouse(['access-control', 'check', '--config', fast, '--url', 'https://www.example.com/']);
    assert.match(r.out, /\npolicy: bypass \(rule #1\)\n$/);
  });

  it('a host outside every rule gets the default policy', async () => {
    const r = await gatehouse(['access-control', 'check', '--config', fast, '--url', 'https://example.org/', '--user', 'bob']);
    assert.match(r.out, /\npolicy: deny \(default policy\)\n$/);
  });

  it('without --url: exit 2 and the usage', async () => {
    const r = await gatehouse(['access-control', 'check', '--config', fast]);
    assert.equal(r.code, 2);
    assert.match(r.err, /--url' is required/);
  });
});

describe('gatehouse users add, then users list, on the file the configuration names', () => {
  it('adds a user with the configured argon2 parameters and lists it', async () => {
    const add = await gatehouse(
      ['users', 'add', 'alice', '--config', fast, '--password-stdin', '--display-name', 'Alice Example', '--email', 'alice@example.com', '--group', 'admins', '--group', 'dev'],
      { stdin: 'correct horse battery staple\n' },
    );
    assert.equal(add.code, 0, add.err);
    assert.equal(add.out, `added user 'alice' to ${join(dir, 'users.yml')}\n`);
    assert.match(await readFile(join(dir, 'users.yml'), 'utf8'), /\$argon2id\$v=19\$m=1024,t=1,p=1\$/);

    const list = await gatehouse(['users', 'list', '--config', fast]);
    assert.equal(list.code, 0, list.err);
    const rows = list.out.trimEnd().split('\n');
    assert.match(rows[0] ?? '', /^USERNAME\s+DISPLAY NAME\s+EMAIL\s+GROUPS\s+STATUS$/);
    assert.match(rows[1] ?? '', /^alice\s+Alice Example\s+alice@example\.com\s+admins,dev\s+enabled$/);

    const json = await gatehouse(['users', 'list', '--json', '--config', fast]);
    const users = JSON.parse(json.out) as { username: string; groups: string[] }[];
    assert.deepEqual(users.map((u) => [u.username, u.groups]), [['alice', ['admins', 'dev']]]);
  });

  it('users with an invalid configuration exits 2 before touching any file', async () => {
    const r = await gatehouse(['users', 'list', '--config', join(dir, 'absent.yml')]);
    assert.equal(r.code, 2);
    assert.match(r.err, /^config: .*absent\.yml: cannot read the file/);
  });
});

describe('gatehouse hash-password', () => {
  it('prints an argon2id hash of the first stdin line', async () => {
    const r = await gatehouse(['hash-password', '--password-stdin'], { stdin: 'a long enough password\n' });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^\$argon2id\$v=19\$m=65536,t=3,p=4\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+\n$/);
  });

  it('--client-secret prints a pbkdf2-sha512 digest Authelia can read, and the help says so', async () => {
    const r = await gatehouse(['hash-password', '--client-secret', '--password-stdin'], { stdin: 'a client secret\n' });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^\$pbkdf2-sha512\$310000\$[A-Za-z0-9./]{22}\$[A-Za-z0-9./]{86}\n$/);
    assert.equal(await verifyClientSecret(r.out.trim(), 'a client secret'), true);
    assert.equal(await verifyClientSecret(r.out.trim(), 'a client secreT'), false);
    const help = await gatehouse(['hash-password', '--help']);
    assert.match(help.out, /--client-secret .*client_secret/s);
  });
});

describe('gatehouse --help lists every command, the monitor\'s included', () => {
  it('every command of the table, and the monitor\'s lines handed in by the entry point', async () => {
    const { MONITOR_COMMANDS } = await import('../../../monitor/cli-commands.ts');
    const r = await gatehouse(['--help'], { main: { monitorCommand: async () => 0, monitorCommands: async () => MONITOR_COMMANDS } });
    assert.equal(r.code, 0);
    for (const command of ['start', 'gateway', 'config validate', 'config schema', 'hash-password', 'crypto rand', 'users add|passwd|delete|rename|list', 'access-control check', 'regulation list', 'regulation unban USER|IP', 'storage migrate', 'routes']) {
      assert.match(r.out, new RegExp(`^  ${command.replace(/[|]/g, '\\|')}`, 'm'), command);
    }
    for (const { usage } of MONITOR_COMMANDS) assert.ok(r.out.includes(`\n  ${usage}`), usage);
    for (const sub of ['validate', 'schema', 'reset-password']) assert.match(r.out, new RegExp(`^  monitor ${sub}`, 'm'));
  });

  it('the monitor\'s lines name the subcommands its own help describes', async () => {
    const { MONITOR_COMMANDS } = await import('../../../monitor/cli-commands.ts');
    const { MONITOR_HELP } = await import('../../../monitor/cli.ts');
    for (const { usage } of MONITOR_COMMANDS) assert.ok(MONITOR_HELP.includes(`gatehouse ${usage}`), usage);
  });

  it('without a monitor in the build, no monitor line', async () => {
    const r = await gatehouse(['--help']);
    assert.doesNotMatch(r.out, /^ {2}monitor/m);
  });
});

describe('an unknown command suggests the nearest one (two edits at most)', () => {
  for (const [typed, nearest] of [['usres', 'users'], ['rotues', 'routes'], ['regulaton', 'regulation'], ['Config', 'config'], ['strat', 'start']] as const) {
    it(`${typed} → ${nearest}`, async () => {
      const r = await gatehouse([typed]);
      assert.equal(r.code, 2);
      assert.equal(r.out, '');
      assert.equal(r.err, `gatehouse: unknown command '${typed}': did you mean '${nearest}'?\nRun 'gatehouse --help' for the commands.\n`);
    });
  }
});
