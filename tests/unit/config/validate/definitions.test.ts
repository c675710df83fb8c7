import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateGatewayConfig } from '../../../../gateway/config/validate/index.ts';
import { namedNetworks, resolveNetworks, withNetworksResolved } from '../../../../gateway/config/definitions.ts';
import { parseGatewayConfig } from '../../../../gateway/config/load.ts';
import { renderProblem } from '../../../../lib/config-problems.ts';
import { ConfigError } from '../../../../lib/errors.ts';
import { parsed } from './parsed.ts';

const DIGEST = '$pbkdf2-sha512$310000$c8p78n7pUMln0jzvd4aK4Q$JNRBzwAo0ek5qKn50cFzzvE9RXV88h1wJn5KGiHrD0YKtZaR/nCb2CJPOsKaPK0hjf.9yHxzQGZziziccp6Yng';
const RULE = { domain: ['app.example.com'], policy: 'one_factor' };

/** The lines the operator reads for `raw`, only those under the given sections. */
function lines(raw: Record<string, unknown>, ...prefixes: string[]): string[] {
  return validateGatewayConfig(parsed(raw)).filter((p) => prefixes.some((prefix) => p.path.startsWith(prefix))).map(renderProblem);
}

describe('definitions.network', () => {
  it('a name stands for its networks in access_control rules, beside the access_control.networks groups', () => {
    const config = parsed({
      definitions: { network: { office: ['192.0.2.0/24', '2001:db8::/32'], vpn: '10.8.0.0/16' } },
      access_control: { networks: [{ name: 'lab', networks: ['198.51.100.0/24'] }], rules: [{ ...RULE, networks: ['office', 'lab', 'vpn', '203.0.113.7'] }] },
    });
    assert.deepEqual(lines(config, 'definitions', 'access_control'), []);
    assert.deepEqual(resolveNetworks(config.access_control.rules[0]!.networks!, namedNetworks(config)), ['192.0.2.0/24', '2001:db8::/32', '198.51.100.0/24', '10.8.0.0/16', '203.0.113.7']);
  });

  it('a name stands for its networks in the OpenID Connect authorization policies too', () => {
    const config = parsed({
      definitions: { network: { office: ['192.0.2.0/24'] } },
      identity_providers: { oidc: {
        authorization_policies: { inside: { default_policy: 'deny', rules: [{ policy: 'one_factor', networks: ['office'] }] } },
        clients: [{ client_id: 'app', client_secret: DIGEST, redirect_uris: ['https://app.example.com/cb'], authorization_policy: 'inside' }],
      } },
    });
    assert.deepEqual(lines(config, 'definitions', 'identity_providers'), []);
    const resolved = withNetworksResolved(config.identity_providers!.oidc!, namedNetworks(config));
    assert.deepEqual(resolved.authorization_policies.inside!.rules[0]!.networks, ['192.0.2.0/24']);
  });

  it('an unknown name is an error naming it, in access control and in an OIDC policy', () => {
    assert.deepEqual(lines({ access_control: { rules: [{ ...RULE, networks: ['ofice'] }] } }, 'access_control'), [
      "config: access_control.rules[0].networks: the network 'ofice' is not a valid Group Name, IP, or CIDR notation",
    ]);
    assert.deepEqual(lines({ identity_providers: { oidc: { authorization_policies: { p: { rules: [{ policy: 'deny', networks: ['ofice'] }] } } } } }, 'identity_providers.oidc.authorization_policies'), [
      "config: identity_providers.oidc.authorization_policies.p.rules[0].networks: the network 'ofice' is not a network name (definitions.network, access_control.networks), IP, or CIDR notation",
    ]);
  });

  it('a bad CIDR, an empty list, or a name also an access_control.networks group is an error', () => {
    assert.deepEqual(lines({
      definitions: { network: { office: ['192.0.2.0/33', '192.0.2.0/24'], nothing: [], lab: '10.0.0.0/8' } },
      access_control: { networks: [{ name: 'lab', networks: ['198.51.100.0/24'] }], rules: [RULE] },
    }, 'definitions'), [
      "config: definitions.network.office: network 'office' is invalid: '192.0.2.0/33' is not a valid IP or CIDR notation",
      "config: definitions.network.nothing: network 'nothing' must have at least one IP or CIDR",
      "config: definitions.network.lab: the network name 'lab' is also an access_control.networks group; a name may be defined in only one of them",
    ]);
  });

  it('is no longer reported as an option Gatehouse ignores', () => {
    assert.deepEqual(lines({ definitions: { network: { office: '192.0.2.0/24' } } }, 'definitions'), []);
  });

  it('a config that names a network nobody defined does not load', () => {
    assert.throws(() => parseGatewayConfig({ access_control: { rules: [{ ...RULE, networks: ['office'] }] } }), (err: unknown) => err instanceof ConfigError && err.problems.some((line) => line.includes("the network 'office'")));
  });
});

describe('definitions.user_attributes', () => {
  it('accepts the expressions of Authelia\'s documentation', () => {
    assert.deepEqual(lines({ definitions: { user_attributes: {
      is_admin: { expression: '"admin" in groups' },
      department: { expression: 'groups[0]' },
      access_level: { expression: '"admin" in groups ? 10 : 5' },
      short_name: { expression: 'username.split("@")[0].lowerAscii()' },
      role: { expression: '"sftpgo_admins" in groups ? "admin" : "sftpgo_managers" in groups ? "manager" : "user"' },
      roles: { expression: '"vaultwarden_admins" in groups ? ["admin"] : "vaultwarden_users" in groups ? ["user"] : [""]' },
    } } }, 'definitions'), []);
  });

  it('an expression Gatehouse cannot evaluate is refused at load, with the character where it goes wrong', () => {
    assert.deepEqual(lines({ definitions: { user_attributes: {
      a: { expression: '"admin" in groups &&' },
      b: { expression: 'groups.reverse()' },
      c: { expression: 'timestamp("2024-01-01T00:00:00Z")' },
      d: { expression: 'username.matches(email)' },
      e: { expression: 'username.matches("(a")' },
      f: { expression: 'updated_at > 0' },
      g: { expression: '' },
      h: { expression: `${'('.repeat(200)}1${')'.repeat(200)}` },
    } } }, 'definitions'), [
      'config: definitions.user_attributes.a.expression: is not an expression Gatehouse can evaluate: at character 21: expected a value but found the end of the expression',
      "config: definitions.user_attributes.b.expression: is not an expression Gatehouse can evaluate: at character 8: the method '.reverse()' is not supported (supported: size, startsWith, endsWith, contains, matches, lowerAscii, upperAscii, trim, split, join, replace, indexOf, lastIndexOf, substring, charAt, exists, all, exists_one, map, filter)",
      "config: definitions.user_attributes.c.expression: is not an expression Gatehouse can evaluate: at character 1: the function 'timestamp' is not supported (supported: size, string, int, double, bool, has)",
      "config: definitions.user_attributes.d.expression: is not an expression Gatehouse can evaluate: at character 18: the pattern of 'matches' must be a string literal",
      "config: definitions.user_attributes.e.expression: is not an expression Gatehouse can evaluate: at character 18: the pattern of 'matches' is not a valid regular expression: Unterminated group",
      "config: definitions.user_attributes.f.expression: reads 'updated_at', which Gatehouse does not track when a user was last updated",
      'config: definitions.user_attributes.g.expression: is not an expression Gatehouse can evaluate: at character 1: the expression is empty',
      'config: definitions.user_attributes.h.expression: is not an expression Gatehouse can evaluate: at character 49: the expression nests deeper than 48 levels',
    ]);
  });

  it("a name that is not a built-in attribute is read from the users file's extra attributes, with a warning (a typo shows)", () => {
    assert.deepEqual(lines({ definitions: { user_attributes: { t: { expression: 'team + "-" + gruops[0]' }, ok: { expression: 'groups.exists(g, g == "x")' } } } }, 'definitions'), [
      "config: definitions.user_attributes.t.expression: reads 'team', 'gruops', not among the built-in attributes: read from each user's extra attributes in the users file, and a user without them gets no value",
    ]);
  });

  it('a name Authelia reserves is refused, as Authelia refuses it', () => {
    assert.deepEqual(lines({ definitions: { user_attributes: { username: { expression: '"x"' }, openid_authreq_claim_value: { expression: '"x"' } } } }, 'definitions'), [
      "config: definitions.user_attributes.username: attribute name 'username' is reserved: it is one of the attributes every user has",
      "config: definitions.user_attributes.openid_authreq_claim_value: attribute name 'openid_authreq_claim_value' is reserved: it is one of the attributes every user has",
    ]);
  });

  it('a claims policy may read a defined attribute; an unknown one is warned about, a standard claim name refused', () => {
    const oidc = (custom_claims: Record<string, unknown>) => ({ identity_providers: { oidc: { claims_policies: { p: { custom_claims } } } } });
    assert.deepEqual(lines({ ...oidc({ is_admin: {} }), definitions: { user_attributes: { is_admin: { expression: '"admin" in groups' } } } }, 'identity_providers'), []);
    assert.deepEqual(lines(oidc({ nick: { attribute: 'nickname' } }), 'identity_providers'), []);
    assert.deepEqual(lines(oidc({ is_admn: {}, email: { attribute: 'email' }, when: { attribute: 'updated_at' } }), 'identity_providers'), [
      "config: identity_providers.oidc.claims_policies.p.custom_claims.is_admn.attribute: 'is_admn' is neither a built-in attribute nor one under definitions.user_attributes: it is read from each user's extra attributes, and the claim is left out for a user without it",
      "config: identity_providers.oidc.claims_policies.p.custom_claims.email: claim with name 'email' can't be used in a claims policy as it's a standard claim",
      "config: identity_providers.oidc.claims_policies.p.custom_claims.when.attribute: 'updated_at' is an attribute Gatehouse has no value for: Gatehouse does not track when a user was last updated",
    ]);
  });
});
