// The portal's guards, as the route table applies them: who gets through LEVEL_1, LEVEL_2 and ELEVATED,
// and what the others are answered. ELEVATED has no row yet (the elevation flow comes later), so it is
// specified here, against the session field that flow will set.
import type { PortalDeps } from '../../../gateway/portal/deps.ts';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Request, Response } from 'express';
import { guardMiddleware, guardRefusal, signedInUser, type SessionStanding } from '../../../gateway/portal/guards.ts';
import type { CookieDomain } from '../../../gateway/session/cookie-domains.ts';
import type { UserDetails } from '../../../gateway/users/provider.ts';

const NOW = 1_750_000_000_000;
const ALICE: UserDetails = { username: 'alice', displayName: 'Alice', emails: [], groups: ['dev'], credentialStamp: 'stamp-1' };

const standing = (level: number, elevatedUntil?: number): SessionStanding => ({ user: level > 0 ? ALICE : null, level, elevatedUntil });

describe('guardRefusal: which sessions each guard lets through', () => {
  it('PUBLIC lets everyone through, a session or not', () => {
    for (const level of [0, 1, 2]) assert.equal(guardRefusal('PUBLIC', standing(level), NOW), null);
  });

  it('LEVEL_1: one factor is enough; no session is refused', () => {
    assert.equal(guardRefusal('LEVEL_1', standing(0), NOW), 'no-session');
    assert.equal(guardRefusal('LEVEL_1', standing(1), NOW), null);
    assert.equal(guardRefusal('LEVEL_1', standing(2), NOW), null);
  });

  it('LEVEL_2: a one-factor session is refused as too low, a two-factor one passes', () => {
    assert.equal(guardRefusal('LEVEL_2', standing(0), NOW), 'no-session');
    assert.equal(guardRefusal('LEVEL_2', standing(1), NOW), 'level-too-low');
    assert.equal(guardRefusal('LEVEL_2', standing(2), NOW), null);
  });

  it('ELEVATED: only while elevatedUntil is in the future; never without a session', () => {
    assert.equal(guardRefusal('ELEVATED', standing(1), NOW), 'not-elevated', 'never elevated');
    assert.equal(guardRefusal('ELEVATED', standing(1, NOW - 1), NOW), 'not-elevated', 'elevation over');
    assert.equal(guardRefusal('ELEVATED', standing(1, NOW), NOW), 'not-elevated', 'ends at elevatedUntil itself');
    assert.equal(guardRefusal('ELEVATED', standing(1, NOW + 60_000), NOW), null);
    assert.equal(guardRefusal('ELEVATED', standing(2, NOW + 60_000), NOW), null);
    assert.equal(guardRefusal('ELEVATED', { user: null, level: 0, elevatedUntil: NOW + 60_000 }, NOW), 'no-session', 'a field without a user is no session');
  });

  it('ELEVATED: a second factor proven within elevation_lifespan counts; a password alone or an older one does not', () => {
    const recent = (level: number, secondFactorAt: number): SessionStanding => ({ ...standing(level), secondFactorAt, elevationLifespanMs: 600_000 });
    assert.equal(guardRefusal('ELEVATED', recent(2, NOW - 599_999), NOW), null);
    assert.equal(guardRefusal('ELEVATED', recent(2, NOW - 600_000), NOW), 'not-elevated', 'ends at the lifespan');
    assert.equal(guardRefusal('ELEVATED', recent(1, NOW - 1), NOW), 'not-elevated', 'a secondFactorAt without the factor in the AMR');
    assert.equal(guardRefusal('ELEVATED', { ...recent(2, NOW - 1), elevationLifespanMs: 0 }, NOW), 'not-elevated', 'lifespan 0');
  });
});

describe('guardMiddleware: refused requests get 403 JSON and never reach the handler', () => {
  const domain = { domain: 'example.test', inactivity: 0 } as CookieDomain;
  const users = { getDetails: async (name: string) => (name === 'alice' ? ALICE : null) } as unknown as Parameters<typeof guardMiddleware>[1]['users'];

  /** A portal request whose session was made by a password login, with `extra` fields. */
  function requestWith(session: Record<string, unknown> | undefined): Request {
    const base = { identity: { username: 'alice', displayName: 'Alice', emails: [], groups: ['dev'] }, sid: 'sid-1', credentialStamp: 'stamp-1', amr: ['pwd'], cookieDomain: 'example.test', expiresAt: NOW + 3_600_000, lastActivity: NOW };
    return { session: session && { ...base, ...session }, sessionID: 'sid-1', cookieDomain: domain } as unknown as Request;
  }

  async function run(guard: 'LEVEL_1' | 'LEVEL_2' | 'ELEVATED', req: Request) {
    let answer: { status: number; body: unknown } | null = null;
    const res = {
      status(code: number) {
        return { json: (body: unknown) => void (answer = { status: code, body }) };
      },
    } as unknown as Response;
    let passed = false;
    await guardMiddleware(guard, { users, now: () => NOW, secondFactor: { identityValidation: { elevated_session: { elevation_lifespan: 600 } } } as PortalDeps['secondFactor'], storage: {} as PortalDeps['storage'] })(req, res, () => void (passed = true));
    return { answer, passed };
  }

  it('no session → 403 {status: KO, message: Unauthorized}, as /api/user/info has always answered', async () => {
    assert.deepEqual(await run('LEVEL_1', requestWith(undefined)), { answer: { status: 403, body: { status: 'KO', message: 'Unauthorized' } }, passed: false });
  });

  it('a session whose user was removed counts as none', async () => {
    const req = requestWith({ identity: { username: 'bob', displayName: 'Bob', emails: [], groups: [] } });
    assert.deepEqual((await run('LEVEL_1', req)).answer, { status: 403, body: { status: 'KO', message: 'Unauthorized' } });
  });

  it('a password session passes LEVEL_1, and the handler reads the user the guard found', async () => {
    const req = requestWith({});
    assert.deepEqual(await run('LEVEL_1', req), { answer: null, passed: true });
    assert.deepEqual(signedInUser(req), ALICE);
  });

  it('a password session is refused by LEVEL_2 with its own message', async () => {
    assert.deepEqual((await run('LEVEL_2', requestWith({}))).answer, { status: 403, body: { status: 'KO', message: 'A second factor is required.' } });
    assert.equal((await run('LEVEL_2', requestWith({ amr: ['pwd', 'otp'] }))).passed, true);
  });

  it('ELEVATED reads the session’s elevatedUntil against the injected clock', async () => {
    assert.deepEqual((await run('ELEVATED', requestWith({}))).answer, { status: 403, body: { status: 'KO', message: 'Confirm your identity again to continue.' } });
    assert.equal((await run('ELEVATED', requestWith({ elevatedUntil: NOW - 1 }))).passed, false);
    assert.equal((await run('ELEVATED', requestWith({ elevatedUntil: NOW + 1 }))).passed, true);
  });

  it('a handler behind PUBLIC that asks for the user is a mistake in the table, not an anonymous user', () => {
    assert.throws(() => signedInUser(requestWith(undefined)), /behind the PUBLIC guard/);
  });
});
