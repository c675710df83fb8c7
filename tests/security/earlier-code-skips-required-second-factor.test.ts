/**
 * With identity_validation.elevated_session.require_second_factor, a user who has a second factor must
 * use it to elevate: no code is mailed. The check was only made when a code was asked for, not when one
 * was typed: a code mailed while the account had no second factor yet (5 minutes earlier) still elevated
 * a password-only session after a factor was added, and that session could then remove the factor.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { openStorage } from '../../gateway/storage/open.ts';
import { storageOptionsFromConfig } from '../../gateway/storage/options.ts';
import { login, portal } from '../helpers/inprocess-gateway.ts';
import { mailTo, postJson, startMailingGateway, USERS } from '../helpers/self-service.ts';

describe('require_second_factor holds for a code mailed before the factor existed', () => {
  it('the code is refused once the user has a second factor; the session is not elevated', async () => {
    const m = await startMailingGateway({ config: { identity_validation: { elevated_session: { require_second_factor: true } } } });
    const storage = await openStorage(storageOptionsFromConfig(m.gw.config.storage), { logger: pino({ level: 'silent' }), migrate: false, now: m.gw.clock.now });
    try {
      const cookie = await login(m.gw, 'alice', USERS.alice!.password);
      const before = m.smtp.received.length;
      assert.equal((await postJson(m.gw, '/api/user/session/elevation', {}, { cookie })).status, 200, 'no second factor yet: a code');
      const code = /Your code:\s*([A-Z0-9]+)/.exec(mailTo(m.smtp, 'alice@example.test', before)[0]!.text)![1]!;
      // a second factor is added (elsewhere) before the code is typed
      await storage.totp.save({ username: 'alice', issuer: 'Gatehouse', algorithm: 'SHA1', digits: 6, period: 30, secret: Buffer.alloc(20, 7), createdAt: m.gw.clock.now() });
      const used = await postJson(m.gw, '/api/user/session/elevation', { otc: code }, { cookie }, 'PUT');
      assert.equal(used.status, 403);
      const state = (await portal(m.gw, '/api/user/session/elevation', { headers: { cookie } })).json<{ data: { elevated: boolean } }>();
      assert.equal(state.data.elevated, false);
    } finally {
      await storage.close();
      await m.close();
    }
  });
});
