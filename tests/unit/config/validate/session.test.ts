import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sessionProblems } from '../../../../gateway/config/validate/session.ts';
import { sentinelsOf } from '../../../../gateway/session/store.ts';
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

  describe('Redis Sentinel (session.redis.high_availability), as Authelia reads it', () => {
    const secret = 'Vb7xK2qN9mR4tW8zL3cF6hJ1-shared';
    const nodes = [{ host: 'sentinel-a' }, { host: 'sentinel-b', port: 26380 }];

    it('the Sentinel nodes alone, without session.redis.host, are a valid configuration; a node port defaults to 26379', () => {
      const raw = { cookies: [cookie], secret, redis: { high_availability: { sentinel_name: 'main', nodes } } };
      assert.deepEqual(session(raw), []);
      const redis = parsed({ session: raw }).session.redis!;
      assert.equal(redis.host, undefined);
      assert.deepEqual(redis.high_availability?.nodes, [{ host: 'sentinel-a', port: 26379 }, { host: 'sentinel-b', port: 26380 }]);
    });

    it('host is one more Sentinel, listed first, each address once; its port defaults to 26379 (0 too), not 6379', () => {
      const redis = parsed({ session: { redis: { host: 'sentinel-b', port: 0, high_availability: { sentinel_name: 'main', nodes } } } }).session.redis!;
      assert.equal(redis.port, 26379);
      assert.deepEqual(sentinelsOf(redis), [{ host: 'sentinel-b', port: 26379 }, { host: 'sentinel-a', port: 26379 }, { host: 'sentinel-b', port: 26380 }]);
      const same = parsed({ session: { redis: { host: 'SENTINEL-A', high_availability: { sentinel_name: 'main', nodes } } } }).session.redis!;
      assert.deepEqual(sentinelsOf(same), [{ host: 'SENTINEL-A', port: 26379 }, { host: 'sentinel-b', port: 26380 }]);
      assert.equal(parsed({ session: { redis: { host: 'redis' } } }).session.redis!.port, 6379);
    });

    it('neither host nor nodes is an error that says what to set', () => {
      assert.deepEqual(session({ cookies: [cookie], secret, redis: { high_availability: { sentinel_name: 'main' } } }), [
        { path: 'session.redis.high_availability.nodes', message: 'is required when session.redis.host is not set: list the Sentinels (host and port) Gatehouse asks for the master', severity: 'error' },
      ]);
      assert.deepEqual(session({ cookies: [cookie], secret, redis: { port: 6380 } }), [
        { path: 'session.redis.host', message: 'is required: the Redis server (or, with Redis Sentinel, set session.redis.high_availability with its nodes)', severity: 'error' },
      ]);
    });

    it('max_retries, route_by_latency and route_randomly are accepted and warned about: Gatehouse does neither', () => {
      const found = session({ cookies: [cookie], secret, redis: { max_retries: 3, high_availability: { sentinel_name: 'main', nodes, route_by_latency: true, route_randomly: true } } });
      assert.deepEqual(found.map(({ path, severity }) => [path, severity]), [
        ['session.redis.max_retries', 'warning'],
        ['session.redis.high_availability.route_by_latency', 'warning'],
        ['session.redis.high_availability.route_randomly', 'warning'],
      ]);
      assert.match(found[0]!.message, /has no effect: Gatehouse never retries a failed Redis command/);
      assert.match(found[1]!.message, /only on the master/);
    });
  });

  it('weaker settings are warnings at the option: same_site none, no inactivity timeout', () => {
    assert.deepEqual(session({ cookies: [{ ...cookie, same_site: 'none' }], inactivity: 0 }), [
      { path: 'session.cookies[0].same_site', message: "is 'none': the session cookie is sent on cross-site requests", severity: 'warning' },
      { path: 'session.inactivity', message: 'is 0: sessions never end for inactivity, only at session.expiration', severity: 'warning' },
    ]);
  });
});
