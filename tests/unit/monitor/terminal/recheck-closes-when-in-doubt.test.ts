/**
 * The periodic terminal re-check closes what it cannot confirm. One terminal whose token check throws
 * (an account file of an unexpected shape) used to stop the whole pass: no terminal was closed, not
 * even those already found to have ended.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AuthState } from '../../../../monitor/auth/store.ts';
import { createTerminalIdentityCheck } from '../../../../monitor/terminal/identity-check.ts';
import type { SessionOwner } from '../../../../monitor/terminal/server.ts';

describe('a terminal re-check that cannot check one owner', () => {
  it('closes that terminal, and still closes the others that ended', async () => {
    const owners = [
      { username: 'admin', via: 'bearer', bearer: 'not-a-token', jti: 'x', generation: 0 } as unknown as SessionOwner,
      { username: 'alice', via: 'remote_user', binding: 'never-confirmed' } as unknown as SessionOwner,
    ];
    const closed: string[] = [];
    const check = createTerminalIdentityCheck({
      terminal: {
        owners: () => owners,
        closeSessions: (match, why) => {
          const hit = owners.filter(match);
          closed.push(...hit.map((owner) => `${owner.username}: ${why}`));
          return hit.length;
        },
      },
      refreshIntervalMs: 30_000,
      now: () => 1_000_000,
    });
    // an account state whose token check cannot run
    const broken = new Proxy({}, { get: () => { throw new Error('unexpected auth.json shape'); } }) as AuthState;
    const count = await check.recheck(broken);
    assert.equal(count, 2);
    assert.equal(closed.length, 2);
    assert.ok(closed.some((line) => line.startsWith('admin: ')));
    assert.ok(closed.some((line) => line.startsWith('alice: ')));
  });
});
