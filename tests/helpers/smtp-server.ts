/**
 * A real SMTP server (smtp-server, the one nodemailer's authors test with) on a free 127.0.0.1 port,
 * that keeps every envelope and message it receives, so a test reads what a user's mailbox would get.
 * TLS is STARTTLS, implicit (submissions), or none at all (a server that does not offer STARTTLS).
 */
import { readFile } from 'node:fs/promises';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import type { TestCertificate } from './tls.ts';

export interface ReceivedMail {
  /** MAIL FROM */
  envelopeFrom: string;
  /** RCPT TO, in order */
  envelopeTo: string[];
  /** whether the session was under TLS when the message came */
  secure: boolean;
  /** who logged in for it, if anyone */
  user?: string;
  /** the header fields, names lower-cased, RFC 2047 words decoded */
  headers: Map<string, string>;
  /** the text/plain part, decoded */
  text: string;
  /** the text/html part, decoded, if any */
  html?: string;
  raw: string;
}

export interface TestSmtpServer {
  readonly host: string;
  readonly port: number;
  readonly received: ReceivedMail[];
  /** every MAIL FROM and RCPT TO seen, with or without a message after it (`MAIL alice@x`, `RCPT bob@y`) */
  readonly envelopeCommands: string[];
  /** every login the server accepted: `METHOD user` */
  readonly logins: string[];
  /** every EHLO/HELO name */
  readonly ehloNames: string[];
  close(): Promise<void>;
}

export interface SmtpServerOptions {
  tls: 'starttls' | 'implicit' | 'none';
  certificate?: TestCertificate;
  /** accepted credentials; without any, AUTH is not offered */
  users?: Record<string, string>;
  /** the AUTH mechanisms offered (PLAIN and LOGIN by default) */
  authMethods?: string[];
  /** recipients refused at RCPT TO */
  refuseRecipients?: string[];
  /** ask every client for a certificate this one signed, and refuse the TLS session without one */
  clientCa?: TestCertificate;
}

const decodeQuotedPrintable = (text: string) =>
  Buffer.from(text.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1').toString('utf8');

function decodeBody(body: string, encoding: string | undefined): string {
  if (encoding?.toLowerCase() === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding?.toLowerCase() === 'quoted-printable') return decodeQuotedPrintable(body);
  return body;
}

/** RFC 2047 encoded words (`=?UTF-8?Q?…?=`, `=?UTF-8?B?…?=`) back to text. */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?utf-8\?([QB])\?([^?]*)\?=/gi, (_, kind: string, text: string) =>
      kind.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : decodeQuotedPrintable(text.replace(/_/g, ' ')));
}

/** Header fields (unfolded) and the body of one MIME entity. */
function splitEntity(entity: string): { headers: Map<string, string>; body: string } {
  const end = entity.indexOf('\r\n\r\n');
  const head = end === -1 ? entity : entity.slice(0, end);
  const body = end === -1 ? '' : entity.slice(end + 4);
  const headers = new Map<string, string>();
  for (const field of head.replace(/\r\n[ \t]+/g, ' ').split('\r\n')) {
    const colon = field.indexOf(':');
    if (colon > 0) headers.set(field.slice(0, colon).trim().toLowerCase(), decodeWords(field.slice(colon + 1).trim()));
  }
  return { headers, body };
}

/** The plain-text and HTML bodies of a message, single-part or multipart/alternative. */
function bodies(raw: string): { headers: Map<string, string>; text: string; html?: string } {
  const { headers, body } = splitEntity(raw);
  const type = headers.get('content-type') ?? 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(type)?.[1];
  if (!boundary) return { headers, text: decodeBody(body, headers.get('content-transfer-encoding')) };
  let text = '';
  let html: string | undefined;
  for (const part of body.split(`--${boundary}`).slice(1, -1)) {
    const entity = splitEntity(part.replace(/^\r\n/, '').replace(/\r\n$/, ''));
    const decoded = decodeBody(entity.body, entity.headers.get('content-transfer-encoding'));
    if (entity.headers.get('content-type')?.startsWith('text/html')) html = decoded;
    else text = decoded;
  }
  return { headers, text, html };
}

export async function startSmtpServer(options: SmtpServerOptions): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  const envelopeCommands: string[] = [];
  const logins: string[] = [];
  const ehloNames: string[] = [];
  const users = options.users ?? {};
  const refused = new Set(options.refuseRecipients ?? []);
  const tlsFiles = options.certificate
    ? { key: await readFile(options.certificate.keyPath), cert: await readFile(options.certificate.certPath) }
    : {};
  const config: SMTPServerOptions = {
    ...tlsFiles,
    ...(options.clientCa ? { requestCert: true, rejectUnauthorized: true, ca: options.clientCa.certPem } : {}),
    secure: options.tls === 'implicit',
    disabledCommands: [...(options.tls === 'none' ? ['STARTTLS'] : []), ...(Object.keys(users).length === 0 ? ['AUTH'] : [])],
    allowInsecureAuth: options.tls === 'none',
    authMethods: options.authMethods ?? ['PLAIN', 'LOGIN'],
    authOptional: Object.keys(users).length === 0,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username !== undefined && users[auth.username] === auth.password) {
        logins.push(`${auth.method} ${auth.username}`);
        return callback(null, { user: auth.username });
      }
      callback(new Error('Invalid username or password'));
    },
    // the EHLO name is in the session from MAIL FROM on
    onMailFrom(address, session, callback) {
      envelopeCommands.push(`MAIL ${address.address}`);
      ehloNames.push(session.hostNameAppearsAs);
      callback();
    },
    onRcptTo(address, _session, callback) {
      envelopeCommands.push(`RCPT ${address.address}`);
      if (refused.has(address.address)) {
        const error = new Error('No such user here') as Error & { responseCode: number };
        error.responseCode = 550;
        return callback(error);
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        received.push({
          envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          envelopeTo: session.envelope.rcptTo.map((to) => to.address),
          secure: session.secure,
          user: session.user as string | undefined,
          ...bodies(raw),
          raw,
        });
        callback();
      });
    },
  };
  const server = new SMTPServer(config);
  server.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return {
    host: '127.0.0.1',
    port,
    received,
    envelopeCommands,
    logins,
    ehloNames,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
