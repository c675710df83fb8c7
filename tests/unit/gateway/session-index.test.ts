// Ending sessions from the index: only the named user's, the store's copy destroyed with the row, one
// session kept on request (a password change keeps the session that made it), and rows whose session is
// gone from the store dropped as they are listed.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { SessionData } from 'express-session';
import { openStorage } from '../../../gateway/storage/open.ts';
import { sessionHash } from '../../../gateway/storage/user-sessions.ts';
import { endAllUserSessions, endUserSession, listUserSessions } from '../../../gateway/portal/session-index.ts';
import { BACKENDS, silentLogger } from '../storage/backends.ts';

const T0 = 1_750_000_000_000;

/** The two calls the index makes on the session store, over a map (the store's own tests cover Redis). */
function sessionStore(entries: Record<string, string>) {
  const data = new Map(Object.entries(entries).map(([sid, username]) => [sid, { identity: { username }, expiresAt: T0 + 3_600_000 } as unknown as SessionData]));
  return { data, store: { get: async (sid: string) => data.get(sid) ?? null, destroy: async (sid: string) => void data.delete(sid) } };
}

for (const backend of BACKENDS) {
  describe(`${backend.name}: ending indexed sessions`, () => {
    it("ends all but the kept one, touches no one else's, and lists only what the store still has", async (t) => {
      const { options, cleanup } = await backend.create();
      t.after(cleanup);
      const storage = await openStorage(options, { logger: silentLogger, migrate: true });
      t.after(() => storage.close());
      for (const [sid, username] of [['s-laptop', 'alice'], ['s-phone', 'alice'], ['s-tablet', 'alice'], ['s-bob', 'bob']] as const) {
        await storage.userSessions.add({ sessionId: sid, username, nowMs: T0, remoteIp: '192.0.2.1', userAgent: 'x' });
      }
      const { data, store } = sessionStore({ 's-laptop': 'alice', 's-phone': 'alice', 's-bob': 'bob' }); // the tablet's has expired away
      const deps = { storage, sessions: store, now: () => T0 + 1000 };

      // newest first; equal times: the later login first
      assert.deepEqual((await listUserSessions(deps, 'alice', 's-laptop')).map((s) => [s.sessionHash, s.current]), [
        [sessionHash('s-phone'), false],
        [sessionHash('s-laptop'), true],
      ]);
      assert.equal((await storage.userSessions.listByUser('alice')).some((s) => s.sessionHash === sessionHash('s-tablet')), false, 'the tablet was dropped');

      assert.equal(await endUserSession(deps, 'alice', sessionHash('s-bob')), false, "alice cannot end bob's");
      assert.ok(data.has('s-bob'));

      assert.equal(await endAllUserSessions(deps, 'alice', 's-laptop'), 1);
      assert.deepEqual([...data.keys()].sort(), ['s-bob', 's-laptop']);
      assert.deepEqual((await storage.userSessions.listByUser('alice')).map((s) => s.sessionHash), [sessionHash('s-laptop')]);
    });
  });
}
