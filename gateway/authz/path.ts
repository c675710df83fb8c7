/**
 * The path an access-control rule sees: one canonical form per resource, so `resources` regexes cannot
 * be walked around with dot segments, doubled slashes or percent-encoding.
 *
 * Canonical form (RFC 3986 §6.2.2): percent-encoded unreserved characters are decoded, every other
 * percent-encoding is kept with upper-case hex, characters that may not appear raw in a path are
 * encoded, empty segments are dropped, a trailing slash is kept. A `.` or `..` segment, raw or
 * percent-encoded, is refused rather than resolved. The `?query` is validated and kept as sent
 * (Authelia matches `resources` against the cleaned path plus the raw query).
 *
 * `null` means "the backend could read this path differently from us": the caller denies.
 */

/** Longer request targets are refused: user regexes run on this string and are backtracking. */
export const MAX_PATH_LENGTH = 8192;

const SLASH = 0x2f;

// pchar = unreserved / sub-delims / ":" / "@" (RFC 3986 §3.3), minus ";" which is refused below.
const RAW_PATH_CHAR = buildTable("A-Za-z0-9-._~!$&'()*+,=:@");
const UNRESERVED = buildTable('A-Za-z0-9-._~');

function buildTable(spec: string): Uint8Array {
  const table = new Uint8Array(128);
  for (let i = 0; i < spec.length; i++) {
    const c = spec.charCodeAt(i);
    if (spec[i + 1] === '-' && i + 2 < spec.length) {
      for (let x = c; x <= spec.charCodeAt(i + 2); x++) table[x] = 1;
      i += 2;
    } else {
      table[c] = 1;
    }
  }
  return table;
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

const HEX = '0123456789ABCDEF';
function encodeByte(b: number): string {
  return '%' + HEX[b >> 4] + HEX[b & 15];
}

/** Normalises `path[?query]` as sent by the proxy; `null` when the request must be denied. */
export function normalisePath(rawPathWithQuery: string): string | null {
  const raw = rawPathWithQuery;
  if (raw.length === 0 || raw.length > MAX_PATH_LENGTH || raw.charCodeAt(0) !== SLASH) return null;

  const q = raw.indexOf('?');
  const end = q === -1 ? raw.length : q;
  const path = isCanonicalPath(raw, end) ? (end === raw.length ? raw : raw.slice(0, end)) : normaliseRawPath(raw, end);
  if (path === null) return null;
  if (q === -1 || q === raw.length - 1) return path;
  return isValidQuery(raw, q + 1) ? path + raw.slice(q) : null;
}

/** Fast path for the common case: only raw pchars, no empty, `.` or `..` segment (the slow path refuses those). */
function isCanonicalPath(raw: string, end: number): boolean {
  let segmentStart = 1;
  for (let i = 1; i <= end; i++) {
    if (i === end || raw.charCodeAt(i) === SLASH) {
      const len = i - segmentStart;
      if (len === 0 && i !== end) return false;
      if (len === 1 && raw.charCodeAt(segmentStart) === 0x2e) return false;
      if (len === 2 && raw.charCodeAt(segmentStart) === 0x2e && raw.charCodeAt(segmentStart + 1) === 0x2e) return false;
      segmentStart = i + 1;
      continue;
    }
    const c = raw.charCodeAt(i);
    if (c >= 0x80 || RAW_PATH_CHAR[c] !== 1) return false;
  }
  return true;
}

function normaliseRawPath(raw: string, end: number): string | null {
  const out: string[] = [];
  let segment = '';
  let trailingSlash = false;

  for (let i = 1; i <= end; i++) {
    if (i === end || raw.charCodeAt(i) === SLASH) {
      // deny: a `.`/`..` segment (checked after decoding, so `%2e%2e` too): browsers resolve them before
      // sending, and upstreams that get the raw path (Express, Go, Werkzeug…) route on it unresolved
      if (segment === '.' || segment === '..') return null;
      if (segment !== '') out.push(segment); // `//` collapses
      if (i === end) trailingSlash = segment === '';
      segment = '';
      continue;
    }

    const c = raw.charCodeAt(i);
    if (c === 0x25 /* % */) {
      if (i + 2 >= end) return null;
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return null; // malformed escape: parsers disagree on what it means
      const b = hi * 16 + lo;
      i += 2;
      if (b < 0x80 && UNRESERVED[b] === 1) {
        segment += String.fromCharCode(b);
        continue;
      }
      // deny: an encoded `/` or `\` is one segment to us and two to backends that decode before routing
      if (b === 0x2f || b === 0x5c) return null;
      // deny: controls truncate or split the path in C backends and logs
      if (b < 0x20 || b === 0x7f) return null;
      // deny: `;` is a path-parameter delimiter for servlet containers (`/..;/admin` is `/../admin` there)
      if (b === 0x3b) return null;
      // deny: `%25` + hex is double encoding; a backend that decodes twice sees a different path
      if (b === 0x25 && i + 2 < end && hexValue(raw.charCodeAt(i + 1)) >= 0 && hexValue(raw.charCodeAt(i + 2)) >= 0) {
        return null;
      }
      segment += encodeByte(b);
      continue;
    }
    // deny: raw control characters, whitespace and non-ASCII never come from a well-formed request line
    if (c <= 0x20 || c >= 0x7f) return null;
    // deny: `\` is a separator for some backends; `;` see above; `#` never reaches a server
    if (c === 0x5c || c === 0x3b || c === 0x23) return null;
    segment += RAW_PATH_CHAR[c] === 1 ? raw[i] : encodeByte(c);
  }

  if (out.length === 0) return '/';
  return '/' + out.join('/') + (trailingSlash ? '/' : '');
}

function isValidQuery(raw: string, start: number): boolean {
  for (let i = start; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x23) return false;
    if (c === 0x25) {
      if (i + 2 >= raw.length) return false;
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return false;
      if (hi === 0 && lo === 0) return false; // an encoded NUL has no legitimate use
      i += 2;
    }
  }
  return true;
}
