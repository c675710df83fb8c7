// Review of issue 7, item 4: on PostgreSQL, reserve() read the failures, then counted the attempts in
// flight, under the per-account advisory lock, while settle() recorded the failure and removed the
// reservation outside it. A settle landing between those two reads was seen in neither, so one guess
// more than max_retries was let through. settle() now runs under the same locks.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { Regulator, type Reservation } from '../../gateway/regulation/regulator.ts';
import { openStorage } from '../../gateway/storage/open.ts';
import type { Storage, StorageTransaction } from '../../gateway/storage/storage.ts';
import { captureLogs } from '../helpers/logs.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.ts';
import { eventually } from '../helpers/inprocess-gateway.ts';

type Admitted = Extract<Reservation, { admitted: true }>;

describe('PostgreSQL: a failure settled while another attempt is being reserved is counted', () => {
  let database: TestDatabase;
  let storage: Storage;
  let observer: pg.Client;
  before(async () => {
    database = await createTestDatabase();
    storage = await openStorage({ encryption_key: 'a-test-encryption-key-long-enough', postgres: database.options } as never, { logger: captureLogs().logger, migrate: true });
    observer = new pg.Client({ host: '127.0.0.1', port: 5432, user: 'postgres', database: database.options.database });
    await observer.connect();
  });
  after(async () => {
    await observer?.end();
    await storage?.close();
    await database?.drop();
  });

  /** Whether some session waits for an advisory lock in the test database. */
  async function someoneWaitsForTheLock(): Promise<boolean> {
    const { rows } = await observer.query<{ n: string }>(
      "select count(*) as n from pg_locks l join pg_database d on d.oid = l.database where l.locktype = 'advisory' and not l.granted and d.datname = $1",
      [database.options.database],
    );
    return Number(rows[0]!.n) > 0;
  }

  it('max_retries 3: two failures, a third settling between the fourth reservation\'s reads; the fourth is not admitted', async () => {
    let between: (() => Promise<void>) | null = null;
    // reserve()'s transaction, with a pause between its read of the failures and its count of the attempts in flight
    const racing = new Proxy(storage, {
      get(target, prop) {
        if (prop === 'exclusively') {
          return (keys: string[], work: (tx: StorageTransaction) => Promise<unknown>) =>
            target.exclusively(keys, (tx) =>
              work({
                ...tx,
                attemptReservations: {
                  ...tx.attemptReservations,
                  async count(...args: Parameters<StorageTransaction['attemptReservations']['count']>) {
                    if (between) {
                      const pause = between;
                      between = null;
                      await pause();
                    }
                    return tx.attemptReservations.count(...args);
                  },
                },
              }),
            );
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const { logger } = captureLogs();
    const regulator = new Regulator({ options: { max_retries: 3, find_time: 120, ban_time: 300, modes: ['user'] }, storage: racing, logger });
    const context = (ip: string) => ({ username: 'alice', ip, authType: '1fa' as const, requestUri: '/api/firstfactor', requestMethod: 'POST' });
    const failed = (ip: string) => ({ ...context(ip), successful: false });

    const admitted: Admitted[] = [];
    for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3']) {
      const r = await regulator.reserve(context(ip));
      assert.ok(r.admitted, `${ip} is admitted`);
      admitted.push(r);
    }
    await regulator.settle(admitted[0]!, failed('10.0.0.1'));
    await regulator.settle(admitted[1]!, failed('10.0.0.2'));
    // the third guess is still being checked when a fourth arrives; the third settles while the
    // fourth's transaction is between its two reads: it finishes, or waits for the fourth's lock
    let settled: Promise<unknown> | undefined;
    between = async () => {
      let done = false;
      settled = regulator.settle(admitted[2]!, failed('10.0.0.3')).finally(() => (done = true));
      await eventually('the third settle finished or waits for the lock', async () => done || (await someoneWaitsForTheLock()), 10_000);
    };
    const fourth = await regulator.reserve(context('10.0.0.4'));
    await settled;
    assert.equal(fourth.admitted, false, 'the fourth guess is not admitted: three failures or attempts in flight already');
    const fifth = await regulator.reserve(context('10.0.0.5'));
    assert.deepEqual(fifth.admitted ? 'admitted' : fifth.reason, 'banned', 'after three failures alice is banned');
  });
});
