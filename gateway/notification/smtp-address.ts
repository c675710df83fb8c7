/**
 * What `notifier.smtp.address` and `notifier.smtp.sender` say, parsed once for the validator and the
 * notifier alike (Authelia's schemes: `smtp://` is port 25 with STARTTLS, `submission://` port 587 with
 * STARTTLS, `submissions://` port 465 with TLS from the first byte).
 */
import { headerUnsafe, isMailboxAddress, type Recipient } from './notifier.ts';

export interface SmtpEndpoint {
  host: string;
  port: number;
  /** `submissions://`: TLS from the first byte, no STARTTLS */
  implicitTls: boolean;
}

const DEFAULT_PORTS: Record<string, number> = { smtp: 25, submission: 587, submissions: 465 };

/** The endpoint `address` names, or why it names none. */
export function parseSmtpAddress(address: string): SmtpEndpoint | { problem: string } {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return { problem: `'${address}' is not a URL such as 'submission://smtp.example.com:587'` };
  }
  const scheme = url.protocol.slice(0, -1);
  const defaultPort = DEFAULT_PORTS[scheme];
  if (defaultPort === undefined) return { problem: `'${address}' has the scheme '${scheme}': use smtp, submission or submissions` };
  if (url.hostname === '') return { problem: `'${address}' names no host` };
  if (url.username !== '' || url.password !== '') return { problem: `'${address}' holds credentials: set 'username' and 'password' instead` };
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') return { problem: `'${address}' has a path, query or fragment` };
  const port = url.port === '' ? defaultPort : Number(url.port);
  if (port < 1) return { problem: `'${address}' has port 0` };
  return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port, implicitTls: scheme === 'submissions' };
}

// `Name <address>`, `"Name, with specials" <address>`, or the address alone
const NAMED = /^\s*(?:"((?:[^"\\]|\\.)*)"|([^"<>]*?))\s*<([^<>\s]+)>\s*$/u;

/** The sender `value` names (RFC 5322 mailbox: an address, with an optional display name), or null. */
export function parseSender(value: string): Recipient | null {
  if (headerUnsafe(value)) return null;
  const named = NAMED.exec(value);
  if (named) {
    const address = named[3]!;
    if (!isMailboxAddress(address)) return null;
    const name = named[1] !== undefined ? named[1].replace(/\\(.)/g, '$1') : named[2]!.trim();
    return name === '' ? { address } : { address, name };
  }
  const address = value.trim();
  return isMailboxAddress(address) ? { address } : null;
}
