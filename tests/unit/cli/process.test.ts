import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoPath, repoRoot } from '../../helpers/repo.ts';
import { makeTempDir } from '../../helpers/tmp.ts';

/** Runs `node bin/gatehouse.ts <args>` as a real process, with no GATEHOUSE_* variables from the runner. */
function runBin(args: string[], dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [repoPath('bin', 'gatehouse.ts'), ...args], {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? '', GATEHOUSE_DATA: dataDir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

let dir: string;
let cleanup: () => Promise<void>;
before(async () => {
  ({ dir, cleanup } = await makeTempDir('gatehouse-bin-'));
});
after(() => cleanup());

describe('bin/gatehouse.ts as a real process', () => {
  it('config validate on a bad file: exit code 2 and the problems on stderr', async () => {
    const bad = join(dir, 'bad.yml');
    await writeFile(bad, `
authentication_backend:
  file:
    path: ${dir}/users.yml
access_control:
  default_policy: one_factor
session:
  cookies:
    - domain: example.com
      authelia_url: http://auth.example.com
storage:
  encryption_key: short
  local:
    path: ${dir}/db.sqlite3
`);
    const r = await runBin(['config', 'validate', '--config', bad], join(dir, 'data'));
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    assert.equal(
      r.err,
      "config: session.cookies[0].authelia_url: 'http://auth.example.com' must use https (plain http is accepted only for localhost)\n"
        + 'config: storage.encryption_key: must be at least 20 characters; generate one with: gatehouse crypto rand --length 64 --charset alphanumeric (or put it in a file named by GATEHOUSE_STORAGE_ENCRYPTION_KEY_FILE)\n',
    );
  });

  it('config validate on the shipped example, its secrets in files as it says: exit code 0', async () => {
    const secrets: NodeJS.ProcessEnv = {};
    for (const name of ['SESSION_SECRET', 'STORAGE_ENCRYPTION_KEY']) {
      const path = join(dir, name.toLowerCase());
      const made = await runBin(['crypto', 'rand', '--length', '64', '--charset', 'alphanumeric'], join(dir, 'data'));
      assert.equal(made.code, 0, made.err);
      await writeFile(path, made.out, { mode: 0o600 });
      secrets[`GATEHOUSE_${name}_FILE`] = path;
    }
    const r = await runBin(['config', 'validate', '--config', repoPath('config', 'gateway.yml')], join(dir, 'data'), secrets);
    assert.deepEqual(r, { code: 0, out: 'config: OK\n', err: '' });
  });
});
