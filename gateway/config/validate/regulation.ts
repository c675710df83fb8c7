/** `regulation`: how many failed logins, in what window, ban for how long. */
import { configError, configWarning, type ConfigProblem } from '../../../lib/config-problems.ts';
import type { GatewayConfig } from '../schema.ts';

export function regulationProblems(regulation: GatewayConfig['regulation']): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  const { max_retries, find_time, ban_time } = regulation;
  // a duration of 0 or -1 parses, but the regulator cannot count in an empty window or ban for no time
  for (const [option, seconds] of [['find_time', find_time], ['ban_time', ban_time]] as const) {
    if (seconds <= 0) found.push(configError(`regulation.${option}`, `must be a duration greater than 0 (${seconds}s)`));
  }
  if (max_retries === 0) found.push(configWarning('regulation.max_retries', 'is 0: brute-force protection is disabled'));
  else if (find_time > ban_time) {
    found.push(configError('regulation.find_time', `must be less than or equal to regulation.ban_time (${find_time}s > ${ban_time}s)`));
  }
  return found;
}
