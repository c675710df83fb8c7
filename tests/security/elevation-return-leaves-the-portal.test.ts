// After a second factor (which counts as elevation for elevation_lifespan), /elevate?rd= sends the
// browser back to the page that asked for elevation. portalReturn checked that rd parsed to the
// portal's origin and returned its path, but a path may start with `//`: rd =
// `https://auth.example.test//evil.example/` became `Location: //evil.example/`, a protocol-relative
// URL the browser follows to another site (an open redirect right after the user proved both factors).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generateSync } from 'otplib';
import pino from 'pino';
import { openStorage } from '../../gateway/storage/open.ts';
import { storageOptionsFromConfig } from '../../gateway/storage/options.ts';
import type { Storage } from '../../gateway/storage/storage.ts';
import { login, portal, PORTAL_ORIGIN, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';

const PASSWORD = 'correct horse battery staple';

describe('the way back from /elevate stays on the portal', () => {
  let gw: InProcessGateway;
  let storage: Storage;
  let cookie: string;

  before(async () => {
    gw = await startInProcessGateway({ users: { alice: { password: PASSWORD, email: 'alice@example.test' } }, config: { access_control: { default_policy: 'two_factor' } } });
    storage = await openStorage(storageOptionsFromConfig(gw.config.storage), { logger: pino({ level: 'silent' }), migrate: false });
    const secret = randomBytes(20);
    await storage.totp.save({ username: 'alice', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret, createdAt: gw.clock.now() });
    const first = await login(gw, 'alice', PASSWORD);
    const token = generateSync({ secret: new Uint8Array(secret), epoch: Math.floor(gw.clock.now() / 1000) });
    const second = await portal(gw, '/api/secondfactor/totp', { method: 'POST', json: { token }, headers: { cookie: first, origin: PORTAL_ORIGIN } });
    assert.equal(second.status, 200, second.body);
    cookie = `gatehouse_session=${second.cookies.find((c) => c.name === 'gatehouse_session')!.value}`;
  });
  after(async () => {
    await storage?.close();
    await gw?.close();
  });

  for (const rd of ['https://auth.example.test//evil.example/', 'https://auth.example.test//evil.example', '/%2F/evil.example/', 'https://auth.example.test///evil.example/x']) {
    it(`rd=${rd} is not followed off the portal`, async () => {
      const response = await portal(gw, `/elevate?rd=${encodeURIComponent(rd)}`, { headers: { cookie } });
      assert.equal(response.status, 303, response.body);
      const location = String(response.headers.location);
      const resolved = new URL(location, `${PORTAL_ORIGIN}/elevate`);
      assert.equal(resolved.origin, PORTAL_ORIGIN, `Location ${location} leaves the portal`);
      assert.ok(!location.startsWith('//'), `Location ${location} is protocol-relative`);
    });
  }

  it('a path on the portal is still followed', async () => {
    const response = await portal(gw, `/elevate?rd=${encodeURIComponent('https://auth.example.test/settings/totp?x=1')}`, { headers: { cookie } });
    assert.equal(response.status, 303);
    assert.equal(response.headers.location, '/settings/totp?x=1');
  });
});
