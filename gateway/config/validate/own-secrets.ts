/** The secrets Gatehouse itself keys things with, judged in full here (every other secret only for placeholders). */
import type { ConfigProblem } from '../../../lib/config-problems.ts';
import { weakSecretProblem, weakSecretReason } from '../../../lib/secret-strength.ts';

export const OWN_SECRETS = ['session.secret', 'storage.encryption_key'] as const;
/** Authelia's minimum length; no placeholder or pattern either. */
const OWN_SECRET_MIN_LENGTH = 20;

export function ownSecretProblem(option: (typeof OWN_SECRETS)[number], value: string): ConfigProblem | null {
  const reason = weakSecretReason(value, OWN_SECRET_MIN_LENGTH);
  return reason === null ? null : weakSecretProblem(option, reason, `GATEHOUSE_${option.replace('.', '_').toUpperCase()}`);
}
