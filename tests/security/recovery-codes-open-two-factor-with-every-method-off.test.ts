// With totp.disable and webauthn.disable the gateway has no second factor, and a two_factor rule must
// stay unreachable (config/schema.ts: ignoring a method "never opens anything"). Recovery codes were
// still accepted as a second factor: a user holding codes (made before the methods were turned off,
// or made after elevating with an e-mailed code, as PUT /api/secondfactor/recovery-codes allows) went
// from a password to level 2 and through every two_factor rule. Codes stand in for a method the user
// lost; with no method at all they are refused.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { openStorage } from '../../gateway/storage/open.ts';
import { storageOptionsFromConfig } from '../../gateway/storage/options.ts';
import type { Storage } from '../../gateway/storage/storage.ts';
import { askAuthz, login, portal, PORTAL_ORIGIN, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';

const PASSWORD = 'correct horse battery staple';
const CODES = ['ABCDE-FGHJK', 'BCDEF-GHJKM'];
const TARGET = 'https://secure.example.test/';

describe('recovery codes with every second-factor method disabled', () => {
  let gw: InProcessGateway;
  let storage: Storage;

  before(async () => {
    gw = await startInProcessGateway({
      users: { alice: { password: PASSWORD } },
      config: {
        totp: { disable: true },
        webauthn: { disable: true },
        access_control: { default_policy: 'deny', rules: [{ domain: 'secure.example.test', policy: 'two_factor' }] },
      },
    });
    storage = await openStorage(storageOptionsFromConfig(gw.config.storage), { logger: pino({ level: 'silent' }), migrate: false });
    await storage.recoveryCodes.replace('alice', CODES, gw.clock.now());
  });
  after(async () => {
    await storage?.close();
    await gw?.close();
  });

  it('a recovery code does not make a password session level 2 (API)', async () => {
    const cookie = await login(gw, 'alice', PASSWORD);
    const used = await portal(gw, '/api/secondfactor/recovery-code', { method: 'POST', json: { code: CODES[0] }, headers: { cookie, origin: PORTAL_ORIGIN } });
    assert.notEqual(used.status, 200, used.body);
    const after = `gatehouse_session=${(used.cookies.find((c) => c.name === 'gatehouse_session') ?? { value: cookie.split('=')[1] }).value}`;
    const state = await portal(gw, '/api/state', { headers: { cookie: after } });
    assert.equal(state.json<{ data: { authentication_level: number } }>().data.authentication_level, 1);
    assert.notEqual((await askAuthz(gw, 'forward-auth', TARGET, { cookie: after })).status, 200, 'the two_factor rule was passed');
  });

  it('nor through the /2fa form', async () => {
    const cookie = await login(gw, 'alice', PASSWORD);
    const used = await portal(gw, '/2fa/recovery-code', { method: 'POST', body: new URLSearchParams({ code: CODES[1]! }).toString(), headers: { cookie, origin: PORTAL_ORIGIN, 'content-type': 'application/x-www-form-urlencoded' } });
    assert.notEqual(used.status, 200, used.body.slice(0, 200));
    const after = `gatehouse_session=${(used.cookies.find((c) => c.name === 'gatehouse_session') ?? { value: cookie.split('=')[1] }).value}`;
    assert.notEqual((await askAuthz(gw, 'forward-auth', TARGET, { cookie: after })).status, 200, 'the two_factor rule was passed');
  });
});
