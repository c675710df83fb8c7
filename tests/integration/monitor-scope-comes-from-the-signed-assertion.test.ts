/**
 * The gateway's signed assertion makes a Remote-User forged inside the trusted network fail, and it
 * decides the scope too, so a gateway user with a trusted-network position (any local process when
 * trusted_proxies is 127.0.0.1) cannot get the monitor's full_admin:
 *  1. the scope comes from the assertion's signed `groups`, not from the unsigned Remote-Groups header;
 *  2. only the hosts in identity_assertion.audiences get an assertion, so another app behind the
 *     gateway holds none the monitor would accept.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createRemoteJWKSet } from 'jose';
import { askAuthz, login, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { startAuthServer, type AuthServer } from './monitor-auth-harness.ts';

const USERS = {
  alice: { password: 'alice-password-1', displayname: 'Alice', email: 'alice@example.test', groups: ['admins'] },
  bob: { password: 'bob-password-1', displayname: 'Bob', email: 'bob@example.test', groups: ['dev'] },
};
const ACCESS = {
  default_policy: 'deny',
  rules: [
    { domain: 'monitor.example.test', policy: 'one_factor', subject: [['group:admins'], ['group:dev']] },
    { domain: 'wiki.example.test', policy: 'one_factor' },
  ],
};

describe('the monitor trusts no more than the gateway assertion says', () => {
  let temp: { dir: string; cleanup: () => Promise<void> };
  let gw: InProcessGateway;
  let monitor: AuthServer;

  before(async () => {
    temp = await makeTempDir();
    gw = await startInProcessGateway({
      dir: temp.dir,
      users: USERS,
      config: { access_control: ACCESS, identity_assertion: { audiences: { 'monitor.example.test': 'monitor' }, lifespan: '60s', key_path: join(temp.dir, 'assertion-key.pem') } },
    });
    monitor = await startAuthServer({
      config: {
        trusted_proxies: ['127.0.0.1/32'],
        remote_user: { group_scopes: { admins: 'full_admin' }, default_scope: 'read_only', assertion: { jwks_url: `${gw.url}/jwks.json`, audience: 'monitor' } },
      },
      assertionKeys: createRemoteJWKSet(new URL(`${gw.url}/jwks.json`)),
    });
    await monitor.setup();
  });
  after(async () => {
    await monitor?.close();
    await gw?.close();
    await temp?.cleanup();
  });

  const assertionFor = async (user: string, password: string, target: string): Promise<string> => {
    const cookie = await login(gw, user, password);
    const answer = await askAuthz(gw, 'auth-request', target, { cookie });
    assert.equal(answer.status, 200, `gateway answer for ${user} at ${target}`);
    const jws = answer.headers['remote-assertion'];
    assert.ok(typeof jws === 'string' && jws !== '', 'the gateway issued an assertion');
    return jws;
  };

  it('bob (group dev: read_only at the monitor) cannot become full_admin by adding Remote-Groups: admins to his own assertion', async () => {
    // bob's own, genuine assertion: sub=bob, groups=["dev"]
    const jws = await assertionFor('bob', 'bob-password-1', 'https://monitor.example.test/');
    const reply = await monitor.send('/api/terminal/ticket', {
      method: 'POST',
      headers: { 'Remote-User': 'bob', 'Remote-Groups': 'admins', 'Remote-Assertion': jws },
    });
    assert.equal(reply.status, 403, `forged Remote-Groups accepted: ${reply.body}`);
    const read = await monitor.send('/api/system', { headers: { 'Remote-User': 'bob', 'Remote-Groups': 'admins', 'Remote-Assertion': jws } });
    assert.equal(read.status, 200, 'his genuine read_only access still works');
  });

  it('an app not named in identity_assertion.audiences (wiki) gets no assertion to replay at the monitor', async () => {
    const cookie = await login(gw, 'alice', 'alice-password-1');
    const answer = await askAuthz(gw, 'auth-request', 'https://wiki.example.test/page', { cookie });
    assert.equal(answer.status, 200);
    assert.equal(answer.headers['remote-assertion'], '', 'the wiki received an assertion');
  });
});
