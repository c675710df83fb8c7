/**
 * How the self-service flows answer: a refusal (a translation key and a status) as Authelia's JSON
 * `{status:'KO', message}` in the request's language, and a mail that could not be sent as a 503 whose
 * message is NotifierError's, written for people (the audit line was written by sendAccountMail).
 */
import type { Request, Response } from 'express';
import { NotifierError } from '../notification/notifier.ts';
import type { SelfServiceRefusal } from './elevation.ts';
import { requestLanguage, translator } from './i18n.ts';

/** A string field of a parsed form or JSON body ('' when absent or not a string). */
export function bodyField(body: unknown, name: string): string {
  const value = (body as Record<string, unknown> | undefined)?.[name];
  return typeof value === 'string' ? value : '';
}

export function jsonOk(res: Response, data?: unknown): void {
  res.json(data === undefined ? { status: 'OK' } : { status: 'OK', data });
}

export function jsonKo(res: Response, status: number, message: string): void {
  res.status(status).json({ status: 'KO', message });
}

export const tOf = (req: Request) => translator(requestLanguage(req));

export function jsonRefusal(req: Request, res: Response, refusal: SelfServiceRefusal): void {
  if (refusal.retryAfterSeconds !== undefined) res.set('Retry-After', String(refusal.retryAfterSeconds));
  jsonKo(res, refusal.status, tOf(req)(refusal.key, refusal.values));
}

/**
 * The words for a mail that could not be sent, per NotifierError code (never the error's own text, which
 * is written for the operator and stays in the log and the audit line); anything else is rethrown.
 */
export function mailFailureKey(error: unknown): string {
  if (error instanceof NotifierError) return error.code === 'notifier_unavailable' ? 'self_service_mail_unavailable' : 'self_service_mail_failed';
  throw error;
}

/** The JSON answer for a mail that could not be sent: 503 with a message for people. */
export function jsonMailFailure(req: Request, res: Response, error: unknown): void {
  jsonKo(res, 503, tOf(req)(mailFailureKey(error)));
}
