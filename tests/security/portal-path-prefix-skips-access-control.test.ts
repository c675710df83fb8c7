/**
 * After a login the portal follows an `rd` back to one of its own pages without asking access_control
 * (its pages stand behind their own guards). "Its own pages" was a string prefix of the portal path: with
 * the portal at `https://example.test/auth`, `https://example.test/auth-admin/` (an app on the same host)
 * counted as the portal, so access_control was skipped for it: a denied target was followed instead of
 * the default URL, and a two-factor one without asking for the second factor first.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Request } from 'express';
import { redirectAfterLogin } from '../../gateway/portal/login.ts';
import type { Authorizer } from '../../gateway/authz/rules.ts';

function signedInRequest(portal: string): Request {
  return {
    cookieDomain: { domain: 'example.test', portalUrl: new URL(portal), defaultRedirectionUrl: new URL('https://example.test/home') },
    session: { identity: { username: 'alice', groups: [] }, amr: ['pwd'] },
  } as unknown as Request;
}

const denyAll = { evaluate: () => ({ policy: 'deny' }) } as unknown as Authorizer;

describe('rd back to the portal after a login', () => {
  it('is a page below the portal path, not any path that starts with its letters', () => {
    const req = signedInRequest('https://example.test/auth');
    assert.deepEqual(redirectAfterLogin(req, 'https://example.test/auth-admin/users', 'GET', denyAll, '192.0.2.1'), { redirect: 'https://example.test/home' });
    assert.deepEqual(redirectAfterLogin(req, 'https://example.test/authx', 'GET', denyAll, '192.0.2.1'), { redirect: 'https://example.test/home' });
  });

  it('still follows the portal itself and its pages', () => {
    const req = signedInRequest('https://example.test/auth');
    assert.deepEqual(redirectAfterLogin(req, 'https://example.test/auth/oidc/interaction/abc', 'GET', denyAll, '192.0.2.1'), { redirect: 'https://example.test/auth/oidc/interaction/abc' });
    assert.deepEqual(redirectAfterLogin(req, 'https://example.test/auth', 'GET', denyAll, '192.0.2.1'), { redirect: 'https://example.test/auth' });
    const root = signedInRequest('https://auth.example.test/');
    assert.deepEqual(redirectAfterLogin(root, 'https://auth.example.test/settings', 'GET', denyAll, '192.0.2.1'), { redirect: 'https://auth.example.test/settings' });
  });

  it('never leaves for another host or scheme', () => {
    const req = signedInRequest('https://auth.example.test/');
    for (const rd of ['https://evil.test/', 'javascript:alert(1)', 'https://auth.example.test.evil.test/', 'https://auth.example.test@evil.test/', '//evil.test/']) {
      assert.deepEqual(redirectAfterLogin(req, rd, 'GET', denyAll, '192.0.2.1'), { redirect: 'https://example.test/home' }, rd);
    }
  });
});
