/** `notifier`: at most one way to send mail. */
import { configError, configWarning, type ConfigProblem } from '../../../lib/config-problems.ts';
import { parseSender, parseSmtpAddress } from '../../notification/smtp-address.ts';
import { headerUnsafe, isMailboxAddress } from '../../notification/notifier.ts';
import type { GatewayConfig } from '../schema.ts';
import { tlsClientProblems } from './tls-client.ts';

type SmtpConfig = NonNullable<NonNullable<GatewayConfig['notifier']>['smtp']>;

function smtpProblems(smtp: SmtpConfig): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  const at = (option: string) => `notifier.smtp.${option}`;
  const endpoint = parseSmtpAddress(smtp.address);
  if ('problem' in endpoint) found.push(configError(at('address'), endpoint.problem));
  const implicitTls = !('problem' in endpoint) && endpoint.implicitTls;
  if (parseSender(smtp.sender) === null) found.push(configError(at('sender'), `'${smtp.sender}' is not an e-mail address (optionally with a name: 'Gatehouse <auth@example.com>')`));
  if (!isMailboxAddress(smtp.startup_check_address)) {
    found.push(configError(at('startup_check_address'), `'${smtp.startup_check_address}' is not an e-mail address`));
  }
  if (headerUnsafe(smtp.subject)) found.push(configError(at('subject'), 'holds a line break or a control character'));
  if (!/^[A-Za-z0-9.\-[\]:]+$/.test(smtp.identifier)) found.push(configError(at('identifier'), `'${smtp.identifier}' is not a host name or address literal (it is sent in EHLO)`));
  if (smtp.timeout <= 0) found.push(configError(at('timeout'), 'must be more than 0 seconds'));
  if (smtp.username && !smtp.password) found.push(configError(at('password'), "is required when 'username' is set"));
  if (!implicitTls && smtp.disable_starttls && !smtp.disable_require_tls) {
    found.push(configError(at('disable_starttls'), "is true but TLS is required: also set 'disable_require_tls', or use a submissions:// address"));
  }
  if (!implicitTls && smtp.disable_require_tls) found.push(configWarning(at('disable_require_tls'), 'is true: mail may be sent in clear text'));
  found.push(...tlsClientProblems(at('tls'), smtp.tls, 'the SMTP server'));
  return found;
}

export function notifierProblems(notifier: GatewayConfig['notifier']): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  if (notifier?.filesystem && notifier.smtp) found.push(configError('notifier', "set one of 'filesystem' and 'smtp', not both"));
  if (notifier?.smtp) found.push(...smtpProblems(notifier.smtp));
  return found;
}
