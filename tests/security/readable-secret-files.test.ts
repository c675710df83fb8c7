// A config file with secrets, the users file, a `_FILE` secret or auth.json that other accounts can read
// hands them the credentials. Both services say so at startup, naming the file and the chmod that fixes it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
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
      storage: { encryption_key: randomBytes(32).toString('base64url'), local: { path: join(temp.dir, 'db.sqlite3') } },
    }));
    const secretFile = join(temp.dir, 'session_secret');
    await writeFile(secretFile, `${randomBytes(32).toString('base64url')}\n`);
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
