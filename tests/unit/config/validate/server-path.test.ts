import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { migrateDeprecated } from '../../../../gateway/config/deprecations.ts';
import { serverPathProblems } from '../../../../gateway/config/validate/server-path.ts';
import { validateGatewayConfig } from '../../../../gateway/config/validate/index.ts';
import { parseListenAddress } from '../../../../lib/net/address.ts';
import { parsed } from './parsed.ts';

const AUTH_COOKIE = { domain: 'example.com', authelia_url: 'https://example.com/auth/' };
const problems = (address: string, cookies: Record<string, unknown>[] = [AUTH_COOKIE], upstreams: Record<string, string> = {}) =>
  serverPathProblems(parsed({ server: { address, upstreams }, session: { cookies } }));

describe('parseListenAddress reads the path after host and port', () => {
  it('without a path, or with only a slash, the path is empty', () => {
    assert.deepEqual(parseListenAddress('tcp://:9091'), { host: '0.0.0.0', port: 9091, path: '' });
    assert.deepEqual(parseListenAddress('tcp://:9091/'), { host: '0.0.0.0', port: 9091, path: '' });
    assert.deepEqual(parseListenAddress('127.0.0.1:9091'), { host: '127.0.0.1', port: 9091, path: '' });
  });

  it('a path is kept without its trailing slash, for every host form', () => {
    assert.deepEqual(parseListenAddress('tcp://:9091/auth'), { host: '0.0.0.0', port: 9091, path: '/auth' });
    assert.deepEqual(parseListenAddress('tcp://0.0.0.0:9091/auth/'), { host: '0.0.0.0', port: 9091, path: '/auth' });
    assert.deepEqual(parseListenAddress('tcp://[::1]:9091/auth'), { host: '::1', port: 9091, path: '/auth' });
    // read as written: whether such a path is acceptable is the validator's to say
    assert.deepEqual(parseListenAddress('tcp://:9091/a/b/'), { host: '0.0.0.0', port: 9091, path: '/a/b' });
  });

  it('a query, a fragment, a port out of range or no port is unreadable', () => {
    for (const address of ['tcp://:9091/auth?x=1', 'tcp://:9091/auth#x', 'tcp://:99999/auth', 'tcp://host/auth', 'unix:///run/gatehouse.sock']) {
      assert.equal(parseListenAddress(address), null, address);
    }
  });
});

describe('server.address path: one segment, and every portal under it', () => {
  it('no path, or a path the portal URL lives under, has no problem', () => {
    assert.deepEqual(problems('tcp://:9091', [{ domain: 'example.com', authelia_url: 'https://auth.example.com/' }]), []);
    assert.deepEqual(problems('tcp://:9091/auth'), []);
    assert.deepEqual(problems('tcp://0.0.0.0:9091/auth/', [{ domain: 'example.com', authelia_url: 'https://example.com/auth' }]), []);
    // deeper is fine: the portal is still under the prefix
    assert.deepEqual(problems('tcp://:9091/auth', [{ domain: 'example.com', authelia_url: 'https://example.com/auth/portal/' }]), []);
  });

  it('more than one segment, or anything but letters and digits, is an error at server.address (as Authelia)', () => {
    assert.deepEqual(problems('tcp://:9091/auth/gate'), [
      { path: 'server.address', message: "the path '/auth/gate' must be a single segment (like '/auth')", severity: 'error' },
    ]);
    assert.deepEqual(problems('tcp://:9091/auth-gate'), [
      { path: 'server.address', message: "the path '/auth-gate' must be letters and digits only (like '/auth')", severity: 'error' },
    ]);
    assert.deepEqual(problems('tcp://:9091/auth//'), [
      { path: 'server.address', message: "the path '/auth/' must be a single segment (like '/auth')", severity: 'error' },
    ]);
  });

  it('a portal URL outside the prefix is an error at its authelia_url (or portal_url), with the URL that would fit', () => {
    assert.deepEqual(
      problems('tcp://:9091/auth', [
        { domain: 'example.com', authelia_url: 'https://auth.example.com/' },
        { domain: 'example.org', portal_url: 'https://example.org/authx/' },
        { domain: 'example.net', authelia_url: 'https://example.net/auth/' },
      ]),
      [
        {
          path: 'session.cookies[0].authelia_url',
          message: "the path '/' is outside server.address's path '/auth': Gatehouse answers only under /auth/, so the portal must live there (like 'https://auth.example.com/auth/')",
          severity: 'error',
        },
        {
          path: 'session.cookies[1].portal_url',
          message: "the path '/authx/' is outside server.address's path '/auth': Gatehouse answers only under /auth/, so the portal must live there (like 'https://example.org/auth/')",
          severity: 'error',
        },
      ],
    );
  });

  it('the path is case-sensitive, as the routing is', () => {
    assert.equal(problems('tcp://:9091/Auth').length, 1);
  });

  it('server.upstreams beside a path is an error: the embedded proxy takes whole hosts', () => {
    assert.deepEqual(problems('tcp://:9091/auth', [AUTH_COOKIE], { 'app.example.com': 'http://127.0.0.1:8080' }), [
      {
        path: 'server.upstreams',
        message: "cannot be used with a path in server.address ('/auth'): the embedded proxy answers for whole hosts, outside any path; put a proxy in front of Gatehouse, or listen without a path",
        severity: 'error',
      },
    ]);
  });

  it('runs with the other validators', () => {
    const config = parsed({ server: { address: 'tcp://:9091/auth' }, session: { cookies: [{ domain: 'example.com', authelia_url: 'https://auth.example.com/' }] } });
    assert.ok(validateGatewayConfig(config).some((p) => p.path === 'session.cookies[0].authelia_url' && p.severity === 'error'));
  });
});

describe("Authelia's legacy server.path is the same prefix", () => {
  it('server.path: auth with host and port becomes tcp://host:port/auth, validated as if written so', () => {
    const { raw } = migrateDeprecated({ server: { host: '0.0.0.0', port: 9091, path: 'auth' }, session: { cookies: [AUTH_COOKIE] } });
    const config = parsed(raw);
    assert.equal(config.server.address, 'tcp://0.0.0.0:9091/auth');
    assert.deepEqual(serverPathProblems(config), []);
  });

  it('a legacy path of two segments is refused, as Authelia refuses it', () => {
    const { raw } = migrateDeprecated({ server: { path: '/auth/gate/' }, session: { cookies: [AUTH_COOKIE] } });
    assert.deepEqual(serverPathProblems(parsed(raw)).map((p) => p.path), ['server.address']);
  });
});
