/** `notifier`: at most one way to send mail. */
import { configError, configWarning, type ConfigProblem } from '../../../lib/config-problems.ts';
import type { GatewayConfig } from '../schema.ts';

export function notifierProblems(notifier: GatewayConfig['notifier']): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  if (notifier?.filesystem && notifier.smtp) found.push(configError('notifier', "set one of 'filesystem' and 'smtp', not both"));
  if (notifier?.smtp?.disable_require_tls) found.push(configWarning('notifier.smtp.disable_require_tls', 'is true: mail may be sent in clear text'));
  return found;
}
