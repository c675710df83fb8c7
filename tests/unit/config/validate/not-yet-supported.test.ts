import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { notYetSupportedProblems } from '../../../../gateway/config/validate/not-yet-supported.ts';
import { parsed } from './parsed.ts';

describe('Authelia options Gatehouse does not implement yet', () => {
  it('one that only widens nothing is a warning at its path', () => {
    assert.deepEqual(notYetSupportedProblems(parsed({ duo_api: { hostname: 'api.example.com' } })), [
      { path: 'duo_api', message: 'is an Authelia option Gatehouse does not implement yet; it is ignored', severity: 'warning' },
    ]);
  });

  it('one whose effect would be to refuse more is an error at its path', () => {
    const [problem] = notYetSupportedProblems(parsed({ server: { endpoints: { rate_limits: { reset_password_finish: { enable: true } } } } }));
    assert.equal(problem?.path, 'server.endpoints.rate_limits');
    assert.equal(problem?.severity, 'error');
    assert.match(problem?.message ?? '', /limits how often a client may try: ignoring it would leave Gatehouse more open than configured/);
  });

  it('WebAuthn metadata checks and authenticator filters would refuse keys: an error when they would, a warning when they would not', () => {
    const errors = notYetSupportedProblems(parsed({ webauthn: { metadata: { enabled: true }, filtering: { prohibited_aaguids: ['ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4'] } } }));
    assert.deepEqual(errors.map(({ path, severity }) => [path, severity]), [['webauthn.metadata', 'error'], ['webauthn.filtering', 'error']]);
    assert.match(errors[0]!.message, /refuses security keys the FIDO metadata service does not know or has revoked/);
    const warnings = notYetSupportedProblems(parsed({ webauthn: { metadata: { enabled: false }, filtering: { permitted_aaguids: [] } } }));
    assert.deepEqual(warnings.map(({ path, severity }) => [path, severity]), [['webauthn.metadata', 'warning'], ['webauthn.filtering', 'warning']]);
  });

  it('options that mean nothing in Gatehouse warn when set to something other than their default', () => {
    const found = notYetSupportedProblems(parsed({ server: { asset_path: '/config/assets', disable_healthcheck: true }, notifier: { template_path: '' } }));
    assert.deepEqual(found.map(({ path, severity }) => [path, severity]), [['server.asset_path', 'warning'], ['server.disable_healthcheck', 'warning']]);
    assert.match(found[0]!.message, /^has no effect: the portal's pages and assets are Gatehouse's own/);
  });
});
