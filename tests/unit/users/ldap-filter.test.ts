import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { escapeFilterValue, filterSyntaxProblem, groupsFilterFor, MATCH_NOTHING, usersFilterFor } from '../../../gateway/users/ldap-filter.ts';
import type { LdapSettings } from '../../../gateway/users/ldap-settings.ts';

const settings = {
  usersFilter: '(&(|({username_attribute}={input})({mail_attribute}={input}))(objectClass=person)(!(expires<={date-time:generalized})))',
  groupsFilter: '(|(member={dn})(memberUid={username})(mail={mail})(x={input}))',
  attributes: { username: 'uid', mail: 'mail', displayName: 'displayName', groupName: 'cn', profile: {}, extra: {} },
} as unknown as LdapSettings;
const now = new Date('2026-12-05T02:03:04.567Z');

describe('escapeFilterValue (RFC 4515 section 3)', () => {
  it('escapes *, (, ), \\ and NUL as \\XX and leaves everything else', () => {
    assert.equal(escapeFilterValue('*)(uid=*'), '\\2a\\29\\28uid=\\2a');
    assert.equal(escapeFilterValue('a\\b\u0000c'), 'a\\5cb\\00c');
    assert.equal(escapeFilterValue('zoë@example.test'), 'zoë@example.test');
  });
});

describe('usersFilterFor', () => {
  it('fills attribute names as configured and the login escaped, in one pass', () => {
    assert.equal(
      usersFilterFor(settings, 'alice)(|(uid=*', now),
      '(&(|(uid=alice\\29\\28|\\28uid=\\2a)(mail=alice\\29\\28|\\28uid=\\2a))(objectClass=person)(!(expires<=20261205020304.0Z)))',
    );
    // a login that spells a placeholder is a value, not a placeholder
    assert.match(usersFilterFor(settings, '{date-time:generalized}', now), /\(uid=\{date-time:generalized\}\)/);
  });

  it('fills Authelia\'s unix and microsoft-nt date-times', () => {
    const filter = usersFilterFor({ ...settings, usersFilter: '(&(a>={date-time:unix})(b>={date-time:microsoft-nt}))' }, 'x', now);
    assert.equal(filter, '(&(a>=1796436184)(b>=134409097845670000))');
  });
});

describe('groupsFilterFor', () => {
  it('escapes the DN, username, mail and input', () => {
    const filter = groupsFilterFor(settings, { input: 'p*', username: 'pat(*)', dn: 'uid=pat(*),ou=people', mail: 'p@x', memberOf: [] }, now);
    assert.equal(filter, '(|(member=uid=pat\\28\\2a\\29,ou=people)(memberUid=pat\\28\\2a\\29)(mail=p@x)(x=p\\2a))');
  });

  it('expands {memberof:rdn} and {memberof:dn}; with no groups, a filter that matches nothing', () => {
    const memberOf = ['cn=admins,ou=groups,dc=x', 'cn=a\\2cb (c),ou=groups,dc=x', 'cn=Zo\\c3\\ab\\,s,ou=groups,dc=x'];
    const rdn = groupsFilterFor({ ...settings, groupsFilter: '(&(|{memberof:rdn})(objectClass=groupOfNames))' }, { input: '', username: 'u', dn: 'd', mail: undefined, memberOf }, now);
    assert.equal(rdn, '(&(|(cn=admins)(cn=a,b \\28c\\29)(cn=Zoë,s))(objectClass=groupOfNames))');
    const dn = groupsFilterFor({ ...settings, groupsFilter: '(|{memberof:dn})' }, { input: '', username: 'u', dn: 'd', mail: undefined, memberOf: memberOf.slice(0, 1) }, now);
    assert.equal(dn, '(|(distinguishedName=cn=admins,ou=groups,dc=x))');
    const none = groupsFilterFor({ ...settings, groupsFilter: '(|{memberof:rdn})' }, { input: '', username: 'u', dn: 'd', mail: undefined, memberOf: [] }, now);
    assert.equal(none, `(|${MATCH_NOTHING})`);
    assert.equal(filterSyntaxProblem(none), null);
  });
});

describe('filterSyntaxProblem', () => {
  it('accepts a well-formed filter and names what is wrong with others', () => {
    assert.equal(filterSyntaxProblem(usersFilterFor(settings, '*)(x', now)), null);
    assert.match(filterSyntaxProblem('(&(uid=a)(objectClass=person)')!, /1 \( not closed/);
    assert.match(filterSyntaxProblem('(uid=a))')!, /text after the filter's last \) at character 7/);
    assert.match(filterSyntaxProblem('(uid=a)(uid=b)')!, /text after/);
    assert.match(filterSyntaxProblem('(uid=a\\zz)')!, /not followed by two hex digits/);
    assert.match(filterSyntaxProblem('uid=a')!, /does not start with/);
  });
});
