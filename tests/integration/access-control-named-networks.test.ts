/**
 * `definitions.network`: a rule that names a network applies to clients in it, the address read from
 * X-Forwarded-For as the trusted proxy (127.0.0.1) sends it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { askAuthz, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';

describe('forward auth: a rule naming a network from definitions.network', () => {
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({
      users: { alice: { password: 'alice-password-1' } },
      config: {
        definitions: { network: { office: ['192.0.2.0/24', '2001:db8:1::/48'], vpn: '10.8.0.0/16' } },
        access_control: {
          default_policy: 'deny',
          networks: [{ name: 'lab', networks: ['198.51.100.0/24'] }],
          rules: [
            { domain: 'intranet.example.test', networks: ['office', 'vpn'], policy: 'bypass' },
            { domain: 'lab.example.test', networks: ['lab'], policy: 'bypass' },
          ],
        },
      },
    });
  });
  after(() => gw.close());

  const from = (ip: string, host = 'intranet.example.test') => askAuthz(gw, 'forward-auth', `https://${host}/`, { headers: { 'x-forwarded-for': ip } });

  it('lets a client in one of the named networks through', async () => {
    assert.equal((await from('192.0.2.44')).status, 200);
    assert.equal((await from('10.8.3.4')).status, 200);
    assert.equal((await from('2001:db8:1::5')).status, 200);
  });

  it('refuses a client outside them (the rule does not match, the default policy denies)', async () => {
    assert.equal((await from('203.0.113.9')).status, 403);
    assert.equal((await from('192.0.3.1')).status, 403);
  });

  it('an access_control.networks group still works beside them', async () => {
    assert.equal((await from('198.51.100.20', 'lab.example.test')).status, 200);
    assert.equal((await from('192.0.2.44', 'lab.example.test')).status, 403);
  });

  it('loads without warning that definitions are ignored', () => {
    assert.deepEqual(gw.warnings.filter((line) => line.includes('definitions')), []);
  });
});
