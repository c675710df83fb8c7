/**
 * Sending a person a message (a password reset link, a new-device notice): one small interface, one
 * file per way of delivering it. `open.ts` builds the one the configuration names.
 */
import { GatehouseError } from '../../lib/errors.ts';
import { isEmailAddress } from '../users/users-file.ts';

export interface Recipient {
  /** an e-mail address */
  address: string;
  /** the display name, when known */
  name?: string;
}

/** One message in both forms a mail client may show; the subject is a single line. */
export interface NotificationMessage {
  subject: string;
  text: string;
  html: string;
}

export interface Notifier {
  /** Delivers the whole message, or rejects (NotifierError) having delivered none of it. */
  send(recipient: Recipient, message: NotificationMessage): Promise<void>;
  /** Whether messages could be delivered now, without sending one; rejects with a message naming what is wrong. */
  startupCheck(): Promise<void>;
}

export type NotifierErrorCode = 'notifier_unavailable' | 'notification_failed';

export class NotifierError extends GatehouseError {
  declare readonly code: NotifierErrorCode;
  constructor(code: NotifierErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

// a line break in a header would start another header (or, in a file, what reads as another message)
const LINE_BREAK = /[\r\n\u0085\u2028\u2029]/;
// any other control character (NUL, tab, vertical tab, escape, DEL, C1) has no place in a header: some
// readers break lines on it, a terminal acts on it; the direction overrides and isolates show the line
// in another order than it is stored
const CONTROL = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u;
// what RFC 5322 gives a meaning in an address list: with one of these an address is more, or other,
// than one plain mailbox (whitespace, a second `@` and a comma are already refused by isEmailAddress)
const ADDRESS_SPECIALS = /[<>()[\]\\";:]/;

/** Exactly one plain mailbox: what a recipient, a sender's address or the startup check address may be. */
export function isMailboxAddress(value: string): boolean {
  return isEmailAddress(value) && !ADDRESS_SPECIALS.test(value);
}

/** A value that would not stay on its own header line, or reads differently than it is stored. */
export function headerUnsafe(value: string): boolean {
  return LINE_BREAK.test(value) || CONTROL.test(value);
}

/**
 * Refuses a recipient or subject that would not stay on its own header line, and a recipient that is
 * not exactly one mailbox: whoever sets a name or address (the users file, later a directory) must not
 * be able to add a recipient, or make the message read as going to someone else.
 */
export function assertSafeHeaders(recipient: Recipient, message: NotificationMessage): void {
  for (const [what, value] of [['recipient address', recipient.address], ['recipient name', recipient.name ?? ''], ['subject', message.subject]] as const) {
    if (LINE_BREAK.test(value)) throw new NotifierError('notification_failed', `notifier: the ${what} holds a line break; nothing was sent`);
    if (CONTROL.test(value)) throw new NotifierError('notification_failed', `notifier: the ${what} holds a control character; nothing was sent`);
  }
  if (recipient.address.trim() === '') throw new NotifierError('notification_failed', 'notifier: the recipient has no address; nothing was sent');
  if (!isMailboxAddress(recipient.address)) {
    throw new NotifierError('notification_failed', 'notifier: the recipient address is not one e-mail address; nothing was sent');
  }
  // quoting would keep the name one word, but a reader that picks the address out of `<…>` could take the wrong one
  if (/[<>]/.test(recipient.name ?? '')) throw new NotifierError('notification_failed', "notifier: the recipient name holds '<' or '>'; nothing was sent");
}

// RFC 5322 atext, widened to every non-ASCII character but whitespace as RFC 6532 allows
const WORD = "(?:[A-Za-z0-9!#$%&'*+\\-/=?^_`{|}~]|[^\\x00-\\x7f\\s])+";
const PLAIN_NAME = new RegExp(`^${WORD}(?: ${WORD})*$`, 'u');

/**
 * `Name <address>`, or the address alone. A name of plain words separated by single spaces is written
 * as it is; any other (a comma, a dot, `@`, a quote…) becomes an RFC 5322 quoted string, so a reader
 * sees one name and one address. Non-ASCII stays UTF-8 (RFC 6532): the file is read by a person; a
 * notifier writing real mail headers encodes it per RFC 2047 instead.
 */
export function formatRecipient(recipient: Recipient): string {
  const { name, address } = recipient;
  if (!name) return address;
  return PLAIN_NAME.test(name) ? `${name} <${address}>` : `"${name.replace(/["\\]/g, '\\$&')}" <${address}>`;
}
