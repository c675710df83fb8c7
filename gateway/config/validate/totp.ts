/**
 * `totp`: the defaults a registration starts with and the alternatives a user may pick. As Authelia
 * does, each default is always allowed (it is added to its `allowed_*` list, see
 * secondfactor/totp.ts `totpOptions`), so a default missing from a list is not an error. What is
 * worth a warning: settings some authenticator apps silently ignore, a wide skew, and an Authelia
 * option Gatehouse does not honour.
 */
import { configWarning, type ConfigProblem } from '../../../lib/config-problems.ts';
import type { GatewayConfig } from '../schema.ts';

export function totpProblems(totp: GatewayConfig['totp']): ConfigProblem[] {
  if (totp.disable) return [];
  const found: ConfigProblem[] = [];
  const unusual = [
    totp.algorithm !== 'SHA1' && `algorithm ${totp.algorithm}`,
    totp.digits !== 6 && `${totp.digits} digits`,
    totp.period !== 30 && `a period of ${totp.period}s`,
  ].filter((part): part is string => typeof part === 'string');
  if (unusual.length > 0) {
    found.push(configWarning('totp', `registrations default to ${unusual.join(', ')}: some authenticator apps (Google Authenticator among them) ignore these and show codes that never work; SHA1, 6 digits, 30s works everywhere`));
  }
  if (totp.skew > 2) found.push(configWarning('totp.skew', `is ${totp.skew}: ${2 * totp.skew + 1} codes are valid at any moment, which makes a guessed code that much likelier to pass`));
  if (totp.disable_reuse_security_policy) found.push(configWarning('totp.disable_reuse_security_policy', 'is ignored: Gatehouse always refuses a code that was already used'));
  return found;
}
