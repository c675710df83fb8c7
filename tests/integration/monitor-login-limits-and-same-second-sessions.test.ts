/**
 * The monitor's own credential handling under pressure:
 *  - an attempt is counted before the (slow) password check, so parallel attempts cannot all pass
 *    the check: the per-IP and per-user budgets bound a burst;
 *  - sessions_not_before has one-second resolution, so the session generation also ends a session
 *    issued in the same second as a password change (an attacker who had the old password).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { hashPassword } from '../../lib/password-hash.ts';
import { createRateLimiter } from '../../lib/rate-limit.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { PASSWORD, startAuthServer, type AuthServer } from './monitor-auth-harness.ts';

describe('the login rate limit bounds parallel attempts', () => {
  let server: AuthServer;
  let temp: { dir: string; cleanup: () => Promise<void> };
  before(async () => {
    // a password hash that costs what a real one does (a few tens of ms), not the tests' cheap one
    temp = await makeTempDir('gatehouse-login-limits-');
    await mkdir(join(temp.dir, 'data'), { recursive: true, mode: 0o700 });
    const hash = await hashPassword(PASSWORD, { memory: 16384, iterations: 3, parallelism: 1 });
    const state = { enabled: true, configured: true, username: 'admin', password_hash: hash, jwt_secret: randomBytes(48).toString('base64url') };
    await writeFile(join(temp.dir, 'data', 'auth.json'), JSON.stringify(state), { mode: 0o600 });
    server = await startAuthServer({ dir: temp.dir, rateLimits: { perIp: { max: 5, windowMs: 300_000 }, perUser: { max: 5, windowMs: 300_000 } } });
  });
  after(async () => {
    await server.close();
    await temp.cleanup();
  });

  it('20 concurrent wrong passwords for admin from one address: at most 5 are checked', async () => {
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, i) => server.send('/api/auth/login', { json: { username: 'admin', password: `Wrong-Guess-${i}` } })),
    );
    const checked = replies.filter((r) => r.status === 401).length;
    const limited = replies.filter((r) => r.status === 429).length;
    assert.ok(checked <= 5, `${checked} passwords were checked (limit 5), ${limited} answered 429`);
  });
});

describe('per-user and per-IP budgets can be neither evicted nor sidestepped', () => {
  it('an IPv6 client rotating addresses inside its /64 is one client', () => {
    const limiter = createRateLimiter({ perIp: { max: 10, windowMs: 300_000 } });
    for (let i = 0; i < 50; i++) limiter.fail({ ip: `2001:db8:1:2::${i.toString(16)}`, user: null });
    assert.equal(limiter.check({ ip: '2001:db8:1:2::ffff', user: null }).limited, true, 'the /64 has had 50 failures');
  });

  it('junk failures from many addresses do not free a locked-out account', () => {
    const limiter = createRateLimiter();
    // the attacker spends admin's budget ...
    for (let i = 0; i < 20; i++) limiter.fail({ ip: `2001:db8:a::${i.toString(16)}`, user: 'admin' });
    assert.equal(limiter.check({ ip: '2001:db8:b::1', user: 'admin' }).limited, true);
    // ... then floods cheap failures (e.g. Basic with random usernames), 10 per address, under the per-IP limit
    for (let a = 0; a < 1000; a++) for (let u = 0; u < 10; u++) limiter.fail({ ip: `2001:db8:c:${a.toString(16)}::1`, user: `junk${a}-${u}` });
    assert.equal(limiter.check({ ip: '2001:db8:b::1', user: 'admin' }).limited, true, "admin's lock-out was evicted: guessing resumes");
  });
});

describe('a session issued in the same second as a password change ends with it', () => {
  let server: AuthServer;
  before(async () => {
    server = await startAuthServer();
    await server.setup();
  });
  after(() => server.close());

  it('the attacker session (old password) is refused after the owner changes the password', async () => {
    const owner = (await server.login()).json.token as string;
    // line up with the start of a second so both happen inside it
    server.clock.advance(1000 - (server.clock.now() % 1000) + 5);
    const stolen = (await server.login()).json.token as string; // the attacker, with the old password
    const change = await server.send('/api/auth/change-password', {
      token: owner,
      json: { old_password: PASSWORD, new_password: 'Brand-New-Pass-77' },
    });
    assert.equal(change.status, 200, change.body);
    const reply = await server.send('/api/system', { token: stolen });
    assert.equal(reply.status, 401, 'a session from before the password change still works');
  });
});
