import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { selfServiceProblems } from '../../../../gateway/config/validate/self-service.ts';
import { parsed } from './parsed.ts';

const TWO_FACTOR_RULE = { rules: [{ domain: 'public.example.com', policy: 'bypass' }, { domain: 'pve.example.com', policy: 'two_factor' }] };
const paths = (raw: Record<string, unknown>) => selfServiceProblems(parsed(raw)).map((p) => `${p.severity} ${p.path}`);

describe('self-service validator: settings that leave people stuck', () => {
  it('a two_factor rule with every second-factor method disabled is a warning at that rule', () => {
    assert.deepEqual(paths({ access_control: TWO_FACTOR_RULE, totp: { disable: true }, webauthn: { disable: true } }), ['warning access_control.rules[1]']);
    assert.match(selfServiceProblems(parsed({ access_control: TWO_FACTOR_RULE, totp: { disable: true }, webauthn: { disable: true } }))[0]!.message, /nobody can reach it/);
    assert.deepEqual(paths({ access_control: { default_policy: 'two_factor' }, totp: { disable: true }, webauthn: { disable: true } }), ['warning access_control.default_policy']);
  });

  it('one method left is enough; no two_factor rule needs none', () => {
    assert.deepEqual(paths({ access_control: TWO_FACTOR_RULE, totp: { disable: true } }), []);
    assert.deepEqual(paths({ access_control: TWO_FACTOR_RULE, webauthn: { disable: true } }), []);
    assert.deepEqual(paths({ access_control: { default_policy: 'one_factor' }, totp: { disable: true }, webauthn: { disable: true } }), []);
  });

  it('the filesystem notifier while reset is enabled is a warning; reset disabled or SMTP is not', () => {
    assert.deepEqual(paths({ notifier: { filesystem: { filename: '/n.txt' } } }), ['warning notifier.filesystem']);
    assert.deepEqual(paths({ notifier: { filesystem: { filename: '/n.txt' } }, authentication_backend: { password_reset: { disable: true } } }), []);
    assert.deepEqual(paths({ notifier: { smtp: { sender: 'auth@example.com' } } }), []);
  });

  it('no notifier at all is no configuration problem (reset is then off, and the gateway logs that at startup)', () => {
    assert.deepEqual(paths({}), []);
  });
});
