// A lighter process. Code loaded stays resident for the life of the process, so the gateway loads a
// driver, client or library only when its configuration uses it: a gateway on SQLite with in-memory
// sessions carries no PostgreSQL driver, Redis client, Prometheus, proxy, JWT library or monitor.
// And V8's young generation stays at its initial size instead of growing for good under load,
// unless the operator sized it; and the installed command never loads Node's TypeScript stripper
// once its compile cache is warm. The gateway runs as `gatehouse gateway` does, with a preload that
// reports what it loaded and how large its heap spaces were when it exited.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { keepYoungGenerationSmall } from '../../lib/young-generation.ts';
import { startGatewayProcess } from '../helpers/gateway.ts';
import { request } from '../helpers/http.ts';
import { FAST_ARGON2, writeUsersFile } from '../helpers/inprocess-gateway.ts';
import { freePort } from '../helpers/ports.ts';
import { packagesIn, readProcessReport, type ProcessReport } from '../helpers/process-report.ts';
import { repoPath } from '../helpers/repo.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const PRELOAD = pathToFileURL(repoPath('tests', 'helpers', 'process-report.ts')).href;
const INTERNAL_MODULES_PRELOAD = pathToFileURL(repoPath('tests', 'helpers', 'internal-modules.mjs')).href;
const MB = 1024 * 1024;

/**
 * Runs the gateway with `extra` merged into a SQLite / in-memory-sessions configuration, asks it
 * `questions` forward-auth questions, stops it, and returns its report.
 */
async function runGateway(dir: string, name: string, options: { extra?: Record<string, unknown>; nodeOptions?: string; questions?: number } = {}): Promise<ProcessReport> {
  const report = join(dir, `${name}.json`);
  await gatewayRun(dir, name, { ...options, env: { NODE_OPTIONS: `--import ${PRELOAD} ${options.nodeOptions ?? ''}`, PROCESS_REPORT_FILE: report } });
  return readProcessReport(report);
}

async function gatewayRun(
  dir: string,
  name: string,
  options: { extra?: Record<string, unknown>; questions?: number; env: NodeJS.ProcessEnv; entry?: 'gatehouse.ts' | 'gatehouse.js' },
): Promise<void> {
  const port = await freePort();
  const gateway = await startGatewayProcess({
    dir,
    env: options.env,
    ...(options.entry ? { entry: options.entry } : {}),
    configYaml: stringify({
      server: { address: `tcp://127.0.0.1:${port}` },
      log: { level: 'warn' },
      authentication_backend: { file: { path: join(dir, 'users.yml'), password: { argon2: FAST_ARGON2 } } },
      session: { secret: 'hV3kPz8QmW2rT6yN9cLb4XjD7fGs5AeU', cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }] },
      storage: { encryption_key: 'an-encryption-key-long-enough', local: { path: join(dir, `${name}.sqlite3`) } },
      access_control: { default_policy: 'one_factor' },
      ...options.extra,
    }),
  });
  try {
    for (let i = 0; i < (options.questions ?? 0); i++) {
      const answer = await request(`${gateway.url}/api/authz/auth-request`, { headers: { 'x-original-url': `https://app.example.test/page/${i}`, 'x-original-method': 'GET' } });
      assert.equal(answer.status, 401);
    }
  } finally {
    await gateway.stop();
  }
  const exit = await gateway.exited;
  assert.equal(exit.code, 0, gateway.logs());
}

describe('a lighter gateway process', () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    temp = await makeTempDir('gatehouse-weight-');
    await writeUsersFile(join(temp.dir, 'users.yml'), { alice: { password: 'correct horse battery staple' } });
  });
  after(() => temp?.cleanup());

  describe('the gateway loads only what its configuration uses', () => {
    it('SQLite, in-memory sessions, no metrics, no upstreams, no identity assertion: none of the unused drivers and clients', async () => {
      const loaded = await runGateway(temp.dir, 'plain');
      const packages = packagesIn(loaded.urls);
      // what it does use is loaded (the preload sees through require and import alike)
      for (const used of ['kysely', 'better-sqlite3', 'express', 'express-session']) assert.ok(packages.has(used), `${used} should be loaded`);
      for (const unused of ['pg', 'ioredis', 'connect-redis', 'prom-client', 'jose', 'http-proxy-middleware', 'node-pty', 'ws', 'qrcode', 'otplib', '@simplewebauthn/server']) {
        assert.ok(!packages.has(unused), `${unused} is loaded though the configuration does not use it`);
      }
      const monitor = loaded.urls.filter((url) => url.startsWith(pathToFileURL(repoPath('monitor')).href));
      assert.deepEqual(monitor, [], 'the monitor is loaded though only the gateway runs');
      // an ESM import of node:http builds its namespace, whose WebSocket getters load Node's bundled fetch client
      assert.ok(!loaded.internal.some((name) => name.includes('internal/deps/undici')), "Node's bundled fetch client (undici) is loaded");
    });

    it('a configured feature still loads its module: telemetry.metrics → prom-client, identity_assertion → jose', async () => {
      const loaded = await runGateway(temp.dir, 'featured', {
        extra: {
          telemetry: { metrics: { enabled: true, address: `tcp://127.0.0.1:${await freePort()}` } },
          identity_assertion: { audiences: { 'app.example.test': 'app' }, key_path: join(temp.dir, 'assertion-key.pem') },
        },
      });
      const packages = packagesIn(loaded.urls);
      for (const used of ['prom-client', 'jose']) assert.ok(packages.has(used), `${used} should be loaded`);
    });
  });

  describe("V8's young generation stays at its initial size (lib/young-generation.ts)", () => {
    it('after start-up and 300 forward-auth questions the new space is still at most 2 MB (two 1 MB semi-spaces)', async () => {
      const { heapSpaces } = await runGateway(temp.dir, 'young', { questions: 300 });
      assert.ok(heapSpaces.new_space! <= 2 * MB, `new space ${(heapSpaces.new_space! / MB).toFixed(1)} MB`);
    });

    it("an operator's --max-semi-space-size wins: the new space grows as V8 would grow it", async () => {
      const { heapSpaces } = await runGateway(temp.dir, 'sized', { nodeOptions: '--max-semi-space-size=8', questions: 300 });
      assert.ok(heapSpaces.new_space! > 2 * MB, `new space ${(heapSpaces.new_space! / MB).toFixed(1)} MB`);
    });

    it('the operator’s choice is seen on the command line and in NODE_OPTIONS alike', () => {
      assert.equal(keepYoungGenerationSmall(['--max-semi-space-size=16'], ''), false);
      assert.equal(keepYoungGenerationSmall([], '--inspect --min-semi-space-size=4'), false);
      assert.equal(keepYoungGenerationSmall(['--max-semi-space-sizes'], '--max-old-space-size=256'), true);
    });
  });

  describe('the installed command (bin/gatehouse.js) runs from the compile cache', () => {
    it("from the second start on, Node's TypeScript stripper is never loaded", async () => {
      const internalModules = join(temp.dir, 'internal-modules.json');
      const env = { NODE_OPTIONS: `--import ${INTERNAL_MODULES_PRELOAD}`, INTERNAL_MODULES_FILE: internalModules };
      const stripper = async () => (JSON.parse(await readFile(internalModules, 'utf8')) as string[]).some((name) => name.includes('internal/deps/amaro'));
      // the first start fills the cache (unless an earlier run did)
      await gatewayRun(temp.dir, 'cache-first', { env, entry: 'gatehouse.js', questions: 1 });
      await gatewayRun(temp.dir, 'cache-second', { env, entry: 'gatehouse.js', questions: 1 });
      assert.equal(await stripper(), false, "the second start loaded Node's TypeScript stripper");
      // bin/gatehouse.ts has no cache in front of it: the stripper is there (the check sees it)
      await gatewayRun(temp.dir, 'no-cache', { env, entry: 'gatehouse.ts', questions: 1 });
      assert.equal(await stripper(), true);
    });
  });
});
