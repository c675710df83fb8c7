/**
 * `gatehouse monitor …` as an operator runs it: --help, validate, and reset-password, which forgets
 * only the interactive login (as ProxMenux's menu does) and keeps what scripts depend on.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { startMonitor } from '../../monitor/app.ts';
import { parseMonitorConfig } from '../../monitor/config/load.ts';
import { request } from '../helpers/http.ts';
import { freePort } from '../helpers/ports.ts';
import { repoPath, repoRoot } from '../helpers/repo.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const run = promisify(execFile);
const CLI = repoPath('bin', 'gatehouse.ts');

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { cwd: repoRoot, env: { ...process.env, GATEHOUSE_MONITOR_CONFIG: '' } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('gatehouse monitor (command line)', () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  let configPath: string;
  before(async () => {
    temp = await makeTempDir('gatehouse-monitor-cli-');
    configPath = join(temp.dir, 'monitor.yml');
    await writeFile(configPath, `server: { address: 'tcp://127.0.0.1:${await freePort()}' }\ndata_dir: '${join(temp.dir, 'data')}'\nlog: { level: warn }\n`);
  });
  after(() => temp?.cleanup());

  it('--help describes every subcommand and exits 0', async () => {
    const result = await cli(['monitor', '--help']);
    assert.equal(result.code, 0);
    for (const word of ['validate', 'schema', 'reset-password']) assert.match(result.stdout, new RegExp(word));
  });

  it('validate: config: OK for a good file, exit 2 and the problem for a bad one', async () => {
    assert.deepEqual((await cli(['monitor', 'validate', '--config', configPath])).stdout, 'config: OK\n');
    const bad = join(temp.dir, 'bad.yml');
    await writeFile(bad, 'terminal: { shel: /bin/sh }\n');
    const result = await cli(['monitor', 'validate', '--config', bad]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^config: terminal\.shel: unknown key/m);
  });

  it('reset-password forgets the login and 2FA, keeps the JWT secret, API tokens and revocations, and backs up auth.json (0600)', async () => {
    const { config } = parseMonitorConfig({ server: { address: 'tcp://127.0.0.1:0' }, data_dir: join(temp.dir, 'data'), log: { level: 'warn' } });
    const monitor = await startMonitor(config, { logger: pino({ level: 'silent' }), argon2: { memory: 1024, iterations: 1, parallelism: 1 } });
    let apiToken = '';
    try {
      const setup = await request(`${monitor.url}/api/auth/setup`, { method: 'POST', json: { username: 'operator', password: 'Operator-pass-2026', setup_code: monitor.setupCode() } });
      assert.equal(setup.status, 200, setup.body);
      const session = setup.json<{ token: string }>().token;
      const made = await request(`${monitor.url}/api/auth/generate-api-token`, {
        method: 'POST',
        json: { password: 'Operator-pass-2026', token_name: 'homepage', scope: 'read_only' },
        headers: { authorization: `Bearer ${session}` },
      });
      assert.equal(made.status, 200, made.body);
      apiToken = made.json<{ token: string }>().token;
    } finally {
      await monitor.close();
    }
    const authPath = join(temp.dir, 'data', 'auth.json');
    const before = JSON.parse(await readFile(authPath, 'utf8')) as Record<string, unknown>;

    const result = await cli(['monitor', 'reset-password', '--config', configPath]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /the login was reset/);

    const after = JSON.parse(await readFile(authPath, 'utf8')) as Record<string, unknown>;
    assert.equal(after.username, null);
    assert.equal(after.password_hash, null);
    assert.equal(after.configured, false);
    assert.equal(after.totp_enabled, false);
    assert.equal(after.jwt_secret, before.jwt_secret);
    assert.deepEqual(after.api_tokens, before.api_tokens);
    assert.deepEqual(after.revoked_tokens, before.revoked_tokens);
    assert.equal(after.session_generation, (before.session_generation as number) + 1, 'every session of the old login ends');
    assert.equal((await stat(authPath)).mode & 0o777, 0o600);
    const backups = (await readdir(join(temp.dir, 'data'))).filter((name) => name.startsWith('auth.json.bak-'));
    assert.equal(backups.length, 1);
    assert.equal((await stat(join(temp.dir, 'data', backups[0]!))).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(await readFile(join(temp.dir, 'data', backups[0]!), 'utf8')), before);

    // the script's token still works after the reset, and setup is offered again
    const again = await startMonitor(config, { logger: pino({ level: 'silent' }) });
    try {
      assert.equal((await request(`${again.url}/api/system`, { headers: { authorization: `Bearer ${apiToken}` } })).status, 200);
      assert.equal((await request(`${again.url}/api/auth/status`)).json<{ auth_configured: boolean }>().auth_configured, false);
      assert.match(again.setupCode() ?? '', /^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/, 'a new setup code for the new login');
    } finally {
      await again.close();
    }
  });

  it('reset-password refuses to touch a corrupt auth.json', async () => {
    const dir = join(temp.dir, 'corrupt');
    const conf = join(temp.dir, 'corrupt.yml');
    await writeFile(conf, `data_dir: '${dir}'\n`);
    await import('node:fs/promises').then((fs) => fs.mkdir(dir, { recursive: true }));
    await writeFile(join(dir, 'auth.json'), '{ "username": "operator", "password_hash": ');
    const result = await cli(['monitor', 'reset-password', '--config', conf]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /auth\.json is unreadable/);
    assert.equal(await readFile(join(dir, 'auth.json'), 'utf8'), '{ "username": "operator", "password_hash": ');
    assert.deepEqual((await readdir(dir)).filter((n) => n.includes('.bak-')), []);
  });
});
