export type RegulationMode = 'user' | 'ip';

/** `regulation.*` from the configuration; times in seconds. */
export interface RegulationOptions {
  /** failures that trigger a ban; 0 disables automatic bans */
  max_retries: number;
  /** window, seconds, in which max_retries failures must fall */
  find_time: number;
  /** how long a ban lasts, seconds */
  ban_time: number;
  modes: readonly RegulationMode[];
}

const MODES: readonly string[] = ['user', 'ip'] satisfies RegulationMode[];

/** Every problem with the options, as messages for the operator; empty when they are usable. */
export function validateRegulation(options: RegulationOptions): string[] {
  const problems: string[] = [];
  const { max_retries, find_time, ban_time, modes } = options;
  if (!Number.isInteger(max_retries) || max_retries < 0) {
    problems.push(`regulation: option 'max_retries' must be 0 (disabled) or a positive integer, not ${max_retries}`);
  }
  if (!Number.isFinite(find_time) || find_time <= 0) {
    problems.push(`regulation: option 'find_time' must be a duration greater than 0`);
  }
  if (!Number.isFinite(ban_time) || ban_time <= 0) {
    problems.push(`regulation: option 'ban_time' must be a duration greater than 0`);
  }
  // with max_retries 0 nothing is counted or banned, so the window cannot outlast a ban (as validation says)
  if (max_retries !== 0 && find_time > ban_time) {
    problems.push(`regulation: option 'find_time' must be less than or equal to option 'ban_time'`);
  }
  if (modes.length === 0) {
    problems.push(`regulation: option 'modes' must list at least one of 'user' and 'ip'`);
  }
  for (const mode of modes) {
    if (!MODES.includes(mode)) problems.push(`regulation: option 'modes' must only contain 'user' and 'ip', not '${mode}'`);
  }
  return problems;
}
