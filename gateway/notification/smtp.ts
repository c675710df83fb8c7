/**
 * The SMTP notifier (Authelia's `notifier.smtp`): each message is one SMTP session through nodemailer,
 * TLS required by default (STARTTLS on `smtp://` and `submission://`, TLS from the first byte on
 * `submissions://`), AUTH when a username is set.
 *
 * The startup check walks a session as far as it can without sending anything: connect, EHLO,
 * STARTTLS, AUTH, `MAIL FROM` the sender, `RCPT TO` the startup check address, then `RSET` and `QUIT`.
 * nodemailer's `verify()` stops after AUTH, so a sender or recipient the server refuses would only
 * show at the first real message; the check drives nodemailer's SMTP connection itself for the two
 * envelope commands.
 */
import nodemailer from 'nodemailer';
import SMTPConnection from 'nodemailer/lib/smtp-connection/index.js';
import { tlsClientOptions, tlsFailureReason } from '../../lib/net/tls-client.ts';
import { DEFAULT_TRUST, type TrustedCertificates } from '../../lib/net/trusted-cas.ts';
import type { GatewayConfig } from '../config/schema.ts';
import { assertSafeHeaders, NotifierError, type Notifier } from './notifier.ts';
import { parseSender, parseSmtpAddress } from './smtp-address.ts';

export type SmtpConfig = NonNullable<NonNullable<GatewayConfig['notifier']>['smtp']>;

/** The nodemailer connection options `config` asks for (also what a transport is built from). */
function smtpConnectionOptions(config: SmtpConfig, trusted: TrustedCertificates): SMTPConnection.Options {
  const endpoint = parseSmtpAddress(config.address);
  if ('problem' in endpoint) throw new NotifierError('notifier_unavailable', `notifier: smtp: address ${endpoint.problem}`);
  const ms = config.timeout * 1000;
  // without a tls block, the defaults: the server's certificate checked against the address's host
  const { expectedName: _name, ...tls } = tlsClientOptions(config.tls ?? { skip_verify: false, minimum_version: 'TLS1.2' }, trusted, endpoint.host);
  return {
    host: endpoint.host,
    port: endpoint.port,
    secure: endpoint.implicitTls,
    // STARTTLS is sent even when the server does not offer it, and a server that refuses it gets no mail
    requireTLS: !endpoint.implicitTls && !config.disable_require_tls,
    ignoreTLS: !endpoint.implicitTls && config.disable_starttls,
    name: config.identifier,
    connectionTimeout: ms,
    greetingTimeout: ms,
    socketTimeout: ms,
    dnsTimeout: ms,
    tls,
  };
}

/** What nodemailer's errors carry besides the message. */
type SmtpFailure = Error & {
  code?: string;
  response?: string;
  command?: string;
};

/** One line on what went wrong, never holding the password. */
function describe(error: unknown, config: SmtpConfig): string {
  const failure = error as SmtpFailure;
  const underlying = (failure.cause as NodeJS.ErrnoException | undefined)?.code ?? (/\b(ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ECONNRESET)\b/.exec(failure.message)?.[1]);
  let text: string;
  const tls = tlsFailureReason(failure) ?? tlsFailureReason(failure.cause);
  if (tls !== undefined) text = tls;
  else if (underlying === 'ECONNREFUSED') text = 'connection refused';
  else if (underlying === 'ENOTFOUND') text = 'the host name does not resolve';
  else if (failure.code === 'ETIMEDOUT' || /timeout/i.test(failure.message)) text = `no answer within ${config.timeout}s`;
  else if (failure.code === 'EAUTH') text = `the server refused the username or password${failure.response ? ` (${failure.response})` : ''}`;
  else if (failure.code === 'ETLS' || /STARTTLS/.test(failure.message)) text = `no TLS: ${failure.message} (STARTTLS is required unless notifier.smtp.disable_require_tls is true)`;
  else text = failure.message;
  const password = config.password;
  return password ? text.replaceAll(password, '***') : text;
}

interface ConnectionInternals {
  _sendCommand(line: string): void;
  _responseActions: Array<(response: string) => void>;
}

/** Sends one command on an open connection; resolves on a 2xx answer. Uses nodemailer's internal queue, which `send` uses for the same commands. */
function command(connection: SMTPConnection, line: string, done: (error: Error | null) => void): void {
  const internals = connection as unknown as ConnectionInternals;
  internals._responseActions.push((response) => {
    if (response.startsWith('2')) return done(null);
    done(new NotifierError('notifier_unavailable', `${line.replace(/:.*/, '')} was refused: ${response}`));
  });
  internals._sendCommand(line);
}

/** MAIL FROM and RCPT TO in one session, then RSET and QUIT: nothing is sent. */
async function probe(config: SmtpConfig, from: string, trusted: TrustedCertificates): Promise<void> {
  // the validator refuses these; a command line must never carry a second command
  if (/[\r\n<>]/.test(from + config.startup_check_address)) throw new NotifierError('notifier_unavailable', 'the sender or startup_check_address holds a line break or an angle bracket');
  const connection = new SMTPConnection(smtpConnectionOptions(config, trusted));
  const failed = new Promise<never>((_, reject) => {
    connection.on('error', reject);
    connection.once('end', () => reject(new NotifierError('notifier_unavailable', 'the server closed the connection')));
  });
  failed.catch(() => {});
  const step = (run: (done: (error?: Error | null) => void) => void) =>
    Promise.race([failed, new Promise<void>((resolve, reject) => run((error) => (error ? reject(error) : resolve())))]);
  try {
    await step((done) => connection.connect(() => done()));
    if (config.username) await step((done) => connection.login({ user: config.username!, pass: config.password ?? '' }, (error) => done(error)));
    await step((done) => command(connection, `MAIL FROM:<${from}>`, done));
    await step((done) => command(connection, `RCPT TO:<${config.startup_check_address}>`, done));
    await step((done) => connection.reset((error) => done(error)));
    await step((done) => command(connection, 'QUIT', done)).catch(() => {});
  } finally {
    connection.close();
  }
}

/** `trusted`: the CAs of certificates_directory, for the server's certificate. */
export function createSmtpNotifier(config: SmtpConfig, trusted: TrustedCertificates = DEFAULT_TRUST): Notifier {
  const sender = parseSender(config.sender);
  const endpoint = parseSmtpAddress(config.address);
  const where = 'problem' in endpoint ? config.address : `${endpoint.host}:${endpoint.port}`;
  const transportOptions = () => ({
    ...smtpConnectionOptions(config, trusted),
    ...(config.username ? { auth: { user: config.username, pass: config.password ?? '' } } : {}),
  });

  return {
    async send(recipient, message) {
      assertSafeHeaders(recipient, message);
      if (!sender) throw new NotifierError('notification_failed', `notifier: smtp: sender '${config.sender}' is not an e-mail address; nothing was sent`);
      const transport = nodemailer.createTransport(transportOptions());
      try {
        await transport.sendMail({
          from: sender,
          to: recipient.name ? { name: recipient.name, address: recipient.address } : recipient.address,
          subject: config.subject.replaceAll('{title}', message.subject),
          text: message.text,
          ...(config.disable_html_emails ? {} : { html: message.html }),
        });
      } catch (error) {
        throw new NotifierError('notification_failed', `notifier: smtp: cannot send to ${recipient.address} through ${where}: ${describe(error, config)}`, { cause: error });
      } finally {
        transport.close();
      }
    },

    async startupCheck() {
      if (!sender) throw new NotifierError('notifier_unavailable', `notifier: smtp: sender '${config.sender}' is not an e-mail address`);
      if ('problem' in endpoint) throw new NotifierError('notifier_unavailable', `notifier: smtp: address ${endpoint.problem}`);
      try {
        await probe(config, sender.address, trusted);
      } catch (error) {
        throw new NotifierError('notifier_unavailable', `notifier: smtp: ${where}: ${describe(error, config)}`, { cause: error });
      }
    },
  };
}
