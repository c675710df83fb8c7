// A lighter process: the gateway loads a driver, client or library only when its configuration uses
// it. Each megabyte of code loaded stays resident for the life of the process, so a gateway on SQLite
// with in-memory sessions must not carry the PostgreSQL driver, the Redis client, Prometheus, the
// proxy, the JWT library or the monitor. The gateway runs as `gatehouse gateway` does, with a preload
// that lists what it loaded when it exits.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { stringify } from 'yaml';
import { startGatewayProcess } from '../helpers/gateway.ts';
import { FAST_ARGON2, writeUsersFile } from '../helpers/inprocess-gateway.ts';
import { packagesIn, readLoadedModules, type LoadedModules } from '../helpers/loaded-modules.ts';
import { freePort } from '../helpers/ports.ts';
import { repoPath } from '../helpers/repo.ts';
import { makeTempDir } from '../helpers/tmp.ts';

const PRELOAD = pathToFileURL(repoPath('tests', 'helpers', 'loaded-modules.ts')).href;

/** Runs the gateway with `extra` merged into a SQLite / in-memory-sessions configuration, stops it, and says what it loaded. */
async function modulesLoadedBy(dir: string, name: string, extra: Record<string, unknown> = {}): Promise<LoadedModules> {
  const port = await freePort();
  const report = join(dir, `${name}.json`);
  const gateway = await startGatewayProcess({
    dir,
    env: { NODE_OPTIONS: `--import ${PRELOAD}`, LOADED_MODULES_REPORT: report },
    configYaml: stringify({
      server: { address: `tcp://127.0.0.1:${port}` },
      log: { level: 'warn' },
      authentication_backend: { file: { path: join(dir, 'users.yml'), password: { argon2: FAST_ARGON2 } } },
      session: { secret: 'hV3kPz8QmW2rT6yN9cLb4XjD7fGs5AeU', cookies: [{ domain: 'example.test', authelia_url: 'https://auth.example.test/' }] },
      storage: { encryption_key: 'an-encryption-key-long-enough', local: { path: join(dir, `${name}.sqlite3`) } },
      access_control: { default_policy: 'one_factor' },
      ...extra,
    }),
  });
  await gateway.stop();
  const exit = await gateway.exited;
  assert.equal(exit.code, 0, gateway.logs());
  return readLoadedModules(report);
}

describe('the gateway loads only what its configuration uses', () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    temp = await makeTempDir('gatehouse-loads-');
    await writeUsersFile(join(temp.dir, 'users.yml'), { alice: { password: 'correct horse battery staple' } });
  });
  after(() => temp?.cleanup());

  it('SQLite, in-memory sessions, no metrics, no upstreams, no identity assertion: none of the unused drivers and clients', async () => {
    const loaded = await modulesLoadedBy(temp.dir, 'plain');
    const packages = packagesIn(loaded.urls);
    // what it does use is loaded (the preload sees through require and import alike)
    for (const used of ['kysely', 'better-sqlite3', 'express', 'express-session']) assert.ok(packages.has(used), `${used} should be loaded`);
    for (const unused of ['pg', 'ioredis', 'connect-redis', 'prom-client', 'jose', 'http-proxy-middleware', 'node-pty', 'ws', 'qrcode', 'otplib']) {
      assert.ok(!packages.has(unused), `${unused} is loaded though the configuration does not use it`);
    }
    const monitor = loaded.urls.filter((url) => url.startsWith(pathToFileURL(repoPath('monitor')).href));
    assert.deepEqual(monitor, [], 'the monitor is loaded though only the gateway runs');
    // an ESM import of node:http builds its namespace, whose WebSocket getters load Node's bundled fetch client
    assert.ok(!loaded.internal.some((name) => name.includes('internal/deps/undici')), "Node's bundled fetch client (undici) is loaded");
  });

  it('a configured feature still loads its module: telemetry.metrics → prom-client, identity_assertion → jose', async () => {
    const loaded = await modulesLoadedBy(temp.dir, 'featured', {
      telemetry: { metrics: { enabled: true, address: `tcp://127.0.0.1:${await freePort()}` } },
      identity_assertion: { audiences: { 'app.example.test': 'app' }, key_path: join(temp.dir, 'assertion-key.pem') },
    });
    const packages = packagesIn(loaded.urls);
    for (const used of ['prom-client', 'jose']) assert.ok(packages.has(used), `${used} should be loaded`);
  });
});
