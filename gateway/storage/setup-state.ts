/** `setup_state`: one-time steps (the first administrator) and when they were done, shared by every instance. */
import type { DatabaseHandle } from './handle.ts';
import { orIgnore } from './upsert.ts';

export interface SetupStateRepository {
  /** When the one-time step `name` was completed (ms), or null if it never was. */
  setupCompletedAt(name: string): Promise<number | null>;
  /**
   * Records that the one-time step `name` is done; the first record stands (several instances may race).
   * True when this call made the record, false when it was there already: one insert-if-absent, so of
   * instances sharing the storage exactly one wins.
   */
  markSetupComplete(name: string, time: number): Promise<boolean>;
  /** Takes back this instance's record of `name` (made at `time`) when the step it claimed failed. */
  unmarkSetupComplete(name: string, time: number): Promise<void>;
}

export function setupStateRepository(handle: DatabaseHandle): SetupStateRepository {
  return {
    async setupCompletedAt(name) {
      const row = await handle.run('read the setup state', (db) => db.selectFrom('setup_state').select('completed_at').where('name', '=', name).executeTakeFirst());
      return row ? Number(row.completed_at) : null;
    },
    async markSetupComplete(name, time) {
      const result = await handle.run('record the setup state', (db) =>
        orIgnore(db.insertInto('setup_state').values({ name, completed_at: time }), handle.dialect, ['name']).executeTakeFirst(),
      );
      return Number(result.numInsertedOrUpdatedRows ?? 0n) > 0;
    },
    async unmarkSetupComplete(name, time) {
      await handle.run('take back the setup state', (db) => db.deleteFrom('setup_state').where('name', '=', name).where('completed_at', '=', time).execute());
    },
  };
}
