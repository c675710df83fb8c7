/**
 * `definitions`: named networks (each a valid IP or CIDR, no name also an `access_control.networks`
 * group) and user attributes (a name Authelia does not reserve, an expression Gatehouse can evaluate),
 * as Authelia's validator/definitions.go and configuration/provider.go check them.
 */
import { configError, configWarning, shownValue, type ConfigProblem } from '../../../lib/config-problems.ts';
import { parseCidr } from '../../../lib/net/address.ts';
import { expressionProblem, extraNamesRead, isReservedAttribute } from '../../expression/user-attributes.ts';
import type { GatewayConfig } from '../schema.ts';

export function definitionsProblems(config: Pick<GatewayConfig, 'definitions' | 'access_control'>): ConfigProblem[] {
  const definitions = config.definitions;
  if (definitions === undefined) return [];
  const found: ConfigProblem[] = [];
  const groups = new Set(config.access_control.networks.map((group) => group.name));
  for (const [name, networks] of Object.entries(definitions.network)) {
    const at = `definitions.network.${name}`;
    if (groups.has(name)) found.push(configError(at, `the network name '${name}' is also an access_control.networks group; a name may be defined in only one of them`));
    if (networks.length === 0) found.push(configError(at, `network '${name}' must have at least one IP or CIDR`));
    for (const network of networks) {
      if (parseCidr(network) === null) found.push(configError(at, `network '${name}' is invalid: '${shownValue(network)}' is not a valid IP or CIDR notation`));
    }
  }
  for (const [name, { expression }] of Object.entries(definitions.user_attributes)) {
    const at = `definitions.user_attributes.${name}`;
    if (isReservedAttribute(name)) {
      found.push(configError(at, `attribute name '${name}' is reserved: it is one of the attributes every user has`));
      continue;
    }
    const problem = expressionProblem(expression);
    if (problem !== null) {
      found.push(configError(`${at}.expression`, problem));
      continue;
    }
    const extra = extraNamesRead(expression);
    if (extra.length !== 0) {
      // said at every start: a misspelt name gives every user no value, which nothing else would show
      found.push(configWarning(`${at}.expression`, `reads ${extra.map((name) => `'${name}'`).join(', ')}, not among the built-in attributes: read from each user's extra attributes in the users file, and a user without ${extra.length === 1 ? 'it' : 'them'} gets no value`));
    }
  }
  return found;
}
