// Rule subjects (gateway/authz/rule-syntax.ts parseSubject, rules.ts): `user:`, `group:` and Authelia
// 4.38's `oauth2:client:`, and how a client identity and a user identity never stand in for each other.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseSubject } from '../../../gateway/authz/rule-syntax.ts';
import { compileAccessControl } from '../../../gateway/authz/rules.ts';

describe('parseSubject reads the three kinds and nothing else', () => {
  it('user:, group: and oauth2:client: with their names', () => {
    assert.deepEqual(parseSubject('user:alice'), { kind: 'user', name: 'alice' });
    assert.deepEqual(parseSubject('group:admins'), { kind: 'group', name: 'admins' });
    assert.deepEqual(parseSubject('oauth2:client:scripts'), { kind: 'client', name: 'scripts' });
    // a client id may itself hold colons: everything after the prefix is the name
    assert.deepEqual(parseSubject('oauth2:client:urn:example:bot'), { kind: 'client', name: 'urn:example:bot' });
  });

  it('no name, another spelling or another prefix is no subject (validation reports it)', () => {
    for (const value of ['oauth2:client:', 'oauth2:client:  ', 'oauth2:clients:x', 'oauth2:x', 'OAuth2:client:x', 'client:x', 'user:', 'scripts', '']) {
      assert.equal(parseSubject(value), null, value);
    }
  });
});

describe('oauth2:client: subjects match clients only, user: and group: subjects users only', () => {
  const authorizer = compileAccessControl({
    default_policy: 'deny',
    networks: [],
    rules: [
      { domain: ['app.example.test'], subject: ['oauth2:client:alice'], policy: 'one_factor' },
      { domain: ['app.example.test'], subject: ['user:alice', 'group:admins'], policy: 'two_factor' },
    ],
  });
  const request = { host: 'app.example.test', path: '/', method: 'GET', ip: '203.0.113.9' };

  it('a client matches its oauth2:client: rule', () => {
    assert.equal(authorizer.evaluate(request, { groups: [], clientId: 'alice' }).rule, 0);
  });

  it('a user named like a client does not match the client rule, nor a client named like a user the user rule', () => {
    assert.equal(authorizer.evaluate(request, { username: 'alice', groups: [] }).rule, 1);
    assert.equal(authorizer.evaluate(request, { groups: [], clientId: 'bob' }).rule, -1);
    assert.equal(authorizer.evaluate(request, { groups: [], clientId: 'admins' }).rule, -1);
  });
});
