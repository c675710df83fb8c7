/**
 * The monitor's lines in `gatehouse --help`: data only, so listing them loads none of the monitor (the
 * entry point hands them to the gateway's command line, which never imports the monitor).
 */
import type { CommandSummary } from '../lib/cli-io.ts';

export const MONITOR_COMMANDS: readonly CommandSummary[] = [
  { usage: 'monitor [--config F]...', summary: 'run the monitor (the host dashboard) on its own' },
  { usage: 'monitor validate [--config F]...', summary: "check the monitor's configuration and list every problem" },
  { usage: 'monitor schema [--output F]', summary: "print the monitor configuration's JSON Schema" },
  { usage: 'monitor reset-password [--config F]', summary: "forget the monitor's own login and 2FA (backs up auth.json)" },
];
