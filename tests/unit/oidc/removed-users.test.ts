/**
 * endRemovedUsers: on a users-file change, a user removed or disabled is signed out of their apps; only
 * a removed one has their OpenID Connect identity forgotten, and only after the apps were told.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { endRemovedUsers } from '../../../gateway/oidc/logout.ts';

describe('endRemovedUsers', () => {
  it('disabled: signed out, identity kept; removed: signed out, then identity forgotten', async () => {
    let list = [{ username: 'alice', disabled: false }, { username: 'bob', disabled: false }, { username: 'carol', disabled: false }];
    let changed: () => void = () => {};
    const calls: string[] = [];
    let endDone: () => void = () => {};
    const ended = new Promise<void>((resolve) => (endDone = resolve));
    endRemovedUsers(
      { listUsers: () => list as never, onChange: (listener: () => void) => void (changed = listener) },
      {
        endUser: async (username: string) => {
          calls.push(`end ${username}`);
          await ended;
          calls.push(`ended ${username}`);
          return 0;
        },
      },
      { forgetUser: async (username: string) => void calls.push(`forget ${username}`) },
      pino({ level: 'silent' }),
    );
    list = [{ username: 'alice', disabled: false }, { username: 'carol', disabled: true }];
    changed();
    assert.deepEqual(calls, ['end bob', 'end carol'], 'nothing forgotten before the apps are told');
    endDone();
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual([...calls].sort(), ['end bob', 'end carol', 'ended bob', 'ended carol', 'forget bob'].sort());
    assert.ok(calls.indexOf('forget bob') > calls.indexOf('ended bob'));
  });
});
