/** `user_preferences`: the second-factor method a user prefers (Authelia's `totp`, `webauthn`, `mobile_push`…). */
import type { DatabaseHandle } from './handle.ts';
import { orUpdate } from './upsert.ts';

export interface UserPreferenceRepository {
  /** The user's preferred second-factor method, or undefined when none was chosen. */
  getSecondFactorMethod(username: string): Promise<string | undefined>;
  setSecondFactorMethod(username: string, method: string): Promise<void>;
}

export function userPreferenceRepository(handle: DatabaseHandle): UserPreferenceRepository {
  return {
    getSecondFactorMethod: (username) =>
      handle.run('load user preferences', async (db) => {
        const row = await db.selectFrom('user_preferences').select('second_factor_method').where('username', '=', username).executeTakeFirst();
        return row?.second_factor_method;
      }),
    async setSecondFactorMethod(username, method) {
      await handle.run('save user preferences', (db) =>
        orUpdate(db.insertInto('user_preferences').values({ username, second_factor_method: method }), handle.dialect, ['username'], { second_factor_method: method }).execute(),
      );
    },
  };
}
