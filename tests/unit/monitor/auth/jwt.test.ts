/** Monitor tokens: every claim required, nothing decoded without verification. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { issueToken, verifyToken } from '../../../../monitor/auth/jwt.ts';

const secret = 'k'.repeat(64);
const now = Date.now();

function craft(claims: Record<string, unknown>, key = secret): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(key));
}

const complete = () => ({
  sub: 'admin', username: 'admin', iat: Math.floor(now / 1000), exp: Math.floor(now / 1000) + 60,
  iss: 'gatehouse-monitor', aud: 'api', jti: 'j1', scope: 'read_only', token_use: 'api_token',
});

describe('issue and verify', () => {
  it('round-trips the claims and expires on time', async () => {
    const issued = await issueToken(secret, { username: 'admin', scope: 'full_admin', use: 'session', lifetimeSeconds: 60, nowMs: now });
    const claims = await verifyToken(secret, issued.token, now);
    assert.equal(claims?.scope, 'full_admin');
    assert.equal(claims?.jti, issued.jti);
    assert.equal(await verifyToken(secret, issued.token, now + 61_000), null);
    assert.equal(await verifyToken('x'.repeat(64), issued.token, now), null);
  });

  it('accepts a hand-made token with every claim', async () => {
    assert.notEqual(await verifyToken(secret, await craft(complete()), now), null);
  });

  for (const claim of ['sub', 'username', 'iat', 'exp', 'iss', 'aud', 'jti', 'scope', 'token_use']) {
    it(`refuses a token without ${claim} (ProxMenux treated a missing scope as full_admin)`, async () => {
      const claims: Record<string, unknown> = complete();
      delete claims[claim];
      assert.equal(await verifyToken(secret, await craft(claims), now), null);
    });
  }

  it('refuses ProxMenux\'s issuer, another audience, an unknown scope and sub ≠ username', async () => {
    for (const change of [{ iss: 'proxmenux-monitor' }, { aud: 'web' }, { scope: 'root' }, { sub: 'root' }]) {
      assert.equal(await verifyToken(secret, await craft({ ...complete(), ...change }), now), null, JSON.stringify(change));
    }
  });
});
