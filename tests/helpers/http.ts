import http, { type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';

export interface SetCookie {
  name: string;
  value: string;
  /** Attribute names lower-cased (`domain`, `path`, `secure`, `httponly`, `samesite`, `max-age`, `expires`); flags map to `true`. */
  attributes: Record<string, string | true>;
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  /** Parsed `Set-Cookie` headers, in order. */
  cookies: SetCookie[];
  /** `JSON.parse(body)`, with the body in the error if it is not JSON. */
  json<T = unknown>(): T;
}

export interface RequestOptions {
  method?: string;
  headers?: OutgoingHttpHeaders;
  body?: string | Uint8Array;
  /** Sent as JSON with `Content-Type: application/json` (unless a content type is given). */
  json?: unknown;
  /** PEM of the only CA to trust for https (no system CAs). */
  ca?: string | Buffer;
  /** Connect here whatever the URL's hostname (the hostname still goes in Host and SNI). Default 127.0.0.1. */
  resolveTo?: string;
  timeoutMs?: number;
}

/** Parse one `Set-Cookie` header value. */
export function parseSetCookie(header: string): SetCookie {
  const [pair = '', ...parts] = header.split(';');
  const separator = pair.indexOf('=');
  const name = (separator === -1 ? pair : pair.slice(0, separator)).trim();
  const value = separator === -1 ? '' : pair.slice(separator + 1).trim();
  const attributes: Record<string, string | true> = {};
  for (const part of parts) {
    const equals = part.indexOf('=');
    if (equals === -1) attributes[part.trim().toLowerCase()] = true;
    else attributes[part.slice(0, equals).trim().toLowerCase()] = part.slice(equals + 1).trim();
  }
  return { name, value, attributes };
}

function fixedLookup(address: string): LookupFunction {
  const family = address.includes(':') ? 6 : 4;
  return ((_hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options.all) callback(null, [{ address, family }]);
    else callback(null, address, family);
  }) as LookupFunction;
}

/**
 * One HTTP(S) request, as a browser on this machine would send it to `url` if every hostname
 * resolved to `resolveTo` (default 127.0.0.1): Host and SNI carry the URL's hostname, only `ca` is
 * trusted, redirects are returned, never followed, and no connection is reused.
 */
export function request(url: string, options: RequestOptions = {}): Promise<HttpResponse> {
  const target = new URL(url);
  const isHttps = target.protocol === 'https:';
  const headers: OutgoingHttpHeaders = { ...options.headers };
  let body = options.body;
  if (options.json !== undefined) {
    body = JSON.stringify(options.json);
    const hasType = Object.keys(headers).some((key) => key.toLowerCase() === 'content-type');
    if (!hasType) headers['content-type'] = 'application/json';
  }
  if (body !== undefined) headers['content-length'] = Buffer.byteLength(body);
  const hostname = target.hostname.replace(/^\[|\]$/g, '');

  const requestOptions: https.RequestOptions = {
    method: options.method ?? 'GET',
    hostname,
    port: target.port || (isHttps ? 443 : 80),
    path: `${target.pathname}${target.search}`,
    headers,
    agent: false,
    lookup: fixedLookup(options.resolveTo ?? '127.0.0.1'),
    timeout: options.timeoutMs ?? 10_000,
  };
  if (isHttps) {
    requestOptions.servername = hostname;
    if (options.ca !== undefined) requestOptions.ca = options.ca;
  }

  return new Promise((resolve, reject) => {
    const req = (isHttps ? https : http).request(requestOptions, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', reject);
      res.once('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const setCookie = res.headers['set-cookie'] ?? [];
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: text,
          cookies: setCookie.map(parseSetCookie),
          json<T>(): T {
            try {
              return JSON.parse(text) as T;
            } catch {
              throw new Error(`expected a JSON body from ${url}, got ${res.statusCode}: ${text.slice(0, 500)}`);
            }
          },
        });
      });
    });
    req.once('timeout', () => req.destroy(new Error(`${requestOptions.method} ${url} timed out`)));
    req.once('error', reject);
    req.end(body);
  });
}

/**
 * The cookies a browser would hold for one site family: stored by name from responses, sent back
 * as one `Cookie` header. Domain and path are not matched (tests use one cookie domain).
 */
export class CookieJar {
  readonly #cookies = new Map<string, string>();

  /** Take the `Set-Cookie`s of a response: set, replace, or delete (Max-Age ≤ 0 or Expires in the past). */
  store(response: Pick<HttpResponse, 'cookies'>): void {
    for (const cookie of response.cookies) {
      const maxAge = cookie.attributes['max-age'];
      const expires = cookie.attributes['expires'];
      const expired =
        (typeof maxAge === 'string' && Number(maxAge) <= 0) ||
        (typeof expires === 'string' && Date.parse(expires) <= Date.now());
      if (expired) this.#cookies.delete(cookie.name);
      else this.#cookies.set(cookie.name, cookie.value);
    }
  }

  get(name: string): string | undefined {
    return this.#cookies.get(name);
  }

  set(name: string, value: string): void {
    this.#cookies.set(name, value);
  }

  clear(): void {
    this.#cookies.clear();
  }

  /** `{ cookie: 'a=1; b=2' }`, or `{}` when empty: spread it into request headers. */
  headers(): { cookie?: string } {
    if (this.#cookies.size === 0) return {};
    return { cookie: [...this.#cookies].map(([name, value]) => `${name}=${value}`).join('; ') };
  }
}
