/**
 * Sending a person a message (a password reset link, a new-device notice): one small interface, one
 * file per way of delivering it. `open.ts` builds the one the configuration names.
 */
import { GatehouseError } from '../../lib/errors.ts';

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

/** Refuses a recipient or subject that would not stay on its own header line. */
export function assertSingleLineHeaders(recipient: Recipient, message: NotificationMessage): void {
  for (const [what, value] of [['recipient address', recipient.address], ['recipient name', recipient.name ?? ''], ['subject', message.subject]] as const) {
    if (LINE_BREAK.test(value)) throw new NotifierError('notification_failed', `notifier: the ${what} holds a line break; nothing was sent`);
  }
  if (recipient.address.trim() === '') throw new NotifierError('notification_failed', 'notifier: the recipient has no address; nothing was sent');
}

/** `Name <address>`, or the address alone. */
export function formatRecipient(recipient: Recipient): string {
  return recipient.name ? `${recipient.name} <${recipient.address}>` : recipient.address;
}
