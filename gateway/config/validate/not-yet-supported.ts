/** Authelia options Gatehouse accepts but does not implement yet: ignored with a warning, or refused. */
import { configError, configWarning, type ConfigProblem } from '../../../lib/config-problems.ts';
import { valueAt } from '../../../lib/config-partial-checks.ts';
import { NOT_YET_SUPPORTED, type GatewayConfig } from '../schema.ts';

const IGNORED = 'is an Authelia option Gatehouse does not implement yet; it is ignored';

/**
 * Options whose effect would be to refuse more than Gatehouse does. Ignoring one would leave things
 * more open than the operator asked, so each is an error.
 */
const NOT_YET_SUPPORTED_NARROWING: readonly { path: string; applies: (value: unknown) => boolean; effect: string }[] = [
  { path: 'server.endpoints.rate_limits', applies: () => true, effect: 'it limits how often a client may try' },
  { path: 'authentication_backend.ldap', applies: () => true, effect: 'its filters and groups decide who may log in' },
];

export function notYetSupportedProblems(config: GatewayConfig): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  for (const path of NOT_YET_SUPPORTED) {
    if (valueAt(config, path.split('.')) !== undefined) found.push(configWarning(path, IGNORED));
  }
  for (const { path, applies, effect } of NOT_YET_SUPPORTED_NARROWING) {
    const value = valueAt(config, path.split('.'));
    if (value === undefined) continue;
    if (applies(value)) {
      found.push(configError(path, `is an Authelia option Gatehouse does not implement yet, and ${effect}: ignoring it would leave Gatehouse more open than configured, so it is refused; remove it to start without it`));
    } else {
      found.push(configWarning(path, IGNORED));
    }
  }
  return found;
}
