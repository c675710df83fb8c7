/**
 * Behind the gateway the browser's session cookie authenticates (the gateway turns it into
 * Remote-User), so the monitor refuses a state-changing request a page on another origin made the
 * browser send. requireJson lets a body-less POST without Content-Type through, which
 * `fetch(url, {method: 'POST', mode: 'no-cors', credentials: 'include'})` sends without a preflight
 * (the cookie goes along from any same-site page, e.g. another app under the gateway's cookie domain).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startAuthServer, type AuthServer } from './monitor-auth-harness.ts';

describe('cross-origin POSTs through the gateway', () => {
  let server: AuthServer;
  before(async () => {
    server = await startAuthServer({ config: { trusted_proxies: ['127.0.0.1/32'], remote_user: { group_scopes: { admins: 'full_admin' } } } });
    await server.setup();
  });
  after(() => server.close());

  it('a body-less cross-site POST /api/ssl/disable as a gateway admin is refused', async () => {
    // what the gateway forwards for the browser of alice (admins) when wiki.example.test runs the fetch
    const reply = await server.send('/api/ssl/disable', {
      method: 'POST',
      headers: {
        'Remote-User': 'alice',
        'Remote-Groups': 'admins',
        Origin: 'https://wiki.example.test',
        'Sec-Fetch-Site': 'same-site',
        'Sec-Fetch-Mode': 'no-cors',
        'Content-Length': '0',
      },
    });
    assert.notEqual(reply.status, 200, `accepted: ${reply.body}`);
  });

  it("a same-site POST whose Origin names the monitor's own host is still refused: the browser said same-site", async () => {
    const reply = await server.send('/api/ssl/disable', {
      method: 'POST',
      headers: {
        'Remote-User': 'alice',
        'Remote-Groups': 'admins',
        Host: 'monitor.example.test',
        Origin: 'https://monitor.example.test',
        'Sec-Fetch-Site': 'same-site',
        'Content-Length': '0',
      },
    });
    assert.equal(reply.status, 403, reply.body);
  });
});
