import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authenticationBackendProblems } from '../../../../gateway/config/validate/authentication-backend.ts';
import { parsed } from './parsed.ts';

const backend = (raw: Record<string, unknown>) => authenticationBackendProblems(parsed({ authentication_backend: raw }).authentication_backend);

describe('authentication_backend validator', () => {
  it('a users file with the default hashing has no problem', () => {
    assert.deepEqual(backend({ file: { path: '/etc/gatehouse/users.yml' } }), []);
  });

  it('no users file is an error at authentication_backend.file', () => {
    assert.deepEqual(backend({}), [
      { path: 'authentication_backend.file', message: 'is required: set authentication_backend.file.path to a users file (created if missing)', severity: 'error' },
    ]);
  });

  it('weaker argon2 and watch off are warnings at their options', () => {
    assert.deepEqual(backend({ file: { path: '/u.yml', watch: false, password: { argon2: { iterations: 2 } } } }).map(({ path, severity }) => ({ path, severity })), [
      { path: 'authentication_backend.file.password.argon2', severity: 'warning' },
      { path: 'authentication_backend.file.watch', severity: 'warning' },
    ]);
  });

  it('password_reset.custom_url must be an absolute http(s) URL without credentials, as Authelia requires', () => {
    const at = (custom_url: string) => authenticationBackendProblems(parsed({ authentication_backend: { file: { path: '/u.yml' }, password_reset: { custom_url } } }).authentication_backend);
    assert.deepEqual(at('https://accounts.example.com/reset'), []);
    assert.deepEqual(at('ldap://accounts.example.com').map((p) => [p.path, p.severity, p.message]), [
      ['authentication_backend.password_reset.custom_url', 'error', "'ldap://accounts.example.com' must be an http or https URL"],
    ]);
    assert.match(at('/reset')[0]?.message ?? '', /is not an absolute URL/);
    assert.match(at('https://u:p@accounts.example.com/')[0]?.message ?? '', /must not carry credentials/);
  });

  it('file.extra_attributes: a type is required, one of string, integer, boolean; Authelia\'s own attribute names are refused', () => {
    const declared = (extra_attributes: Record<string, unknown>) => parsed({ authentication_backend: { file: { path: '/u.yml', extra_attributes } } }).authentication_backend;
    assert.deepEqual(declared({ employee_id: { value_type: 'integer' } }).file?.extra_attributes, { employee_id: { value_type: 'integer', multi_valued: false } });
    assert.throws(() => declared({ employee_id: { value_type: 'float' } }));
    assert.throws(() => declared({ employee_id: { multi_valued: true } }));
    assert.deepEqual(authenticationBackendProblems(declared({ email: { value_type: 'string' } })).map((p) => [p.path, p.severity]), [
      ['authentication_backend.file.extra_attributes.email', 'error'],
    ]);
  });
});
