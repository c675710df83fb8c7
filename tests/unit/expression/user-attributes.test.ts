import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { builtInAttributes, createUserAttributeResolver } from '../../../gateway/expression/user-attributes.ts';
import type { UserDetails } from '../../../gateway/users/provider.ts';

function user(extra: Partial<UserDetails> = {}): UserDetails {
  return {
    username: 'alice',
    displayName: 'Alice Liddell',
    emails: ['alice@example.com', 'al@example.org'],
    groups: ['admins', 'dev'],
    credentialStamp: 's1',
    attributes: { given_name: 'Alice', phone_number: '+1 555 0100', phone_extension: '12', address: { country: 'GB' }, extra: { team: 'blue', level: 3 } },
    ...extra,
  };
}

describe('user attributes by Authelia\'s names', () => {
  it('built-in attributes read the user\'s details as Authelia\'s activation does', () => {
    const input = builtInAttributes(user());
    assert.equal(input.username, 'alice');
    assert.equal(input.display_name, 'Alice Liddell');
    assert.equal(input.email, 'alice@example.com');
    assert.deepEqual(input.emails_extra, ['al@example.org']);
    assert.equal(input.given_name, 'Alice');
    assert.equal(input.family_name, '');
    assert.equal(input.phone_number_rfc3966, '+1 555 0100;ext=12');
    assert.equal(input.phone_number_verified, false);
    assert.deepEqual({ ...(input.address as object) }, { country: 'GB' });
    assert.equal(input.team, 'blue');
    assert.equal(builtInAttributes(user({ emails: [] })).email, '');
  });

  it('a defined attribute is computed from them; an extra one is read from the users file', () => {
    const attributes = createUserAttributeResolver({
      is_admin: { expression: '"admins" in groups' },
      tier: { expression: 'level > 2 ? "gold" : "silver"' },
      handle: { expression: 'given_name.lowerAscii() + "-" + team' },
    });
    const alice = user();
    assert.equal(attributes.resolve('is_admin', alice), true);
    assert.equal(attributes.resolve('tier', alice), 'gold');
    assert.equal(attributes.resolve('handle', alice), 'alice-blue');
    assert.deepEqual(attributes.resolve('groups', alice), ['admins', 'dev']);
    assert.equal(attributes.resolve('team', alice), 'blue');
    assert.equal(attributes.resolve('nobody', alice), undefined);
    assert.equal(attributes.isKnown('tier'), true);
    assert.equal(attributes.isKnown('team'), false);
  });

  it('an expression that fails for a user gives that user no value, and others theirs', () => {
    const attributes = createUserAttributeResolver({ second_group: { expression: 'groups[1]' } });
    assert.equal(attributes.resolve('second_group', user()), 'dev');
    assert.equal(attributes.resolve('second_group', user({ groups: ['solo'] })), undefined);
  });

  it('is computed once per details object (a refresh makes a new one), never per request', () => {
    const attributes = createUserAttributeResolver({ n: { expression: 'size(groups)' } });
    const groups = ['a'];
    const alice = user({ groups });
    assert.equal(attributes.resolve('n', alice), 1);
    groups.push('b'); // the same details object: the value worked out before stands
    assert.equal(attributes.resolve('n', alice), 1);
    assert.equal(attributes.resolve('n', user({ groups: ['a', 'b'] })), 2);
  });
});
