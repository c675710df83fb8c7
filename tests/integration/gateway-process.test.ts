// The gateway as a process, as systemd, Docker and `npm start` run it: clean shutdown on SIGTERM,
// configuration errors on stderr with exit code 2, and the embedded default's first run.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { startGatewayProcess } from '../helpers/gateway.ts';
import { request } from '../helpers/http.ts';
import { FAST_ARGON2, writeUsersFile } from '../helpers/inprocess-gateway.ts';
import { freePort } from '../helpers/ports.ts';
import { startService, waitForOutput, type ServiceProcess } from '../helpers/processes.ts';
import { repoPath, repoRoot } from '../helpers/repo.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const CLI = repoPath('bin', 'gatehouse.ts');

function portIsClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stdout, stderr });
    });
  });
}


describe('SIGTERM stops the gateway cleanly', () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    temp = await makeTempDir('gatehouse-process-');
  });
  after(() => temp?.cleanup());

  it('exits 0 within a few seconds, even with an idle keep-alive connection open, and the port is closed', async () => {
    const port = await freePort();
    await writeUsersFile(join(temp.dir, 'users.yml'), { alice: { password: 'correct horse battery staple' } });
    const gateway = await startGatewayProcess({
      dir: temp.dir,
      configYaml: stringify({
        server: { address: `tcp://127.0.0.1:${port}` },
        log: { level: 'info' },
        authentication_backend: { file: { path: join(temp.dir, 'users.yml'), password: { argon2: FAST_ARGON2 } } },
        session: { secret: 'hV3kPz8QmW2rT6yN9cLb4XjD7fGs5AeU', cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }] },
        storage: { encryption_key: 'an-encryption-key-long-enough', local: { path: join(temp.dir, 'db.sqlite3') } },
        access_control: { default_policy: 'one_factor' },
      }),
    });
    try {
      // a proxy's pooled upstream connection, idle when the signal arrives
      const agent = new Agent({ keepAlive: true });
      await new Promise<void>((resolve, reject) => {
        httpRequest({ host: '127.0.0.1', port, path: '/api/health', agent }, (res) => {
          res.resume();
          res.on('end', resolve);
        }).on('error', reject).end();
      });

      const started = Date.now();
      process.kill(gateway.pid, 'SIGTERM');
      const timeout = new Promise<'timeout'>((resolve) => setTimeout(resolve, 4_000, 'timeout').unref());
      const result = await Promise.race([gateway.exited, timeout]);
      assert.notEqual(result, 'timeout', `still running 4 s after SIGTERM:\n${gateway.logs()}`);
      assert.deepEqual(result, { code: 0, signal: null }, gateway.logs());
      assert.ok(Date.now() - started < 4_000);
      assert.ok(await portIsClosed(port), 'nothing listens on the port any more');
      assert.match(gateway.logs(), /shutting down/);
      // said out loud at every start: the test's cheap argon2 parameters are weaker than the defaults
      assert.match(gateway.logs(), /config: authentication_backend\.file\.password\.argon2: is weaker than the default/);
      agent.destroy();
    } finally {
      await gateway.stop();
    }
  });
});

describe('a bad configuration is refused at startup', () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    temp = await makeTempDir('gatehouse-badconfig-');
  });
  after(() => temp?.cleanup());

  it('exit code 2, every problem as a `config: <path>: …` line on stderr, no stack trace, nothing listening', async () => {
    const port = await freePort();
    const file = join(temp.dir, 'gateway.yml');
    await writeFile(
      file,
      stringify({
        server: { address: `tcp://127.0.0.1:${port}` },
        sesion: { secret: 'typo' },
        session: { cookies: [{ domain: 'example.test', authelia_url: 'http://auth.example.test/' }] },
        storage: { encryption_key: 'short' },
        regulation: { max_retries: 'three' },
      }),
    );
    const result = await runCli(['gateway', '--config', file]);
    assert.equal(result.code, 2, result.stderr);
    const lines = result.stderr.trim().split('\n');
    assert.ok(lines.length >= 4, `every problem at once:\n${result.stderr}`);
    for (const line of lines) assert.match(line, /^config: \S.*: /, `not a config line: ${line}`);
    const text = result.stderr;
    assert.match(text, /config: sesion: unknown key/);
    assert.match(text, /config: regulation\.max_retries: /);
    assert.match(text, /authelia_url: 'http:\/\/auth\.example\.test\/' must use https/);
    assert.doesNotMatch(text, /\n\s+at /, 'no stack trace');
    assert.ok(await portIsClosed(port));
  });

  it('a missing config file: exit 2 naming the file', async () => {
    const result = await runCli(['gateway', '--config', join(temp.dir, 'nope.yml')]);
    assert.equal(result.code, 2);
    assert.match(result.stderr, /^config: .*nope\.yml: cannot read the file \(ENOENT\)/m);
  });
});

describe('`gatehouse start` with no configuration (the embedded default)', () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  let running: ServiceProcess | null = null;
  let port: number;
  let monitorPort: number;

  const start = async () => {
    running = startService('gatehouse start', process.execPath, [CLI, 'start'], {
      cwd: repoRoot,
      env: {
        ...process.env,
        GATEHOUSE_DATA: join(temp.dir, 'data'),
        GATEHOUSE_SERVER_ADDRESS: `tcp://127.0.0.1:${port}`,
        GATEHOUSE_MONITOR_SERVER_ADDRESS: `tcp://127.0.0.1:${monitorPort}`,
      },
    });
    return running;
  };
  const stop = async () => {
    const service = running;
    running = null;
    if (!service) return;
    await service.stop();
    assert.deepEqual(await service.exited, { code: 0, signal: null }, service.output());
  };

  before(async () => {
    temp = await makeTempDir('gatehouse-start-');
    port = await freePort();
    monitorPort = await freePort();
  });
  after(async () => {
    await running?.stop();
    await temp?.cleanup();
  });

  let firstSecrets = '';
  let firstMtime = 0;
  let printedUrl = '';

  it('first run: prints a one-time setup URL, and writes secrets.json with mode 0600', async () => {
    const service = await start();
    const match = await waitForOutput(service, /first run: no user exists yet\. Create the administrator at (\S+)/);
    printedUrl = match[1]!;
    const url = new URL(printedUrl);
    // the dashboard (the monitor) has the host's root; the portal lives under /auth/
    assert.equal(url.pathname, '/auth/setup');
    assert.ok((url.searchParams.get('token') ?? '').length >= 20);

    const secretsPath = join(temp.dir, 'data', 'secrets.json');
    const info = await stat(secretsPath);
    assert.equal(info.mode & 0o777, 0o600);
    firstSecrets = await readFile(secretsPath, 'utf8');
    firstMtime = info.mtimeMs;
    const secrets = JSON.parse(firstSecrets) as Record<string, string>;
    assert.ok((secrets.session_secret ?? '').length >= 32 && (secrets.storage_encryption_key ?? '').length >= 32);

    // the token works on the port the gateway actually listens on
    const page = await request(`http://localhost:${port}/auth/setup${url.search}`);
    assert.equal(page.status, 200);
    assert.match(page.body, /Create the administrator/);
    await stop();
  });

  it('the printed setup URL points at the port the gateway listens on', () => {
    assert.equal(new URL(printedUrl).port, String(port));
  });

  it('a second start reuses the same secrets (the file is untouched)', async () => {
    assert.ok(firstSecrets, 'the first-run test ran');
    const service = await start();
    await waitForOutput(service, /first run: no user exists yet/);
    const secretsPath = join(temp.dir, 'data', 'secrets.json');
    assert.equal(await readFile(secretsPath, 'utf8'), firstSecrets);
    assert.equal((await stat(secretsPath)).mtimeMs, firstMtime);
    await stop();
  });
});
