// the embedded proxy routes on the raw Host header, while the rules see the host
// after WHATWG URL parsing (trailing dot stripped, %-escapes decoded, IDNA-mapped). A Host that
// routes to the `default` upstream but reads as a bypass host to the rules reaches the default app
// anonymously. (These tests fail while the hole is open.)
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.ts';
import { request } from '../helpers/http.ts';
import { BROWSER_ACCEPT, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { freePort } from '../helpers/ports.ts';

describe('embedded proxy: `default` upstream vs a host-specific bypass rule (README example shape)', () => {
  let publicApp: EchoUpstream;
  let privateApp: EchoUpstream;
  let gw: InProcessGateway;

  before(async () => {
    publicApp = await startEchoUpstream();
    privateApp = await startEchoUpstream();
    gw = await startInProcessGateway({
      users: { alice: { password: 'alice-password' } },
      config: {
        server: { upstreams: { 'www.example.test': publicApp.url, default: privateApp.url } },
        access_control: {
          default_policy: 'one_factor',
          rules: [{ domain: 'www.example.test', policy: 'bypass' }],
        },
      },
    });
  });
  after(async () => {
    await gw?.close();
    await publicApp?.close();
    await privateApp?.close();
  });

  const ask = (host: string) =>
    request(`${gw.url}/private`, { headers: { host, accept: BROWSER_ACCEPT, 'x-forwarded-proto': 'https' } });

  it('baseline: anonymous on the private app (any other host) is sent to log in', async () => {
    const r = await ask('intranet.example.test');
    assert.equal(r.status, 302);
    assert.equal(privateApp.requests.length, 0);
  });

  for (const host of ['www.example.test.', 'www%2eexample.test', 'WWW.Example.Test.']) {
    it(`Host: ${JSON.stringify(host)} does not reach the default (private) app anonymously`, async () => {
      const before = privateApp.requests.length;
      const r = await ask(host);
      assert.equal(privateApp.requests.length - before, 0, `private app reached with ${r.status}; it saw Host ${JSON.stringify(privateApp.requests.at(-1)?.headers.host)}`);
    });
  }
});

describe('embedded proxy: X-Forwarded-* from an untrusted client reach the app as if Gatehouse wrote them', () => {
  let app: EchoUpstream;
  let gw: InProcessGateway;
  let base: string;

  before(async () => {
    app = await startEchoUpstream();
    const port = await freePort();
    base = `http://localhost:${port}`;
    gw = await startInProcessGateway({
      config: {
        // the test client (127.0.0.1) is NOT a trusted proxy here: it is an ordinary browser
        server: { address: `tcp://127.0.0.1:${port}`, trusted_proxies: ['192.0.2.1/32'], upstreams: { default: app.url } },
        session: { cookies: [{ domain: 'localhost', authelia_url: `${base}/auth/` }] },
        access_control: { default_policy: 'one_factor', rules: [{ domain: 'localhost', resources: ['^/open/'], policy: 'bypass' }] },
      },
    });
  });
  after(async () => {
    await gw?.close();
    await app?.close();
  });

  it('the app sees the real client address and scheme, not the ones the client made up', async () => {
    const before = app.requests.length;
    const r = await request(`${base}/open/login`, {
      headers: { 'x-forwarded-for': '203.0.113.7', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.example' },
    });
    assert.equal(r.status, 200);
    const seen = app.requests.slice(before)[0]!.headers;
    // an app (the monitor's rate limits and audit lines, Fail2Ban) takes the client from here
    assert.notEqual(seen['x-forwarded-for'], '203.0.113.7', 'the client chose its own address');
    assert.notEqual(seen['x-forwarded-proto'], 'https', 'the client chose https on a plain-http connection');
    assert.notEqual(seen['x-forwarded-host'], 'evil.example', 'the client chose the host the app builds links with');
  });
});
