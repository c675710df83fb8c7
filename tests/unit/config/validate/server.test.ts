import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { serverProblems } from '../../../../gateway/config/validate/server.ts';
import { parsed } from './parsed.ts';

const server = (raw: Record<string, unknown>) => serverProblems(parsed({ server: raw }).server);

describe('server validator', () => {
  it('the defaults have no problem', () => {
    assert.deepEqual(server({}), []);
  });

  it('an address the listener cannot read is an error at server.address', () => {
    assert.deepEqual(server({ address: 'unix:///run/gatehouse.sock' }), [
      { path: 'server.address', message: "'unix:///run/gatehouse.sock' must look like 'tcp://127.0.0.1:9091', 'tcp://:9091' or, served under a path, 'tcp://:9091/auth'", severity: 'error' },
    ]);
  });

  it('trusted_proxies: a bad entry is an error, a range wider than a proxy a warning, each at its index', () => {
    assert.deepEqual(server({ trusted_proxies: ['10.0.0.1', 'proxy.local', '0.0.0.0/0'] }).map(({ path, severity }) => ({ path, severity })), [
      { path: 'server.trusted_proxies[1]', severity: 'error' },
      { path: 'server.trusted_proxies[2]', severity: 'warning' },
    ]);
  });

  it('upstreams: an http(s) URL under a lower-case host name or default', () => {
    assert.deepEqual(server({ upstreams: { 'App.example.com': 'http://app:8080', default: 'file:///srv' } }), [
      { path: 'server.upstreams.App.example.com', message: "the key must be a lower-case host name or 'default'", severity: 'error' },
      { path: 'server.upstreams.default', message: "'file:///srv' must be an http:// or https:// URL", severity: 'error' },
    ]);
  });

  it('authz endpoints: what Gatehouse would not honour is an error, an ignored cache a warning', () => {
    const found = server({
      endpoints: {
        authz: {
          Envoy: { implementation: 'ExtAuthz' },
          'forward-auth': { implementation: 'ForwardAuth', authn_strategies: [{ name: 'HeaderAuthorization', schemes: ['Basic'], scheme_basic_cache_lifespan: '5m' }] },
        },
      },
    });
    assert.deepEqual(found.map(({ path, severity }) => ({ path, severity })), [
      { path: 'server.endpoints.authz.Envoy', severity: 'error' },
      { path: 'server.endpoints.authz.Envoy.implementation', severity: 'error' },
      { path: 'server.endpoints.authz.forward-auth.authn_strategies[0].scheme_basic_cache_lifespan', severity: 'warning' },
    ]);
  });
});
