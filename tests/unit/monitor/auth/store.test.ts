/** auth.json: defaults on first run, ProxMenux files, atomic 0600 writes under one lock, fail closed. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AuthStore, AuthStoreUnavailable } from '../../../../monitor/auth/store.ts';
import { makeTempDir } from '../../../helpers/tmp.ts';

async function mode(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

describe('a missing auth.json', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await makeTempDir()));
  after(() => cleanup());

  it('starts unconfigured with a fresh 48-byte jwt_secret, persisted 0600', async () => {
    const store = new AuthStore({ dataDir: join(dir, 'data') });
    const state = await store.read();
    assert.equal(state.enabled, false);
    assert.equal(state.configured, false);
    assert.equal(Buffer.from(state.jwt_secret, 'base64url').length, 48);
    const file = JSON.parse(await readFile(store.path, 'utf8'));
    assert.equal(file.jwt_secret, state.jwt_secret);
    assert.equal(await mode(store.path), 0o600);
    assert.equal((await new AuthStore({ dataDir: join(dir, 'data') }).read()).jwt_secret, state.jwt_secret, 'the secret survives a restart');
  });

  it('gives two concurrent first readers the same secret', async () => {
    const store = new AuthStore({ dataDir: join(dir, 'race') });
    const [a, b] = await Promise.all([store.read(), store.read()]);
    assert.equal(a.jwt_secret, b.jwt_secret);
  });
});

describe('a ProxMenux auth.json', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await makeTempDir()));
  after(() => cleanup());

  it('loads with its keys, keeps unknown ones, derives `configured`, adds a jwt_secret and tightens the mode', async () => {
    const path = join(dir, 'auth.json');
    await writeFile(
      path,
      JSON.stringify({ enabled: false, declined: true, username: '', password_hash: '', totp_secret: null, backup_codes: [], api_tokens: [], revoked_tokens: ['ab'], future_key: { x: 1 } }),
      { mode: 0o644 },
    );
    await chmod(path, 0o644);
    const store = new AuthStore({ dataDir: dir });
    const state = await store.read();
    assert.equal(state.configured, true);
    assert.equal(state.username, null, '"" means none');
    assert.deepEqual(state.revoked_tokens, ['ab']);
    const file = JSON.parse(await readFile(path, 'utf8'));
    assert.deepEqual(file.future_key, { x: 1 });
    assert.ok(file.jwt_secret.length >= 64);
    assert.equal(await mode(path), 0o600);
  });
});

describe('updates', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await makeTempDir()));
  after(() => cleanup());

  it('serialise read-modify-write: 50 concurrent increments all land', async () => {
    const store = new AuthStore({ dataDir: dir });
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        store.update(async (draft) => {
          await new Promise((resolve) => setTimeout(resolve, i % 3));
          draft.revoked_tokens.push(String(i));
        }),
      ),
    );
    const file = JSON.parse(await readFile(store.path, 'utf8'));
    assert.equal(file.revoked_tokens.length, 50);
    assert.equal(await mode(store.path), 0o600);
  });

  it('write nothing when the change throws or changes nothing', async () => {
    const store = new AuthStore({ dataDir: dir });
    const before = await stat(store.path);
    await assert.rejects(store.update((draft) => {
      draft.display_name = 'x';
      throw new Error('no');
    }));
    await store.update(() => {});
    const afterStat = await stat(store.path);
    assert.equal(afterStat.ino, before.ino);
    assert.equal((await store.read()).display_name, null);
  });

  it('drop revoked jtis once they would have expired anyway', async () => {
    let now = Date.now();
    const store = new AuthStore({ dataDir: join(dir, 'prune'), now: () => now });
    await store.update((d) => {
      d.revoked_jtis.push({ jti: 'a', expires_at: Math.floor(now / 1000) + 10 });
    });
    now += 11_000;
    await store.update((d) => {
      d.display_name = 'y';
    });
    assert.deepEqual((await store.read()).revoked_jtis, []);
  });
});

describe('fail closed', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  before(async () => ({ dir, cleanup } = await makeTempDir()));
  after(() => cleanup());

  for (const [what, content, detail] of [
    ['invalid JSON', '{"enabled": tr', 'it is not valid JSON'],
    ['a wrong type', '{"backup_codes": "none"}', 'backup_codes: expected array'],
    ['a non-object', '"auth"', 'it must hold a JSON object'],
  ] as const) {
    it(`throws AuthStoreUnavailable for ${what}, naming the file, and never rewrites it`, async () => {
      const sub = join(dir, what.replaceAll(' ', '-'));
      await mkdir(sub);
      const path = join(sub, 'auth.json');
      await writeFile(path, content);
      const store = new AuthStore({ dataDir: sub });
      for (const attempt of [() => store.read(), () => store.update((d) => void (d.enabled = false))]) {
        await assert.rejects(attempt(), (error: unknown) => {
          assert.ok(error instanceof AuthStoreUnavailable);
          assert.equal(error.code, 'auth_store_unavailable');
          assert.equal(error.message, `The monitor's account file ${path} is unreadable; fix or restore it (${error.detail})`);
          assert.match(error.detail, new RegExp(detail));
          return true;
        });
      }
      assert.equal(await readFile(path, 'utf8'), content);
      assert.ok((await store.problem()) instanceof AuthStoreUnavailable);
    });
  }

  it('does not quote the file in the error (JSON.parse would)', async () => {
    const sub = join(dir, 'quote');
    await mkdir(sub);
    await writeFile(join(sub, 'auth.json'), '{"jwt_secret": "SECRETSECRET", oops}');
    await assert.rejects(new AuthStore({ dataDir: sub }).read(), (error: Error) => !error.message.includes('SECRET'));
  });
});
