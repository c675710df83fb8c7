// V8's linear-time regular-expression engine is behind a process-wide flag. The entry point sets it at
// startup, in plain sight; importing the rules changes nothing, and without the flag a pattern that
// needs the engine is refused (never run on the backtracking engine), naming the flag.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { LINEAR_ENGINE_FLAG } from '../../../gateway/authz/linear-regex.ts';
import { repoPath, repoRoot } from '../../helpers/repo.ts';
import { makeTempDir } from '../../helpers/tmp.ts';

// could backtrack on the default engine: it needs the linear one
const RISKY = '^/api/(\\w+/?)*$';

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd: repoRoot, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('the linear regex engine is turned on at startup, not on import', () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    temp = await makeTempDir('gatehouse-linear-');
  });
  after(() => temp?.cleanup());

  it('importing the access-control rules leaves V8 as it was, and a risky pattern is then refused naming the flag', async () => {
    const rules = pathToFileURL(repoPath('gateway', 'authz', 'rules.ts')).href;
    const script = `
      const { compileAccessControl } = await import(${JSON.stringify(rules)});
      let engine = true;
      try { new RegExp('a', 'l'); } catch { engine = false; }
      let refusal = '';
      try {
        compileAccessControl({ default_policy: 'deny', networks: [], rules: [{ domain: ['app.example.test'], resources: [${JSON.stringify(RISKY)}], policy: 'one_factor' }] });
      } catch (error) { refusal = error.message; }
      process.stdout.write(JSON.stringify({ engine, refusal }));`;
    const result = await run(['--input-type=module', '-e', script]);
    assert.equal(result.code, 0, result.stderr);
    const { engine, refusal } = JSON.parse(result.stdout) as { engine: boolean; refusal: string };
    assert.equal(engine, false, 'importing the rules turned the linear engine on');
    assert.match(refusal, new RegExp(`resources.*${LINEAR_ENGINE_FLAG}`));
  });

  it('gatehouse (bin/gatehouse.ts) sets it before any command: access-control check accepts and applies the risky pattern', async () => {
    const config = join(temp.dir, 'gateway.yml');
    await writeFile(
      config,
      stringify({
        server: { address: 'tcp://127.0.0.1:9091' },
        authentication_backend: { file: { path: join(temp.dir, 'users.yml') } },
        session: { secret: 'hV3kPz8QmW2rT6yN9cLb4XjD7fGs5AeU', cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }] },
        storage: { encryption_key: 'an-encryption-key-long-enough', local: { path: join(temp.dir, 'db.sqlite3') } },
        access_control: { default_policy: 'deny', rules: [{ domain: 'app.example.test', resources: [RISKY], policy: 'bypass' }] },
      }),
      { mode: 0o600 },
    );
    const result = await run([repoPath('bin', 'gatehouse.ts'), 'access-control', 'check', '--config', config, '--url', 'https://app.example.test/api/a/b/']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /policy: bypass \(rule #1\)/);
  });
});
