// Elevation's pure parts: the code, where a browser goes afterwards, and when a session counts as
// elevated without a code (a second factor just proven, or skip_second_factor with two factors).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Request } from 'express';
import { identityValidation } from '../../../gateway/config/second-factor-schema.ts';
import { CODE_ALPHABET, isElevated, newOneTimeCode, normaliseCode } from '../../../gateway/portal/elevation.ts';
import { portalReturn } from '../../../gateway/portal/elevation-handlers.ts';
import { guardRefusal } from '../../../gateway/portal/guards.ts';
import { completeSecondFactor } from '../../../gateway/portal/second-factor-session.ts';
import { authenticationLevel } from '../../../gateway/session/user-session.ts';

const NOW = 1_800_000_000_000;

function settings(elevated: Record<string, unknown> = {}) {
  const identity = identityValidation.parse({ elevated_session: elevated });
  return { now: () => NOW, secondFactor: { identityValidation: identity } } as unknown as Parameters<typeof isElevated>[0];
}

/** A request whose session regenerates and saves in memory, as express-session's does. */
function fakeRequest(data: Record<string, unknown>): Request {
  const req = { sessionID: 'first-id', baseUrl: '', cookieDomain: { portalUrl: new URL('https://auth.example.test/') } } as unknown as Request & { session: Record<string, unknown> };
  const makeSession = (fields: Record<string, unknown>) => ({
    ...fields,
    cookie: {},
    regenerate(done: (err?: unknown) => void) {
      req.sessionID = 'second-id';
      (req as { session: unknown }).session = makeSession({});
      done();
    },
    save(done: (err?: unknown) => void) {
      done();
    },
  });
  (req as { session: unknown }).session = makeSession(data);
  return req;
}

describe('one-time codes', () => {
  it('have the configured length, from letters and digits nobody misreads', () => {
    for (let i = 0; i < 50; i++) {
      const code = newOneTimeCode(8);
      assert.equal(code.length, 8);
      assert.ok([...code].every((c) => CODE_ALPHABET.includes(c)), code);
    }
    assert.doesNotMatch(CODE_ALPHABET, /[IO01]/);
    assert.equal(newOneTimeCode(12).length, 12);
  });

  it('are read as typed: spaces and dashes dropped, any case', () => {
    assert.equal(normaliseCode(' abcd-efgh '), 'ABCDEFGH');
    assert.equal(normaliseCode('AB CD\tEF GH'), 'ABCDEFGH');
  });
});

describe('after elevating: only a page of this portal', () => {
  const req = fakeRequest({});
  it('follows rd to a portal page of the same origin, as a path', () => {
    assert.equal(portalReturn(req, 'https://auth.example.test/settings/password'), '/settings/password');
    assert.equal(portalReturn(req, '/settings/totp?x=1'), '/settings/totp?x=1');
  });
  it('anything else goes to the settings page', () => {
    for (const rd of ['', 'https://evil.example/', '//evil.example/x', 'http://auth.example.test/settings', 'https://user:pw@auth.example.test/settings', 'javascript:alert(1)', 'https://auth.example.test/elevate?rd=x']) {
      assert.equal(portalReturn(req, rd), '/settings', rd);
    }
  });
});

describe('elevated without a code', () => {
  it('a second factor proven just now elevates (completeSecondFactor), until elevation_lifespan has passed', async () => {
    const req = fakeRequest({ amr: ['pwd'], identity: { username: 'alice' } });
    assert.equal(isElevated(settings(), req), false);
    await completeSecondFactor(req, 'otp', NOW, { sessions: { add: async () => {}, move: async () => false }, ip: '192.0.2.1' });
    assert.equal(req.sessionID, 'second-id');
    assert.equal(authenticationLevel(req.session.amr), 2);
    assert.equal(isElevated(settings(), req), true);
    const standing = { user: { username: 'alice' } as never, level: 2, elevatedUntil: undefined, secondFactorAt: req.session.secondFactorAt, elevationLifespanMs: 600_000 };
    assert.equal(guardRefusal('ELEVATED', standing, NOW + 599_000), null);
    assert.equal(guardRefusal('ELEVATED', standing, NOW + 601_000), 'not-elevated');
    const later = { ...settings(), now: () => NOW + 601_000 } as Parameters<typeof isElevated>[0];
    assert.equal(isElevated(later, req), false);
  });

  it('skip_second_factor: a session with two factors needs no code however old the factor; one factor still does', () => {
    const twoFactors = { user: { username: 'alice' } as never, level: 2, elevatedUntil: undefined, secondFactorAt: NOW - 3_600_000, elevationLifespanMs: 600_000 };
    assert.equal(guardRefusal('ELEVATED', twoFactors, NOW), 'not-elevated');
    assert.equal(guardRefusal('ELEVATED', { ...twoFactors, skipSecondFactor: true }, NOW), null);
    assert.equal(guardRefusal('ELEVATED', { ...twoFactors, level: 1, skipSecondFactor: true }, NOW), 'not-elevated');
    const req = fakeRequest({ amr: ['pwd', 'otp'], secondFactorAt: NOW - 3_600_000 });
    assert.equal(isElevated(settings(), req), false);
    assert.equal(isElevated(settings({ skip_second_factor: true }), req), true);
  });

  it('an e-mailed code elevates until elevatedUntil', () => {
    const req = fakeRequest({ amr: ['pwd'], elevatedUntil: NOW + 1000 });
    assert.equal(isElevated(settings(), req), true);
    assert.equal(isElevated({ ...settings(), now: () => NOW + 1000 } as Parameters<typeof isElevated>[0], req), false);
  });
});
