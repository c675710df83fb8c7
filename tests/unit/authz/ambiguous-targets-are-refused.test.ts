// the forward-auth target must be what the proxy and the app act on, not a
// rewritten form of it. Each test fails while the hole is open.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { normalisePath } from '../../../gateway/authz/path.ts';
import { compileAccessControl } from '../../../gateway/authz/rules.ts';
import { enableLinearEngine } from '../../../gateway/authz/linear-regex.ts';
import { BadAuthzRequest, parseTarget } from '../../../gateway/authz/target.ts';

// as bin/gatehouse.ts does at startup
enableLinearEngine();

describe('parseTarget refuses a host the URL parser would rewrite into another host', () => {
  // WHATWG URL decodes %-escapes in hosts, drops soft hyphens and tabs, maps full-width letters and
  // ideographic full stops: proxies route (and apps read Host) on the raw text, the rules on the rewrite.
  const rewritten = [
    'https://public%2eexample.test/',
    'https://pub\u00adlic.example.test/', // soft hyphen, a latin1 byte in a header
    'https://pub\tlic.example.test/',
    'https://public\u3002example.test/',
    'https://\uff50ublic.example.test/',
    'https:///public.example.test/x', // nginx's $scheme://$http_host$request_uri when the client sent no Host
  ];
  for (const raw of rewritten) {
    it(JSON.stringify(raw), () => {
      let host: string | undefined;
      try {
        host = parseTarget(raw, 'GET').host;
      } catch (error) {
        assert.ok(error instanceof BadAuthzRequest);
        return;
      }
      assert.fail(`accepted and evaluated as host '${host}'`);
    });
  }
});

describe('normalisePath refuses dot segments instead of resolving them', () => {
  // nginx (proxy_pass without URI), Caddy and the embedded proxy forward the raw path; Express,
  // Werkzeug and other routers match it without resolving dot segments, so `/admin/../public/x`
  // is the admin area there while the rules see `/public/x`.
  for (const raw of ['/admin/../public/x', '/admin/%2e%2e/public/x', '/admin/%2E%2E/public/x', '/admin/./../public/x']) {
    it(raw, () => assert.equal(normalisePath(raw), null));
  }
});

describe('resources regexes (Go/RE2 syntax, linear there) cannot stall the event loop', () => {
  it("an anonymous 33-character path against '^/api/(\\w+/?)*$' is decided in well under a second", () => {
    const authorizer = compileAccessControl({
      default_policy: 'deny',
      networks: [],
      rules: [
        { domain: ['app.example.test'], resources: ['^/api/(\\w+/?)*$'], policy: 'bypass' },
        { domain: ['app.example.test'], policy: 'one_factor' },
      ],
    });
    const path = normalisePath(`/api/${'a'.repeat(26)}!`)!;
    const started = performance.now();
    authorizer.evaluate({ host: 'app.example.test', path, method: 'GET' }, null);
    const ms = performance.now() - started;
    assert.ok(ms < 100, `one request held the event loop for ${Math.round(ms)} ms (each extra character doubles it)`);
  });
});

describe("parseTarget refuses a '#' in the request target instead of cutting the path there", () => {
  // nginx forwards `/public/x#/../../secret` raw to the app (proxy_pass without URI); Go's server keeps
  // the `#` in r.URL.Path and http.FileServer cleans that to /secret. The rules saw `/public/x`.
  it('https://app.example.test/public/x#/../../secret', () => {
    assert.throws(() => parseTarget('https://app.example.test/public/x#/../../secret', 'GET'), BadAuthzRequest);
  });
});
