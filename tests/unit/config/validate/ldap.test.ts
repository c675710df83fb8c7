/**
 * authentication_backend.ldap is checked with Authelia 4.39.20's rules (validator/authentication.go,
 * validateLDAPAuthenticationBackend), and warned about where it is weaker than it looks.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authenticationBackendProblems } from '../../../../gateway/config/validate/authentication-backend.ts';
import { validateGatewayConfig } from '../../../../gateway/config/validate/index.ts';
import { parseGatewayConfig } from '../../../../gateway/config/load.ts';
import { ConfigError } from '../../../../lib/errors.ts';
import { parsed } from './parsed.ts';

const GOOD = { address: 'ldaps://ldap.example.com', base_dn: 'dc=example,dc=com', user: 'cn=gatehouse,dc=example,dc=com', password: 'service-account-password', implementation: 'rfc2307bis' };

function problems(ldap: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return authenticationBackendProblems(parsed({ authentication_backend: { ldap, ...extra } }).authentication_backend).map((p) => [p.severity, p.path, p.message] as [string, string, string]);
}

const at = (found: ReturnType<typeof problems>, path: string) => found.filter(([, p]) => p === path);

describe('authentication_backend.ldap: a complete block has no problem', () => {
  it('rfc2307bis over ldaps with a service account', () => {
    assert.deepEqual(problems(GOOD), []);
  });

  it('every implementation with its defaults passes the filter rules (only custom needs filters)', () => {
    for (const implementation of ['activedirectory', 'rfc2307bis', 'freeipa', 'lldap', 'glauth']) {
      // lldap's and glauth's warning (no password change time) is tests/security/password-changed-in-the-directory-keeps-sessions.test.ts's
      assert.deepEqual(problems({ ...GOOD, implementation }).filter(([, path]) => path !== 'authentication_backend.ldap.implementation'), [], implementation);
    }
    assert.deepEqual(problems({ ...GOOD, implementation: 'custom', users_filter: '(&({username_attribute}={input})(objectClass=person))', groups_filter: '(member={dn})' }), []);
  });
});

describe('authentication_backend: one source of users', () => {
  it('file and ldap both set is an error', () => {
    assert.deepEqual(problems(GOOD, { file: { path: '/u.yml' } }), [['error', 'authentication_backend', "has both 'file' and 'ldap': configure only one of them"]]);
  });

  it('ldap alone does not ask for a users file', () => {
    assert.deepEqual(at(problems(GOOD), 'authentication_backend.file'), []);
  });
});

describe('authentication_backend.ldap.address', () => {
  it('is required', () => {
    const { address: _, ...rest } = GOOD;
    assert.match(at(problems(rest), 'authentication_backend.ldap.address')[0]?.[2] ?? '', /^is required: /);
  });

  it("only ldap, ldaps and ldapi, in Authelia's words", () => {
    assert.deepEqual(at(problems({ ...GOOD, address: 'tcp://ldap.example.com:389' }), 'authentication_backend.ldap.address'), [
      ['error', 'authentication_backend.ldap.address', "'tcp://ldap.example.com:389' is invalid: scheme must be one of 'ldap', 'ldaps', or 'ldapi' but is configured as 'tcp'"],
    ]);
  });

  it('no query, fragment or user info; ldapi without a host', () => {
    for (const [address, pattern] of [
      ['ldaps://ldap.example.com/?x=1', /has a query/],
      ['ldaps://ldap.example.com/#x', /has a fragment/],
      ['ldaps://admin:secret@ldap.example.com', /has user info/],
      ['ldapi://run/slapd/ldapi', /names a host.*leading forward slash/],
      ['ldaps://ldap example.com', /is not an address/],
    ] as const) {
      const found = at(problems({ ...GOOD, address }), 'authentication_backend.ldap.address');
      assert.equal(found.length, 1, address);
      assert.match(found[0]![2], pattern, address);
      assert.doesNotMatch(found[0]![2], /secret/);
    }
  });

  it('without a scheme, ldaps:// (ldapi:// for a path), as Authelia reads it: no problem', () => {
    assert.deepEqual(problems({ ...GOOD, address: 'ldap.example.com' }), []);
    assert.deepEqual(problems({ ...GOOD, address: '/run/slapd/ldapi' }), []);
  });

  it('ldap:// to a remote host without start_tls is a warning (Authelia loads it): passwords in clear text', () => {
    assert.deepEqual(problems({ ...GOOD, address: 'ldap://ldap.example.com' }), [
      ['warning', 'authentication_backend.ldap.address', 'is ldap:// to ldap.example.com without start_tls: the service account\'s and every user\'s password cross the network in clear text; use ldaps:// or set start_tls: true'],
    ]);
    assert.deepEqual(problems({ ...GOOD, address: 'ldap://ldap.example.com', start_tls: true }), []);
    assert.deepEqual(problems({ ...GOOD, address: 'ldap://127.0.0.1:3389' }), []);
    assert.deepEqual(problems({ ...GOOD, address: 'ldap://[::1]' }), []);
    assert.deepEqual(problems({ ...GOOD, address: 'ldapi:///run/slapd/ldapi' }), []);
  });

  it('start_tls with ldaps:// has no effect (Authelia ignores it too): a warning', () => {
    assert.deepEqual(problems({ ...GOOD, start_tls: true }), [
      ['warning', 'authentication_backend.ldap.start_tls', 'has no effect with an ldaps:// address: the connection is TLS from the start'],
    ]);
  });

  it('start_tls over an ldapi socket needs tls.server_name', () => {
    assert.deepEqual(at(problems({ ...GOOD, address: 'ldapi:///run/slapd/ldapi', start_tls: true }), 'authentication_backend.ldap.tls.server_name').map(([s]) => s), ['error']);
    assert.deepEqual(problems({ ...GOOD, address: 'ldapi:///run/slapd/ldapi', start_tls: true, tls: { server_name: 'ldap.example.com' } }), []);
  });
});

describe('authentication_backend.ldap.tls', () => {
  it('skip_verify is a warning', () => {
    assert.deepEqual(problems({ ...GOOD, tls: { skip_verify: true } }), [['warning', 'authentication_backend.ldap.tls.skip_verify', "is true: the LDAP server's certificate is not checked"]]);
  });

  it('minimum_version above maximum_version is an error', () => {
    assert.deepEqual(at(problems({ ...GOOD, tls: { minimum_version: 'TLS1.3', maximum_version: 'TLS1.2' } }), 'authentication_backend.ldap.tls.minimum_version').map(([s]) => s), ['error']);
  });
});

describe('authentication_backend.ldap: binding', () => {
  it('user and password are required', () => {
    const { user: _u, password: _p, ...rest } = GOOD;
    assert.deepEqual(problems(rest).map(([s, p]) => [s, p]), [
      ['error', 'authentication_backend.ldap.user'],
      ['error', 'authentication_backend.ldap.password'],
    ]);
  });

  it('permit_unauthenticated_bind: warned loudly; refused with a password or with password reset on, as in Authelia', () => {
    const { password: _, ...rest } = GOOD;
    const reset = { password_reset: { disable: true } };
    assert.deepEqual(problems({ ...rest, permit_unauthenticated_bind: true }, reset).map(([s, p]) => [s, p]), [['warning', 'authentication_backend.ldap.permit_unauthenticated_bind']]);
    assert.match(problems({ ...rest, permit_unauthenticated_bind: true }, reset)[0]![2], /without a password/);
    assert.deepEqual(at(problems({ ...GOOD, permit_unauthenticated_bind: true }, reset), 'authentication_backend.ldap.permit_unauthenticated_bind').map(([s, , m]) => [s, m]).slice(1), [
      ['error', "can't be enabled when a password is specified"],
    ]);
    assert.deepEqual(at(problems({ ...rest, permit_unauthenticated_bind: true }), 'authentication_backend.ldap.permit_unauthenticated_bind').map(([s, , m]) => [s, m]).slice(1), [
      ['error', "can't be enabled when password reset is enabled: set authentication_backend.password_reset.disable: true"],
    ]);
    // a custom_url turns the reset back on (Authelia's reading)
    assert.equal(at(problems({ ...rest, permit_unauthenticated_bind: true }, { password_reset: { disable: true, custom_url: 'https://id.example.com/reset' } }), 'authentication_backend.ldap.permit_unauthenticated_bind').length, 2);
  });
});

describe('authentication_backend.ldap: filters', () => {
  const custom = { ...GOOD, implementation: 'custom' };

  it('custom has no default filters: both are required', () => {
    assert.deepEqual(problems(custom).map(([s, p]) => [s, p]), [
      ['error', 'authentication_backend.ldap.users_filter'],
      ['error', 'authentication_backend.ldap.groups_filter'],
    ]);
  });

  it('users_filter must be in parentheses and hold {username_attribute} and {input}', () => {
    assert.deepEqual(problems({ ...custom, users_filter: 'uid=bob', groups_filter: '(member={dn})' }).map(([, , m]) => m), [
      "must contain enclosing parenthesis: 'uid=bob' should probably be '(uid=bob)'",
      "must contain the placeholder '{username_attribute}' but it's absent",
      "must contain the placeholder '{input}' but it's absent",
    ]);
  });

  it('groups_filter must be in parentheses', () => {
    assert.deepEqual(problems({ ...custom, users_filter: '({username_attribute}={input})', groups_filter: 'member={dn}' }), [
      ['error', 'authentication_backend.ldap.groups_filter', "must contain enclosing parenthesis: 'member={dn}' should probably be '(member={dn})'"],
    ]);
  });

  it("Authelia's removed placeholders {0} and {1} are refused with its message", () => {
    const found = problems({ ...GOOD, users_filter: '(&({username_attribute}={input})(uid={0}))', groups_filter: '(|(member={0})(memberUid={1}))' });
    assert.deepEqual(found, [
      ['error', 'authentication_backend.ldap.users_filter', "has an invalid placeholder: '{0}' has been removed, please use '{input}' instead"],
      ['error', 'authentication_backend.ldap.groups_filter', "has an invalid placeholder: '{0}' has been removed, please use '{input}' instead"],
      ['error', 'authentication_backend.ldap.groups_filter', "has an invalid placeholder: '{1}' has been removed, please use '{username}' instead"],
    ]);
  });

  it('a filter the implementation gives is checked too (overridden by the file or not)', () => {
    assert.deepEqual(at(problems({ ...GOOD, implementation: 'lldap' }), 'authentication_backend.ldap.users_filter'), []);
    assert.equal(at(problems({ ...GOOD, implementation: 'lldap', users_filter: '(uid={input})' }), 'authentication_backend.ldap.users_filter').length, 1);
  });
});

describe('authentication_backend.ldap.group_search_mode', () => {
  it('memberof needs a {memberof:dn} or {memberof:rdn} placeholder in groups_filter', () => {
    assert.deepEqual(problems({ ...GOOD, group_search_mode: 'memberof' }), [
      ['error', 'authentication_backend.ldap.groups_filter', "must contain one of the '{memberof:rdn}' or '{memberof:dn}' placeholders when using a group_search_mode of 'memberof' but they're absent"],
    ]);
    assert.deepEqual(problems({ ...GOOD, group_search_mode: 'memberof', groups_filter: '(&(|{memberof:rdn})(objectClass=groupOfNames))' }), []);
  });

  it('{memberof:dn} needs attributes.distinguished_name; either placeholder needs attributes.member_of', () => {
    const filter = '(|{memberof:dn})';
    assert.deepEqual(problems({ ...GOOD, implementation: 'custom', users_filter: '({username_attribute}={input})', groups_filter: filter, group_search_mode: 'memberof' }), [
      ['error', 'authentication_backend.ldap.attributes.distinguished_name', "must be provided when using the '{memberof:dn}' placeholder but it's absent"],
      ['error', 'authentication_backend.ldap.attributes.member_of', "must be provided when using the '{memberof:rdn}' or '{memberof:dn}' placeholder but it's absent"],
    ]);
    // Active Directory's defaults name both
    assert.deepEqual(problems({ ...GOOD, implementation: 'activedirectory', groups_filter: filter, group_search_mode: 'memberof' }), []);
  });

  it('another mode is refused by the schema', () => {
    assert.throws(() => parsed({ authentication_backend: { ldap: { ...GOOD, group_search_mode: 'nested' } } }), /group_search_mode/);
  });
});

describe('authentication_backend.ldap.attributes.extra', () => {
  it('value_type is required', () => {
    assert.deepEqual(problems({ ...GOOD, attributes: { extra: { employeeNumber: { name: 'employee_number' } } } }), [
      ['error', 'authentication_backend.ldap.attributes.extra.employeeNumber.value_type', "is required: one of 'string', 'integer', or 'boolean'"],
    ]);
  });

  it('the name (or the directory attribute, without one) may not be a reserved attribute name', () => {
    assert.deepEqual(problems({ ...GOOD, attributes: { extra: { mobile: { name: 'phone_number', value_type: 'string' }, locale: { value_type: 'string' }, employeeNumber: { name: 'employee_number', value_type: 'integer' } } } }).map(([s, p]) => [s, p]), [
      ['error', 'authentication_backend.ldap.attributes.extra.mobile.name'],
      ['error', 'authentication_backend.ldap.attributes.extra.locale'],
    ]);
  });
});

describe('authentication_backend.refresh_interval with LDAP', () => {
  it("'disable' (or 'never') is a warning: what the directory says later never arrives", () => {
    for (const refresh_interval of ['disable', 'never']) {
      assert.deepEqual(problems(GOOD, { refresh_interval }).map(([s, p]) => [s, p]), [['warning', 'authentication_backend.refresh_interval']]);
    }
    assert.deepEqual(problems(GOOD, { refresh_interval: '1m' }), []);
    assert.deepEqual(problems(GOOD, { refresh_interval: 'always' }), []);
  });
});

describe('authentication_backend.ldap is implemented: a complete block loads with nothing to say', () => {
  it('no problem at authentication_backend.ldap, and no "not implemented yet"', () => {
    const config = parsed({ authentication_backend: { ldap: GOOD } });
    // the placeholder-looking test password aside: a real one would be a random string
    assert.deepEqual(validateGatewayConfig(config).filter((p) => p.path.startsWith('authentication_backend') && !/placeholder/.test(p.message)), []);
  });
});

describe('permit_referrals', () => {
  it('true is accepted with a warning that referrals are not followed; false says nothing', () => {
    assert.deepEqual(at(problems({ ...GOOD, permit_referrals: true }), 'authentication_backend.ldap.permit_referrals').map(([severity]) => severity), ['warning']);
    assert.deepEqual(at(problems({ ...GOOD, permit_referrals: false }), 'authentication_backend.ldap.permit_referrals'), []);
  });
});
