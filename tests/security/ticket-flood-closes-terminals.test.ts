/**
 * Review of issue 7, item 3: the monitor kept at most 1024 terminal bindings and dropped the oldest to
 * make room, so 1024 ticket requests (`POST /api/terminal/ticket`) dropped the binding of a terminal
 * opened through the gateway, and its next check closed it ("the gateway no longer vouches for it").
 * Now only a binding that can no longer keep a terminal alive is dropped; when none can be, the new
 * ticket is refused (503) and every open terminal stays open.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Identity } from '../../monitor/auth/identity.ts';
import { createTerminalIdentityCheck, MAX_BINDINGS } from '../../monitor/terminal/identity-check.ts';
import type { SessionOwner } from '../../monitor/terminal/server.ts';

const REFRESH_MS = 30_000;

/** The terminal server as the check sees it: the owners of the open terminals, and what it closed. */
function fakeTerminals() {
  const open: SessionOwner[] = [];
  const closed: { owner: SessionOwner; reason: string | undefined }[] = [];
  return {
    open,
    closed,
    terminal: {
      owners: () => [...open],
      closeSessions(predicate: (owner: SessionOwner) => boolean, reason?: string) {
        const ending = open.filter(predicate);
        for (const owner of ending) {
          open.splice(open.indexOf(owner), 1);
          closed.push({ owner, reason });
        }
        return ending.length;
      },
    },
  };
}

const alice: Identity = { username: 'alice', scope: 'full_admin', via: 'remote_user' };

describe('a flood of terminal tickets never closes an open terminal', () => {
  it('1100 tickets in a row: the gateway terminal keeps its binding, the tickets past the limit are refused', async () => {
    let t = 1_000_000;
    const terminals = fakeTerminals();
    const check = createTerminalIdentityCheck({ terminal: terminals.terminal, refreshIntervalMs: REFRESH_MS, now: () => t, randomBytes });
    const victim = check.bind();
    assert.ok(victim !== null);
    terminals.open.push({ username: 'alice', via: 'remote_user', binding: victim });

    t += 1_000;
    const flood = Array.from({ length: 1100 }, () => check.bind());
    assert.equal(flood.filter((b) => b !== null).length, MAX_BINDINGS - 1, 'room for the rest, then refused');
    assert.equal(flood.at(-1), null);

    // the page renews through the gateway as usual; the check finds the terminal still vouched for
    assert.deepEqual(check.renew(victim, alice), { ok: true });
    t += REFRESH_MS / 3;
    assert.deepEqual(check.renew(victim, alice), { ok: true });
    assert.equal(await check.recheck(null), 0);
    assert.deepEqual(terminals.closed, []);
    assert.equal(terminals.open.length, 1);
  });

  it('bindings whose tickets can no longer be redeemed make room again; a running API-token terminal keeps its own', async () => {
    let t = 5_000_000;
    const terminals = fakeTerminals();
    const check = createTerminalIdentityCheck({ terminal: terminals.terminal, refreshIntervalMs: REFRESH_MS, now: () => t, randomBytes });
    const tokenTerminal = check.bind()!;
    terminals.open.push({ username: 'bob', via: 'api_token', binding: tokenTerminal, bearer: 'x' });
    for (let i = 0; i < MAX_BINDINGS - 1; i++) assert.ok(check.bind() !== null);
    assert.equal(check.bind(), null);

    t += 60_000; // every unredeemed ticket has long expired
    assert.ok(check.bind() !== null);
    // the token terminal was never confirmed through the gateway (it need not be): still renewable
    assert.deepEqual(check.renew(tokenTerminal, { username: 'bob', scope: 'full_admin', via: 'api_token' }), { ok: true });
    assert.deepEqual(terminals.closed, []);
  });
});
