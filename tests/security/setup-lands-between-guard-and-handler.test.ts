/**
 * The monitor's SETUP_CODE guard reads the account state before the handler's update does. If the
 * monitor is reset in between (`gatehouse monitor reset-password`, an admin's disable), the guard saw
 * "configured" and let the request through without the code; the update then found it unconfigured
 * and an anonymous caller claimed the monitor. The update must ask for the code itself.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthState } from '../../monitor/auth/store.ts';
import { PASSWORD, startAuthServer } from '../integration/monitor-auth-harness.ts';

interface Store {
  read(): Promise<AuthState>;
  update(work: (draft: AuthState) => unknown): Promise<unknown>;
}

/** Land a reset right after the SETUP_CODE guard's read of auth.json, as a racing reset would. */
function resetAfterTheGuardReads(store: Store): { restore(): void; landed(): boolean } {
  const realRead = store.read.bind(store);
  let landed = false;
  store.read = async () => {
    const fromTheGuard = new Error().stack?.includes('route-guards.ts') ?? false;
    const state = await realRead();
    if (fromTheGuard && !landed && state.configured) {
      landed = true;
      await store.update((draft) => {
        Object.assign(draft, { enabled: false, configured: false, declined: false, username: null, password_hash: null });
        draft.session_generation += 1;
      });
    }
    // the guard goes on with what it read: configured
    return state;
  };
  return { restore: () => void (store.read = realRead), landed: () => landed };
}

describe('a reset between the SETUP_CODE guard and the handler does not open setup without the code', () => {
  for (const path of ['setup', 'skip', 'decline'] as const) {
    it(`anonymous POST /api/auth/${path} without the code: 403, and the monitor stays unclaimed`, async () => {
      const server = await startAuthServer();
      try {
        const declined = await server.send('/api/auth/decline', { json: { setup_code: await server.setupCode() } });
        assert.equal(declined.status, 200);
        const store = server.deps.store as unknown as Store;
        const race = resetAfterTheGuardReads(store);
        const answer = await server.send(`/api/auth/${path}`, { json: { username: 'attacker', password: PASSWORD } });
        race.restore();
        assert.ok(race.landed(), 'the reset landed after the guard read the state');
        assert.equal(answer.status, 403, answer.body);
        assert.doesNotMatch(answer.body, /token/);
        const state = await store.read();
        assert.equal(state.configured, false);
        assert.equal(state.username, null);
      } finally {
        await server.close();
      }
    });
  }
});
