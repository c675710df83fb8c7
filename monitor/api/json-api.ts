/**
 * How the monitor's account API reads requests and answers them (ProxMenux's `{success, message}`
 * shape): JSON bodies only, and the rules for the names and texts it accepts. Shared by the handler
 * files under monitor/api/. Handlers may be async: Express 5 hands a rejection to the one error
 * handler (monitor/routes.ts), which never shows its text.
 */
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { z } from 'zod';

const JSON_LIMIT = '64kb';
export const MAX_USERNAME = 64;
export const MAX_TOKEN_DAYS = 3650;

export type Body = Record<string, unknown>;

export function bodyOf(req: Request): Body {
  const body: unknown = req.body;
  return typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Body) : {};
}

export function text(body: Body, key: string): string | undefined {
  const value = body[key];
  return typeof value === 'string' ? value : undefined;
}

export function fail(res: Response, status: number, message: string, extra: Body = {}): void {
  res.status(status).json({ success: false, message, ...extra });
}

function hasNoBody(req: Request): boolean {
  return req.headers['transfer-encoding'] === undefined && (req.headers['content-length'] === undefined || req.headers['content-length'] === '0');
}

/** `application/json`, with or without parameters (charset). */
function saysJson(contentType: string): boolean {
  return contentType.split(';')[0]!.trim().toLowerCase() === 'application/json';
}

/**
 * JSON bodies only: a cross-site form can post urlencoded, multipart or text/plain without a CORS
 * preflight, never application/json, so this also keeps gateway-cookie users safe from CSRF.
 * A request without a body, untyped or typed JSON (as ProxMenux's frontend sends DELETE and its
 * body-less POSTs), is an empty JSON object; req.is() alone would call it "no type" and refuse it.
 */
export function requireJson(req: Request, res: Response, next: NextFunction): void {
  const type = req.headers['content-type'];
  if (hasNoBody(req) && (type === undefined || saysJson(type))) return next();
  if (type !== undefined && req.is('application/json')) return next();
  fail(res, 415, 'Send the request body as JSON (Content-Type: application/json)');
}

/** What a row with a JSON body parses it with: JSON only, at most JSON_LIMIT. */
export const jsonBody: readonly RequestHandler[] = [requireJson, express.json({ limit: JSON_LIMIT, type: 'application/json' })];

export function noStore(_req: Request, res: Response, next: NextFunction): void {
  res.set('Cache-Control', 'no-store');
  next();
}

export const usernameRule = z
  .string()
  .min(1)
  .max(MAX_USERNAME)
  .regex(/^[A-Za-z0-9._@-]+$/);

export const displayNameRule = z
  .string()
  .max(64)
  .refine((v) => !/[\p{Cc}\p{Cf}]/u.test(v));

export const tokenNameRule = z
  .string()
  .trim()
  .min(1)
  .max(100)
  .refine((v) => !/[\p{Cc}\p{Cf}]/u.test(v));
