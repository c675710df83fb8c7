import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_PATH_LENGTH, normalisePath } from '../../../gateway/authz/path.ts';

function table(cases: [string, string | null][]): void {
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} → ${JSON.stringify(expected)}`, () => {
      assert.equal(normalisePath(input), expected);
    });
  }
}

describe('normalisePath: canonical paths pass unchanged', () => {
  table([
    ['/', '/'],
    ['/app', '/app'],
    ['/app/', '/app/'],
    ['/api/v1/items/42', '/api/v1/items/42'],
    ["/a-b_c.d~e!$&'()*+,=:@", "/a-b_c.d~e!$&'()*+,=:@"],
    ['/file.tar.gz', '/file.tar.gz'],
    ['/.well-known/openid-configuration', '/.well-known/openid-configuration'],
    ['/...', '/...'],
  ]);
});

// Dot segments are refused, not resolved: browsers resolve them before sending, and upstreams that
// receive the raw path (Express, Go, Werkzeug) route on `/admin/../public` as the admin area.
describe('normalisePath: dot segments, raw or percent-encoded, are refused', () => {
  table([
    ['/public/../admin', null],
    ['/public/./../admin', null],
    ['/public/%2e%2e/admin', null],
    ['/public/%2E%2E/admin', null],
    ['/public/.%2e/admin', null],
    ['/public/%2e./admin', null],
    ['/public/%2e/admin', null],
    ['/../../../etc/passwd', null],
    ['/..', null],
    ['/.', null],
    ['/a/b/..', null],
    ['/a/b/.', null],
    ['/a/./b/../c/', null],
    ['/a/..b/.c/c..', '/a/..b/.c/c..'], // only whole segments are dot segments
  ]);
});

describe('normalisePath: empty segments collapse', () => {
  table([
    ['//admin', '/admin'],
    ['///admin//panel///', '/admin/panel/'],
    ['/public//../admin', null],
  ]);
});

describe('normalisePath: percent-encoding has one canonical form (RFC 3986 §6.2.2)', () => {
  table([
    ['/%61dmin', '/admin'],
    ['/%41%7e%7E%2D%5f', '/A~~-_'],
    ['/a%20b', '/a%20b'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/a%3fb', '/a%3Fb'],
    ['/a|b', '/a%7Cb'],
    ['/a%7cb', '/a%7Cb'],
    ['/a"b<c>', '/a%22b%3Cc%3E'],
    ['/100%25', '/100%25'],
  ]);
});

describe('normalisePath: ambiguous or malformed paths are refused (the caller denies)', () => {
  table([
    ['', null],
    ['admin', null],
    ['http://example.com/admin', null],
    ['/a%2fb', null], // encoded slash: one segment here, two at a decoding backend
    ['/public%2F..%2Fadmin', null],
    ['/a%5cb', null], // encoded backslash
    ['/public\\..\\admin', null], // raw backslash is a separator on some backends
    ['/admin;x', null], // servlet path parameter
    ['/public/..;/admin', null],
    ['/admin%3bx', null],
    ['/a%00', null],
    ['/a%0ab', null],
    ['/a%7f', null],
    ['/a%zz', null],
    ['/a%4', null],
    ['/a%', null],
    ['/%252e%252e/admin', null], // double encoding
    ['/a b', null],
    ['/a\tb', null],
    ['/a\nb', null],
    ['/é', null], // raw non-ASCII: browsers always encode it
    ['/a#frag', null],
    ['/' + 'a'.repeat(MAX_PATH_LENGTH), null],
  ]);
});

describe('normalisePath: the query is validated and kept as sent', () => {
  table([
    ['/a?x=1&y=2', '/a?x=1&y=2'],
    ['/a?next=%2Fhome%2F..', '/a?next=%2Fhome%2F..'],
    ['/admin?x=/../', '/admin?x=/../'], // dots in the query are the app's business
    ['/a?', '/a'],
    ['/?q=1', '/?q=1'],
    ['/a?x=%', null],
    ['/a?x=%g1', null],
    ['/a?x=%00', null],
    ['/a?x=1#frag', null],
    ['/a?x=a b', null],
    ['/a?x=\r\nSet-Cookie:x', null],
  ]);
});
