/**
 * `definitions.network`: named lists of CIDRs. As in Authelia (configuration/decode_hooks.go), a name
 * stands for its networks wherever a `networks` option is read: `access_control.rules[].networks` and
 * the OpenID Connect authorization policies' rules. The older `access_control.networks` groups are
 * names of the same kind; one name in both is an error (validate/definitions.ts).
 */
import type { OidcProviderConfig } from './oidc-schema.ts';
import type { GatewayConfig } from './schema.ts';

export type NamedNetworks = ReadonlyMap<string, readonly string[]>;

/** Every network name the configuration defines, with its CIDRs. */
export function namedNetworks(config: Pick<GatewayConfig, 'definitions' | 'access_control'>): NamedNetworks {
  const named = new Map<string, readonly string[]>(Object.entries(config.definitions?.network ?? {}));
  for (const group of config.access_control.networks) if (!named.has(group.name)) named.set(group.name, group.networks);
  return named;
}

/** `networks` as written, each name replaced by its CIDRs (a CIDR stays as it is). */
export function resolveNetworks(networks: readonly string[], named: NamedNetworks): string[] {
  return networks.flatMap((n) => named.get(n) ?? [n]);
}

/** The OpenID Connect section with its authorization policies' network names resolved (a copy). */
export function withNetworksResolved(oidc: OidcProviderConfig, named: NamedNetworks): OidcProviderConfig {
  const policies = Object.fromEntries(Object.entries(oidc.authorization_policies).map(([name, policy]) => [name, {
    ...policy,
    rules: policy.rules.map((rule) => (rule.networks === undefined ? rule : { ...rule, networks: resolveNetworks(rule.networks, named) })),
  }]));
  return { ...oidc, authorization_policies: policies };
}
