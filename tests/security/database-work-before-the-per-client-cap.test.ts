// Review of issue 7, item 3: every first-factor attempt ran a database transaction (on PostgreSQL
// queuing on the per-username advisory lock, holding pooled connections) before any limit applied, so
// one client could hold as much of the database as it sent requests. The client's attempt is now counted
// as it arrives, before any reservation, and refused with 429 at once over `per_client`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createFirstFactor, type FirstFactorResult } from '../../gateway/authn/first-factor.ts';
import { createAuditLog } from '../../gateway/log/audit.ts';
import { Regulator, type RegulationStore } from '../../gateway/regulation/regulator.ts';
import { openStorage } from '../../gateway/storage/open.ts';
import type { Storage } from '../../gateway/storage/storage.ts';
import type { UserDetails, UserProvider } from '../../gateway/users/provider.ts';
import { createPasswordCheckLimiter } from '../../lib/password-checks.ts';
import { captureLogs } from '../helpers/logs.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { eventually } from '../helpers/inprocess-gateway.ts';

const PER_CLIENT = 4;
const EXTRA = 6;

/** The storage, with every call counted (its own and its repositories'). */
function counted(storage: Storage): { store: RegulationStore; calls: () => number } {
  let calls = 0;
  const count = <T extends object>(target: T): T =>
    new Proxy(target, {
      get(t, prop) {
        const value = Reflect.get(t, prop, t) as unknown;
        if (value !== null && typeof value === 'object') return count(value);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          calls++;
          return (value as (...a: unknown[]) => unknown).apply(t, args);
        };
      },
    });
  return { store: count(storage), calls: () => calls };
}

describe('one client over its per_client share is refused before any storage work', () => {
  let storage: Storage;
  let cleanup: () => Promise<void>;
  before(async () => {
    const tmp = await makeTempDir('gatehouse-percap-');
    cleanup = tmp.cleanup;
    storage = await openStorage({ encryption_key: 'a-test-encryption-key-long-enough', local: { path: join(tmp.dir, 'db.sqlite3') } } as never, { logger: captureLogs().logger, migrate: true });
  });
  after(async () => {
    await storage?.close();
    await cleanup?.();
  });

  it(`${PER_CLIENT + EXTRA} attempts from one address while its checks are held: ${EXTRA} get busy (429) with no storage call`, async () => {
    const { logger, text } = captureLogs();
    const { store, calls } = counted(storage);
    const regulator = new Regulator({ options: { max_retries: 3, find_time: 120, ban_time: 300, modes: ['user'] }, storage: store, logger });
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let checks = 0;
    const users: Pick<UserProvider, 'verifyPassword'> = {
      async verifyPassword() {
        checks++;
        await gate;
        return null as UserDetails | null;
      },
    };
    const limiter = createPasswordCheckLimiter({ concurrency: 16, queue: 16, perClient: PER_CLIENT, maxWaitMs: 60_000 });
    const firstFactor = createFirstFactor(users, regulator, createAuditLog(logger), { minFailureDelayMs: 0, limiter });
    const attempt = (i: number) => firstFactor.verify({ username: `user${i}`, password: 'guess', ip: '198.51.100.7', method: 'portal', requestUri: '/api/firstfactor', requestMethod: 'POST' });

    const held = Array.from({ length: PER_CLIENT }, (_, i) => attempt(i));
    await eventually('the share is being checked', () => checks === PER_CLIENT);
    const before = calls();
    const extra: FirstFactorResult[] = await Promise.all(Array.from({ length: EXTRA }, (_, i) => attempt(PER_CLIENT + i)));
    assert.equal(calls() - before, 0, 'no storage call for the attempts over the share');
    for (const result of extra) {
      assert.equal(result.ok, false);
      assert.ok(!result.ok && result.busy !== undefined, 'answered busy (429), not as a wrong password');
      assert.equal(!result.ok && result.busy?.retryAfterSeconds, 60);
    }
    assert.equal(checks, PER_CLIENT);
    assert.equal(limiter.stats().rejected.client, EXTRA);
    open();
    for (const result of await Promise.all(held)) assert.deepEqual(result, { ok: false });
    assert.match(text(), /authentication not checked; rhost=198\.51\.100\.7 user=user4/);
  });
});
