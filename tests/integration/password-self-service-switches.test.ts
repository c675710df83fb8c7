/**
 * Authelia's switches for the password self-service: `authentication_backend.password_change.disable`
 * (the change-password page and API refuse with 403 and the settings page offers no button) and
 * `authentication_backend.password_reset.custom_url` (the "forgot password" link goes there and the
 * built-in reset is off, as Authelia registers none of its routes then).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { firstFactor, login, portal, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';
import { ACCESS_CONTROL, mailTo, postForm, postJson, startMailingGateway, USERS, type MailingGateway } from '../helpers/self-service.ts';

const NEW_PASSWORD = 'Tq8#vRw2-new-one-for-alice';

/** A session of `user` elevated by the mailed one-time code (change-password is behind ELEVATED). */
async function elevatedSession(m: MailingGateway, user: string): Promise<string> {
  const cookie = await login(m.gw, user, USERS[user]!.password);
  const before = m.smtp.received.length;
  assert.equal((await postJson(m.gw, '/api/user/session/elevation', {}, { cookie })).status, 200);
  const code = /(?:Your code|Tu código):\s*([A-Z0-9]+)/.exec(mailTo(m.smtp, `${user}@example.test`, before)[0]?.text ?? '')?.[1];
  assert.ok(code, 'a code was mailed');
  assert.equal((await postJson(m.gw, '/api/user/session/elevation', { otc: code }, { cookie }, 'PUT')).status, 200);
  return cookie;
}

describe('authentication_backend.password_change.disable', () => {
  let off: MailingGateway;
  let on: MailingGateway;
  before(async () => {
    off = await startMailingGateway({ config: { authentication_backend: { password_change: { disable: true } } } });
    on = await startMailingGateway();
  });
  after(async () => {
    await off?.close();
    await on?.close();
  });

  it('the API refuses an elevated session with 403, and the password stays as it was', async () => {
    const cookie = await elevatedSession(off, 'alice');
    const refused = await postJson(off.gw, '/api/change-password', { old_password: USERS.alice!.password, new_password: NEW_PASSWORD }, { cookie });
    assert.equal(refused.status, 403, refused.body);
    assert.match(refused.body, /Changing your password is turned off on this server/);
    assert.equal((await firstFactor(off.gw, { username: 'alice', password: NEW_PASSWORD })).status, 401);
    assert.equal((await firstFactor(off.gw, { username: 'alice', password: USERS.alice!.password })).status, 200);
  });

  it('the page and its form answer 403, in the language asked for', async () => {
    const cookie = await elevatedSession(off, 'alice');
    const page = await portal(off.gw, '/settings/password', { headers: { cookie, 'accept-language': 'es' } });
    assert.equal(page.status, 403);
    assert.match(page.body, /El cambio de contraseña está desactivado/);
    const form = await postForm(off.gw, '/settings/password', { old_password: USERS.alice!.password, new_password: NEW_PASSWORD, confirm: NEW_PASSWORD }, { cookie });
    assert.equal(form.status, 403);
    assert.equal((await firstFactor(off.gw, { username: 'alice', password: NEW_PASSWORD })).status, 401);
  });

  it('the settings page offers no change-password button, and /api/configuration says so (Authelia\'s password_change_disabled)', async () => {
    const cookie = await elevatedSession(off, 'alice');
    const settings = await portal(off.gw, '/settings', { headers: { cookie } });
    assert.equal(settings.status, 200);
    assert.doesNotMatch(settings.body, /settings\/password/);
    const configuration = await portal(off.gw, '/api/configuration', { headers: { cookie } });
    assert.equal(configuration.json<{ data: { password_change_disabled: boolean } }>().data.password_change_disabled, true);

    const other = await elevatedSession(on, 'alice');
    assert.match((await portal(on.gw, '/settings', { headers: { cookie: other } })).body, /settings\/password/);
    const configurationOn = await portal(on.gw, '/api/configuration', { headers: { cookie: other } });
    assert.equal(configurationOn.json<{ data: { password_change_disabled: boolean } }>().data.password_change_disabled, false);
  });
});

describe('authentication_backend.password_reset.custom_url', () => {
  const CUSTOM = 'https://accounts.example.test/forgot?from=gatehouse';
  let gw: InProcessGateway;
  before(async () => {
    // no notifier: with a custom URL none is needed
    gw = await startInProcessGateway({ users: USERS, config: { access_control: ACCESS_CONTROL, authentication_backend: { password_reset: { custom_url: CUSTOM } } } });
  });
  after(() => gw?.close());

  it('the login page links "forgot password" to the custom URL', async () => {
    const page = await portal(gw, '/');
    assert.equal(page.status, 200);
    assert.ok(page.body.includes(`href="${CUSTOM.replace('&', '&amp;')}"`), 'the link goes to the custom URL');
    assert.doesNotMatch(page.body, /href="[^"]*\/reset-password"/);
  });

  it('the built-in reset page sends the browser there; its API is off (404)', async () => {
    const page = await portal(gw, '/reset-password');
    assert.equal(page.status, 302);
    assert.equal(page.headers.location, CUSTOM);
    const start = await postJson(gw, '/api/reset-password/identity/start', { username: 'alice' });
    assert.equal(start.status, 404);
    const form = await postForm(gw, '/reset-password', { username: 'alice' });
    assert.equal(form.status, 404);
  });

  it('/api/configuration reports reset as not disabled, as Authelia does (the custom URL is the reset)', async () => {
    const cookie = await login(gw, 'alice', USERS.alice!.password);
    const configuration = await portal(gw, '/api/configuration', { headers: { cookie } });
    assert.equal(configuration.json<{ data: { password_reset_disabled: boolean } }>().data.password_reset_disabled, false);
  });
});
