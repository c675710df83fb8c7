/**
 * One reading of every request path, decided before routing (requests and WebSocket upgrades alike).
 * Express, its static file server and the terminal's URL parser each read a path their own way:
 * `//api/system`, `/x/../api/system` or `/%61pi/system` meant one thing to one of them and another to
 * the next, and ended in a 500. Canonicalise or refuse, never "normalise and hope": a path that is
 * not already in its one canonical form is refused here with 400, so no route ever sees it.
 * Routing then matches that one form exactly (ROUTING): `/API/system` or `/api/system/` is not
 * `/api/system` (the gateway's access rules, which guard these paths, are case-sensitive too).
 */

/**
 * How every router of the monitor matches paths: case-sensitively and with a trailing slash being
 * part of the path. Express's defaults (neither) let `/API/terminal/ticket` reach the ticket route
 * while a gateway rule on `^/api/terminal` never saw it.
 */
export const ROUTING = { caseSensitive: true, strict: true } as const;

/** Longest request target (path and query) accepted; real ones are far shorter. */
const MAX_REQUEST_TARGET = 4096;

/** Characters that may stand in a path as they are (RFC 3986 pchar and '/'; '%' starts an escape). */
const PATH_CHARACTER = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/%]$/;
/** Bytes that must never be escaped (their escape is a second spelling of the same path). */
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;

/** Why `target` (a request line's target) is not a canonical origin-form path, or null when it is. */
export function requestPathProblem(target: string | undefined): string | null {
  if (target === undefined || target === '') return 'the request has no path';
  if (target.length > MAX_REQUEST_TARGET) return `the request target is longer than ${MAX_REQUEST_TARGET} characters`;
  // origin-form only: an absolute URL or `*` names no path of ours
  if (!target.startsWith('/')) return 'the path must start with /';
  const query = target.indexOf('?');
  const path = query === -1 ? target : target.slice(0, query);
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === '\\') return 'the path contains a backslash';
    if (!PATH_CHARACTER.test(c)) return 'the path contains a character that must be escaped';
    if (c !== '%') continue;
    const hex = path.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return 'the path contains a malformed %-escape';
    const byte = Number.parseInt(hex, 16);
    const char = String.fromCharCode(byte);
    if (byte < 0x20 || byte === 0x7f) return 'the path contains an escaped control character';
    if (char === '/' || char === '\\') return 'the path contains an escaped slash or backslash';
    if (UNRESERVED.test(char)) return `the path escapes '${char}', which is written as it is`;
    i += 2;
  }
  const segments = path.split('/').slice(1);
  // the last segment may be empty (a trailing slash); any other empty segment is a doubled slash
  if (segments.slice(0, -1).includes('')) return 'the path contains an empty segment (//)';
  if (segments.some((s) => s === '.' || s === '..')) return 'the path contains a . or .. segment';
  return null;
}
