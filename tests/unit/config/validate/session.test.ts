import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sessionProblems } from '../../../../gateway/config/validate/session.ts';
import { parsed } from './parsed.ts';

const session = (raw: Record<string, unknown>) => sessionProblems(parsed({ session: raw }).session);
const cookie = { domain: 'example.com', authelia_url: 'https://auth.example.com/' };

describe('session validator', () => {
  it('one cookie domain with its portal has no problem', () => {
    assert.deepEqual(session({ cookies: [cookie] }), []);
  });

  it('no cookie domain is an error at session.cookies', () => {
    assert.deepEqual(session({}), [
      { path: 'session.cookies', message: "is required: add at least one entry with 'domain' and 'authelia_url'", severity: 'error' },
    ]);
  });

  it('each cookie problem is at that entry: the domain, the portal URL, a domain configured twice', () => {
    const found = session({
      cookies: [cookie, { domain: '.example.org', authelia_url: 'https://auth.example.org' }, { domain: 'example.net', authelia_url: 'https://auth.example.com' }, cookie],
    });
    assert.deepEqual(found.map(({ path }) => path), [
      'session.cookies[1].domain',
      'session.cookies[1].authelia_url',
      'session.cookies[2].authelia_url',
      'session.cookies[3].domain',
    ]);
    assert.match(found[0]!.message, /must be a plain domain without a leading dot/);
    assert.match(found[2]!.message, /the host 'auth\.example\.com' is not 'example\.net' or below it/);
    assert.match(found[3]!.message, /is already configured by session\.cookies\[0\]/);
  });

  it('Redis needs a shared secret; a weak secret is refused where it is set', () => {
    assert.deepEqual(session({ cookies: [cookie], redis: { host: 'redis' } }), [
      { path: 'session.secret', message: 'is required when session.redis is set, so that every instance can read the sessions', severity: 'error' },
    ]);
    const [weak] = session({ cookies: [cookie], secret: 'short' });
    assert.equal(weak?.path, 'session.secret');
    assert.match(weak?.message ?? '', /^must be at least 20 characters; generate one with: /);
  });

  it('weaker settings are warnings at the option: same_site none, no inactivity timeout', () => {
    assert.deepEqual(session({ cookies: [{ ...cookie, same_site: 'none' }], inactivity: 0 }), [
      { path: 'session.cookies[0].same_site', message: "is 'none': the session cookie is sent on cross-site requests", severity: 'warning' },
      { path: 'session.inactivity', message: 'is 0: sessions never end for inactivity, only at session.expiration', severity: 'warning' },
    ]);
  });
});
