// The details cache in front of any user provider (authentication_backend.refresh_interval). The
// provider here is a directory read on demand, as LDAP would be (no directory server in unit tests):
// it counts its lookups and can hold them. Time is an injected clock; nothing waits for the wall clock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { CachedUserProvider, DETAILS_CACHE_MAX_ENTRIES, STALE_GRACE_MS, type RefreshInterval } from '../../../gateway/users/cached.ts';
import type { UserDetails, UserProvider } from '../../../gateway/users/provider.ts';
import { captureLogs, LEVEL } from './log-capture.ts';

const MINUTE = 60_000;
const INTERVAL = 5 * MINUTE;

function user(username: string, groups: string[] = ['dev'], credentialStamp = `${username}-1`): UserDetails {
  return { username, displayName: username, emails: [`${username}@example.com`], groups, credentialStamp };
}

/** A directory of users read on demand; `hold()` makes lookups wait until `release()`. */
function directory(initial: UserDetails[]) {
  const users = new Map(initial.map((u) => [u.username, u]));
  let lookups = 0;
  let holding = false;
  let failure: Error | null = null;
  let waiting: Array<() => void> = [];
  const listeners: Array<() => void> = [];
  const provider: UserProvider = {
    async getDetails(username) {
      lookups++;
      const answer = users.get(username) ?? null; // read when asked: what a held lookup returns is as old as the question
      if (holding) await new Promise<void>((resolve) => waiting.push(resolve));
      if (failure) throw failure;
      return answer;
    },
    async resolveLogin(login) {
      return users.has(login) ? login : null;
    },
    async verifyPassword(login, password) {
      return password === 'right' ? (users.get(login) ?? null) : null;
    },
    async updatePassword(username) {
      const current = users.get(username)!;
      users.set(username, { ...current, credentialStamp: `${username}-${Number(current.credentialStamp.split('-')[1]) + 1}` });
    },
    async startupCheck() {},
    onChange(listener) {
      listeners.push(listener);
    },
    async close() {},
  };
  return {
    provider,
    users,
    lookups: () => lookups,
    hold: () => void (holding = true),
    release() {
      holding = false;
      for (const resolve of waiting) resolve();
      waiting = [];
    },
    fail: (error: Error | null) => void (failure = error),
    /** What the file watcher does after a reload. */
    changed: () => listeners.forEach((listener) => listener()),
  };
}

function setup(users: UserDetails[], refreshInterval: RefreshInterval = INTERVAL, options: { maxEntries?: number } = {}) {
  const clock = { time: 1_000_000 };
  const dir = directory(users);
  const logs = captureLogs();
  const cache = new CachedUserProvider(dir.provider, { refreshInterval, now: () => clock.time, logger: logs.logger, ...options });
  return { clock, dir, cache, logs };
}

/** Lets a background lookup that has its answer finish (promise callbacks only; no timer). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('an entry younger than refresh_interval is answered from memory', () => {
  it('the backend is asked once; changes there are not seen until the interval has passed', async () => {
    const { clock, dir, cache } = setup([user('alice', ['admins', 'dev'])]);
    assert.deepEqual((await cache.getDetails('alice'))?.groups, ['admins', 'dev']);
    assert.equal(dir.lookups(), 1);
    dir.users.set('alice', user('alice', ['dev']));
    clock.time += INTERVAL - 1;
    assert.deepEqual(cache.peekDetails('alice')?.groups, ['admins', 'dev'], 'answered at once, without a promise');
    assert.deepEqual((await cache.getDetails('alice'))?.groups, ['admins', 'dev']);
    assert.equal(dir.lookups(), 1, 'no lookup while the entry is fresh');
  });

  it('unknown users are remembered too (a session of a removed user asks again and again)', async () => {
    const { dir, cache } = setup([]);
    assert.equal(await cache.getDetails('ghost'), null);
    assert.equal(await cache.getDetails('ghost'), null);
    assert.equal(cache.peekDetails('ghost'), null);
    assert.equal(dir.lookups(), 1);
  });

  it('nothing cached yet: peekDetails cannot tell (undefined), getDetails asks the backend', async () => {
    const { dir, cache } = setup([user('alice')]);
    assert.equal(cache.peekDetails('alice'), undefined);
    assert.equal((await cache.getDetails('alice'))?.username, 'alice');
    assert.equal(dir.lookups(), 1);
  });
});

describe('past refresh_interval: the stale entry answers while one lookup refreshes it in the background', () => {
  it('a user removed from the backend is refused as soon as that lookup returns', async () => {
    const { clock, dir, cache } = setup([user('alice')]);
    await cache.getDetails('alice');
    dir.users.delete('alice');
    clock.time += INTERVAL;
    assert.equal(cache.peekDetails('alice')?.username, 'alice', 'the hot path does not wait for the backend');
    assert.equal(cache.peekDetails('alice')?.username, 'alice');
    assert.equal(dir.lookups(), 2, 'one refresh, however many requests arrive meanwhile');
    await settle();
    assert.equal(cache.peekDetails('alice'), null, 'removed: no details, so no session');
    assert.equal(await cache.getDetails('alice'), null);
    assert.equal(dir.lookups(), 2);
  });

  it('a user disabled in the backend (no details) likewise, and a changed group shows the same way', async () => {
    const { clock, dir, cache } = setup([user('mallory'), user('bob', ['dev'])]);
    await cache.getDetails('mallory');
    await cache.getDetails('bob');
    dir.users.delete('mallory'); // what a disabled account looks like through the provider
    dir.users.set('bob', user('bob', ['dev', 'ops']));
    clock.time += INTERVAL + 1;
    cache.peekDetails('mallory');
    cache.peekDetails('bob');
    await settle();
    assert.equal(await cache.getDetails('mallory'), null);
    assert.deepEqual((await cache.getDetails('bob'))?.groups, ['dev', 'ops']);
  });

  it('the refreshed entry is fresh again for a whole interval', async () => {
    const { clock, dir, cache } = setup([user('alice')]);
    await cache.getDetails('alice');
    clock.time += INTERVAL;
    cache.peekDetails('alice');
    await settle();
    clock.time += INTERVAL - 1;
    cache.peekDetails('alice');
    assert.equal(dir.lookups(), 2);
  });

  it(`past the grace (${STALE_GRACE_MS / 1000} s after the interval) the request waits for the backend instead`, async () => {
    const { clock, dir, cache } = setup([user('alice')]);
    await cache.getDetails('alice');
    dir.users.delete('alice');
    clock.time += INTERVAL + STALE_GRACE_MS;
    assert.equal(cache.peekDetails('alice'), undefined, 'too old to answer with');
    assert.equal(await cache.getDetails('alice'), null);
    assert.equal(dir.lookups(), 2);
  });

  it('a grace never longer than the interval itself', async () => {
    const { clock, dir, cache } = setup([user('alice')], 2_000);
    await cache.getDetails('alice');
    clock.time += 4_000;
    assert.equal(cache.peekDetails('alice'), undefined);
    assert.equal(dir.lookups(), 1);
  });

  it('a failing refresh: the stale entry answers until its grace ends, then the error reaches the caller (a deny), logged once', async () => {
    const { clock, dir, cache, logs } = setup([user('alice')]);
    await cache.getDetails('alice');
    dir.fail(new Error('directory unreachable'));
    clock.time += INTERVAL;
    assert.equal(cache.peekDetails('alice')?.username, 'alice');
    await settle();
    assert.equal(cache.peekDetails('alice')?.username, 'alice', 'still within the grace');
    await settle();
    const outage = logs.records.filter((r) => r.level >= LEVEL.warn);
    assert.equal(outage.length, 1, JSON.stringify(outage));
    assert.match(String(outage[0]!.msg), /user backend/);
    clock.time += STALE_GRACE_MS;
    await assert.rejects(cache.getDetails('alice'), /directory unreachable/);
  });
});

describe("refresh_interval 'always' and 'disable'", () => {
  it('always: every request asks the backend, nothing is kept', async () => {
    const { dir, cache } = setup([user('alice')], 'always');
    await cache.getDetails('alice');
    await cache.getDetails('alice');
    assert.equal(await cache.verifyPassword('alice', 'right').then((u) => u?.username), 'alice');
    assert.equal(cache.peekDetails('alice'), undefined, 'a provider that reads on demand cannot answer at once');
    await cache.getDetails('alice');
    assert.equal(dir.lookups(), 3);
  });

  it('an interval of 0 is always', async () => {
    const { dir, cache } = setup([user('alice')], 0);
    await cache.getDetails('alice');
    await cache.getDetails('alice');
    assert.equal(dir.lookups(), 2);
  });

  it('disable: details are kept however old, until a reload', async () => {
    const { clock, dir, cache } = setup([user('alice', ['admins'])], 'disable');
    await cache.getDetails('alice');
    dir.users.set('alice', user('alice', []));
    clock.time += 365 * 24 * 60 * MINUTE;
    assert.deepEqual(cache.peekDetails('alice')?.groups, ['admins']);
    assert.equal(dir.lookups(), 1);
    await cache.reload();
    assert.deepEqual((await cache.getDetails('alice'))?.groups, []);
    assert.equal(dir.lookups(), 2);
  });
});

describe('a reload clears the cache at once, whatever refresh_interval says', () => {
  it('the provider saying it changed (the file watcher, an edit through UserAdmin)', async () => {
    const { dir, cache } = setup([user('alice')]);
    await cache.getDetails('alice');
    dir.users.delete('alice');
    dir.changed();
    assert.equal(cache.peekDetails('alice'), undefined);
    assert.equal(await cache.getDetails('alice'), null);
  });

  it('reload() (SIGHUP), even for a provider with nothing to re-read', async () => {
    const { dir, cache } = setup([user('alice')]);
    await cache.getDetails('alice');
    dir.users.delete('alice');
    assert.deepEqual(await cache.reload(), { status: 'loaded' });
    assert.equal(await cache.getDetails('alice'), null);
  });

  it('a lookup begun before the clear does not put back what the clear dropped', async () => {
    const { dir, cache } = setup([user('alice', ['admins'])]);
    dir.hold();
    const before = cache.getDetails('alice');
    dir.users.set('alice', user('alice', []));
    dir.changed();
    dir.release();
    assert.deepEqual((await before)?.groups, ['admins'], 'the request that asked before gets its answer');
    assert.equal(cache.peekDetails('alice'), undefined, 'but it is not kept');
    assert.deepEqual((await cache.getDetails('alice'))?.groups, []);
  });

  it('a request asked after the clear does not join a lookup begun before it (a user disabled meanwhile stays out)', async () => {
    const { dir, cache } = setup([user('alice', ['admins'])]);
    dir.hold();
    const before = cache.getDetails('alice');
    dir.users.delete('alice');
    dir.changed();
    const after = cache.getDetails('alice');
    dir.release();
    assert.deepEqual((await before)?.groups, ['admins'], 'the request that asked before gets its answer');
    assert.equal(await after, null, 'the one that asked after the clear gets the backend as it is now');
  });

  it('a password changed through the cache drops what it held (older sessions end at once)', async () => {
    const { dir, cache } = setup([user('alice')]);
    await cache.getDetails('alice');
    await cache.updatePassword('alice', 'new password');
    assert.equal((await cache.getDetails('alice'))?.credentialStamp, 'alice-2');
    assert.equal(dir.lookups(), 2);
  });
});

describe("a login's details are kept: the request after it needs no lookup", () => {
  it('verifyPassword fills the cache; a wrong password leaves it alone', async () => {
    const { dir, cache } = setup([user('alice')]);
    assert.equal(await cache.verifyPassword('alice', 'wrong'), null);
    assert.equal(cache.peekDetails('alice'), undefined);
    assert.equal((await cache.verifyPassword('alice', 'right'))?.username, 'alice');
    assert.equal(cache.peekDetails('alice')?.username, 'alice');
    assert.equal(dir.lookups(), 0);
  });

  it("a slower lookup begun before the login does not overwrite the login's newer credential", async () => {
    const { clock, dir, cache } = setup([user('alice')]);
    await cache.getDetails('alice');
    clock.time += INTERVAL;
    dir.hold();
    cache.peekDetails('alice'); // a background refresh starts, with the old stamp
    dir.users.set('alice', user('alice', ['dev'], 'alice-2'));
    assert.equal((await cache.verifyPassword('alice', 'right'))?.credentialStamp, 'alice-2');
    dir.release();
    await settle();
    assert.equal(cache.peekDetails('alice')?.credentialStamp, 'alice-2', 'the new session stays valid');
  });
});

describe('the cache is bounded', () => {
  it(`at most maxEntries users (default ${DETAILS_CACHE_MAX_ENTRIES}); the one stored longest ago goes first`, async () => {
    const { dir, cache } = setup([user('a'), user('b'), user('c')], INTERVAL, { maxEntries: 2 });
    await cache.getDetails('a');
    await cache.getDetails('b');
    await cache.getDetails('c');
    assert.equal(cache.peekDetails('a'), undefined, 'a was dropped');
    assert.equal(cache.peekDetails('b')?.username, 'b');
    assert.equal(cache.peekDetails('c')?.username, 'c');
    assert.equal(dir.lookups(), 3);
  });
});

describe('a provider holding its users in memory (the users file) answers at once', () => {
  it('peekDetails never returns undefined: forward auth needs no promise', async () => {
    const { provider } = directory([]);
    let reads = 0;
    const inMemory: UserProvider = { ...provider, peekDetails: (username) => (reads++, username === 'alice' ? user('alice') : null) };
    const clock = { time: 0 };
    const cache = new CachedUserProvider(inMemory, { refreshInterval: INTERVAL, now: () => clock.time, logger: pino({ level: 'silent' }) });
    assert.equal(cache.peekDetails('alice')?.username, 'alice');
    assert.equal(cache.peekDetails('nobody'), null);
    assert.equal(reads, 2);
    cache.peekDetails('alice');
    assert.equal(reads, 2, 'then from the cache');
    clock.time += INTERVAL;
    assert.equal(cache.peekDetails('alice')?.username, 'alice');
    assert.equal(reads, 3, 'refreshed in place, no stale answer');
  });
});
