/** Builds the notifier `notifier.*` names, as openStorage does for `storage.*`. */
import type { Logger } from 'pino';
import type { TrustedCertificates } from '../../lib/net/trusted-cas.ts';
import type { GatewayConfig } from '../config/schema.ts';
import { createFilesystemNotifier } from './filesystem.ts';
import type { Notifier } from './notifier.ts';
import { createSmtpNotifier } from './smtp.ts';

export type NotifierConfig = NonNullable<GatewayConfig['notifier']>;

/** The configured notifier, or null when the configuration names none (nothing can be sent; features that mail someone stay off). */
export function openNotifier(
  config: NotifierConfig | undefined,
  options: { now?: () => number; logger?: Pick<Logger, 'warn'>; trusted?: TrustedCertificates } = {},
): Notifier | null {
  if (config?.filesystem) return createFilesystemNotifier({ filename: config.filesystem.filename, now: options.now, logger: options.logger });
  if (config?.smtp) return createSmtpNotifier(config.smtp, options.trusted);
  return null;
}
