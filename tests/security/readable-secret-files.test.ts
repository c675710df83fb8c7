// A config file with secrets, the users file, a `_FILE` secret or auth.json that other accounts can read
// hands them the credentials. Both services say so at startup, naming the file and the chmod that fixes it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { stringify } from 'yaml';
import { loadGatewayConfig } from '../../gateway/config/load.ts';
import { runGateway } from '../../gateway/main.ts';
import { loadMonitorConfig } from '../../monitor/config/load.ts';
import { runMonitor } from '../../monitor/main.ts';
import { FAST_ARGON2, writeUsersFile } from '../helpers/inprocess-gateway.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { makeCertificate } from '../helpers/tls.ts';
import { generateSecret } from '../../lib/secret-strength.ts';

function output(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk.toString('utf8'));
      done();
    },
  });
  return { stream, text: () => chunks.join('') };
}

/** The `permissions:` warnings in the log text. */
function permissionWarnings(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { level: number; msg: string })
    .filter((record) => record.msg.startsWith('permissions:'))
    .map((record) => record.msg);
}

describe('the gateway warns at startup about credential files others can read', () => {
  it('0644: one warning per file (config with a secret, users file, _FILE secret), each naming chmod 600; 0600: none', async (t) => {
    const temp = await makeTempDir('gatehouse-perms-');
    t.after(temp.cleanup);
    const usersFile = join(temp.dir, 'users.yml');
    await writeUsersFile(usersFile, { alice: { password: 'correct horse battery staple' } });
    const configFile = join(temp.dir, 'gateway.yml');
    await writeFile(configFile, stringify({
      server: { address: 'tcp://127.0.0.1:0' },
      authentication_backend: { file: { path: usersFile, password: { argon2: FAST_ARGON2 } } },
      access_control: { default_policy: 'one_factor' },
      session: { cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }] },
      storage: { encryption_key: generateSecret(), local: { path: join(temp.dir, 'db.sqlite3') } },
    }));
    const secretFile = join(temp.dir, 'session_secret');
    await writeFile(secretFile, `${generateSecret()}\n`);
    const env = { GATEHOUSE_SESSION_SECRET_FILE: secretFile };

    const start = async () => {
      const out = output();
      const { gateway } = await runGateway(loadGatewayConfig({ files: [configFile], env }), out.stream);
      await gateway.close();
      return permissionWarnings(out.text());
    };

    for (const file of [configFile, usersFile, secretFile]) await chmod(file, 0o644);
    const open = await start();
    assert.equal(open.length, 3, open.join('\n'));
    for (const file of [configFile, usersFile, secretFile]) {
      assert.ok(open.some((w) => w.includes(`${file} holds credentials`) && w.includes('(mode 0644)') && w.endsWith(`chmod 600 ${file}`)), `no warning for ${file}`);
    }

    for (const file of [configFile, usersFile, secretFile]) await chmod(file, 0o600);
    assert.deepEqual(await start(), []);
  });
});

describe('the monitor warns at startup about an auth.json others can read', () => {
  it('0644 auth.json: a warning naming it; 0600: none', async (t) => {
    const temp = await makeTempDir('gatehouse-perms-monitor-');
    t.after(temp.cleanup);
    const dataDir = join(temp.dir, 'monitor');
    await mkdir(dataDir, { recursive: true });
    const authFile = join(dataDir, 'auth.json');
    await writeFile(authFile, JSON.stringify({ enabled: false, declined: true }));

    const start = async () => {
      const out = output();
      const monitor = await runMonitor(loadMonitorConfig({ files: [], env: {}, defaults: { data_dir: dataDir, server: { address: 'tcp://127.0.0.1:0' } } }), out.stream);
      await monitor.close();
      return permissionWarnings(out.text());
    };

    await chmod(authFile, 0o644);
    const open = await start();
    assert.equal(open.length, 1, open.join('\n'));
    assert.match(open[0]!, new RegExp(`${authFile} holds credentials .*every user on this machine.*chmod 600 ${authFile}$`));

    await chmod(authFile, 0o600);
    assert.deepEqual(await start(), []);
  });
});

/** A gateway config file for `usersFile` (secrets inline), with `extra` merged at the top level; the file itself 0600. */
async function gatewayConfigFile(dir: string, usersFile: string, extra: Record<string, unknown> = {}): Promise<string> {
  const configFile = join(dir, 'gateway.yml');
  await writeFile(configFile, stringify({
    server: { address: 'tcp://127.0.0.1:0' },
    authentication_backend: { file: { path: usersFile, password: { argon2: FAST_ARGON2 } } },
    access_control: { default_policy: 'one_factor' },
    session: { secret: generateSecret(), cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }] },
    storage: { encryption_key: generateSecret(), local: { path: join(dir, 'db.sqlite3') } },
    ...extra,
  }), { mode: 0o600 });
  return configFile;
}

async function startGatewayWarnings(configFile: string): Promise<string[]> {
  const out = output();
  const { gateway } = await runGateway(loadGatewayConfig({ files: [configFile], env: {} }), out.stream);
  await gateway.close();
  return permissionWarnings(out.text());
}

describe('the log file, which receives the setup link, is checked like a credential file', () => {
  it('gateway: a log.file_path that exists 0644 is named with chmod 600; 0600: no warning', async (t) => {
    const temp = await makeTempDir('gatehouse-perms-log-');
    t.after(temp.cleanup);
    const usersFile = join(temp.dir, 'users.yml');
    await writeUsersFile(usersFile, { alice: { password: 'correct horse battery staple' } });
    const logFile = join(temp.dir, 'gatehouse.log');
    await writeFile(logFile, '', { mode: 0o644 });
    await chmod(logFile, 0o644);
    const configFile = await gatewayConfigFile(temp.dir, usersFile, { log: { file_path: logFile, keep_stdout: true } });

    const open = await startGatewayWarnings(configFile);
    assert.equal(open.length, 1, open.join('\n'));
    assert.ok(open[0]!.includes(`${logFile} holds credentials`) && open[0]!.endsWith(`chmod 600 ${logFile}`), open[0]!);
    await chmod(logFile, 0o600);
    assert.deepEqual(await startGatewayWarnings(configFile), []);
  });

  it('monitor: the same for its log.file_path', async (t) => {
    const temp = await makeTempDir('gatehouse-perms-monitor-log-');
    t.after(temp.cleanup);
    const dataDir = join(temp.dir, 'monitor');
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await writeFile(join(dataDir, 'auth.json'), JSON.stringify({ enabled: false, declined: true }), { mode: 0o600 });
    const logFile = join(temp.dir, 'monitor.log');
    await writeFile(logFile, '');
    await chmod(logFile, 0o640);
    const out = output();
    const monitor = await runMonitor(loadMonitorConfig({ files: [], env: {}, defaults: { data_dir: dataDir, server: { address: 'tcp://127.0.0.1:0' }, log: { file_path: logFile, keep_stdout: true } } }), out.stream);
    await monitor.close();
    const warnings = permissionWarnings(out.text());
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0]!, new RegExp(`${logFile} holds credentials .*its group.*chmod 600 ${logFile}$`));
  });
});

describe("the users file's directory, if others can write it, lets them replace the file by a rename", () => {
  it('a directory writable by the group or others is named with chmod go-w; 0700: no warning', async (t) => {
    const temp = await makeTempDir('gatehouse-perms-dir-');
    t.after(temp.cleanup);
    const usersDir = join(temp.dir, 'users');
    await mkdir(usersDir);
    const usersFile = join(usersDir, 'users.yml');
    await writeUsersFile(usersFile, { alice: { password: 'correct horse battery staple' } });
    await chmod(usersFile, 0o600);
    const configFile = await gatewayConfigFile(temp.dir, usersFile);

    await chmod(usersDir, 0o775);
    const open = await startGatewayWarnings(configFile);
    assert.equal(open.length, 1, open.join('\n'));
    assert.ok(open[0]!.startsWith(`permissions: ${usersDir} holds a credential file and is writable by its group (mode 0775)`), open[0]!);
    assert.ok(open[0]!.endsWith(`chmod go-w ${usersDir}`), open[0]!);

    await chmod(usersDir, 0o700);
    assert.deepEqual(await startGatewayWarnings(configFile), []);
  });
});

describe("the monitor's TLS key chosen from the dashboard (ssl_config.json) is checked too", () => {
  it('a key others can read is named with chmod 600; 0600: no warning', async (t) => {
    const temp = await makeTempDir('gatehouse-perms-ssl-');
    t.after(temp.cleanup);
    const cert = await makeCertificate(['127.0.0.1']);
    t.after(cert.cleanup);
    const dataDir = join(temp.dir, 'monitor');
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    await writeFile(join(dataDir, 'auth.json'), JSON.stringify({ enabled: false, declined: true }), { mode: 0o600 });
    await writeFile(join(dataDir, 'ssl_config.json'), JSON.stringify({ enabled: true, source: 'custom', cert_path: cert.certPath, key_path: cert.keyPath }), { mode: 0o600 });
    const start = async () => {
      const out = output();
      const monitor = await runMonitor(loadMonitorConfig({ files: [], env: {}, defaults: { data_dir: dataDir, server: { address: 'tcp://127.0.0.1:0' } } }), out.stream);
      await monitor.close();
      return permissionWarnings(out.text());
    };

    await chmod(cert.keyPath, 0o644);
    const open = await start();
    assert.equal(open.length, 1, open.join('\n'));
    assert.ok(open[0]!.includes(`${cert.keyPath} holds credentials`) && open[0]!.endsWith(`chmod 600 ${cert.keyPath}`), open[0]!);
    await chmod(cert.keyPath, 0o600);
    assert.deepEqual(await start(), []);
  });
});
