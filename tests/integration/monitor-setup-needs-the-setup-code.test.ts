/**
 * Behind the gateway (npm start: trusted loopback + the signed assertion) the dashboard never offers
 * "Protect your dashboard?" (Remote-User goes straight in), so auth.json stays unconfigured for good.
 * POST /api/auth/setup therefore needs the setup code (or a full_admin identity): otherwise any local
 * process that can reach 127.0.0.1:8008 could create the local login and get a full_admin session.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startAuthServer, type AuthServer } from './monitor-auth-harness.ts';

describe('first-run setup behind the gateway needs more than reaching the port', () => {
  let server: AuthServer;
  before(async () => {
    // monitor/embedded.ts's remote_user settings (the JWKS is never fetched in this test)
    server = await startAuthServer({
      config: {
        trusted_proxies: ['127.0.0.1/32', '::1/128'],
        remote_user: { group_scopes: { admins: 'full_admin' }, default_scope: 'read_only', assertion: { jwks_url: 'http://127.0.0.1:1/jwks.json', audience: 'monitor' } },
      },
    });
  });
  after(() => server.close());

  it('a local process without any identity cannot claim the monitor with POST /api/auth/setup', async () => {
    const claim = await server.send('/api/auth/setup', { from: '127.0.0.2', json: { username: 'mallory', password: 'Mallory-Owns-It-1' } });
    if (claim.status === 200) {
      const ticket = await server.send('/api/terminal/ticket', { from: '127.0.0.2', method: 'POST', token: claim.json.token });
      assert.fail(`setup accepted without identity; session scope gets the terminal ticket route: ${ticket.status}`);
    }
    assert.notEqual(claim.status, 200);
  });
});
