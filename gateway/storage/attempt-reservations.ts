/**
 * `attempt_reservations`: first-factor attempts whose password is being checked right now, on any
 * instance, so that the attempts in flight count towards max_retries before they are settled.
 */
import type { DatabaseHandle } from './handle.ts';
import { insertReturningId } from './upsert.ts';

export interface AttemptReservationRepository {
  /** Records a first-factor attempt whose password is about to be checked; returns its id. */
  insert(entry: { time: number; expires: number; username: string; remoteIp: string }): Promise<number>;
  /** Reservations of `username` or from `ip` still in force at `nowMs`, but `exceptId`. */
  count(column: 'username' | 'remote_ip', value: string, nowMs: number, exceptId: number): Promise<number>;
  delete(id: number): Promise<void>;
  /** Forgets reservations an instance never settled (it crashed or hung); a write, so it also takes SQLite's lock. */
  deleteExpired(nowMs: number): Promise<void>;
}

export function attemptReservationRepository(handle: DatabaseHandle): AttemptReservationRepository {
  return {
    insert: (entry) =>
      handle.run('reserve an authentication attempt', async (db) => {
        return insertReturningId(db, handle.dialect, 'attempt_reservations', { time: entry.time, expires: entry.expires, username: entry.username, remote_ip: entry.remoteIp });
      }),
    count: (column, value, nowMs, exceptId) =>
      handle.run('count reserved authentication attempts', async (db) => {
        const row = await db
          .selectFrom('attempt_reservations')
          .select((eb) => eb.fn.countAll<number>().as('n'))
          .where(column, '=', value)
          .where('expires', '>', nowMs)
          .where('id', '!=', exceptId)
          .executeTakeFirstOrThrow();
        return Number(row.n);
      }),
    async delete(id) {
      await handle.run('settle a reserved authentication attempt', (db) => db.deleteFrom('attempt_reservations').where('id', '=', id).execute());
    },
    async deleteExpired(nowMs) {
      await handle.run('forget expired authentication reservations', (db) => db.deleteFrom('attempt_reservations').where('expires', '<=', nowMs).execute());
    },
  };
}
