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
    const [problem] = notYetSupportedProblems(parsed({ authentication_backend: { ldap: { address: 'ldap://127.0.0.1' } } }));
    assert.equal(problem?.path, 'authentication_backend.ldap');
    assert.equal(problem?.severity, 'error');
    assert.match(problem?.message ?? '', /decide who may log in: ignoring it would leave Gatehouse more open than configured/);
  });
});
