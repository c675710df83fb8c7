/** `password_policy`: Authelia's standard or zxcvbn rule for new passwords (lib/password-policy.ts checks both files' the same way). */
import type { ConfigProblem } from '../../../lib/config-problems.ts';
import { passwordPolicyProblems as policyProblems } from '../../../lib/password-policy.ts';
import type { GatewayConfig } from '../schema.ts';

export function passwordPolicyProblems(policy: GatewayConfig['password_policy']): ConfigProblem[] {
  return policyProblems(policy);
}
