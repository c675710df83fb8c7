/**
 * A URL or host as it may be repeated in a message or a log: the user info (`user:password@`) people
 * paste into a URL or a host option is blanked, so a password never reaches stderr or the journal.
 */

/**
 * `https://admin:pw@auth.example.com/` → `https://***@auth.example.com/`; `:pw@127.0.0.1` →
 * `***@127.0.0.1`. The user info ends at the last `@` before the path, query or fragment (as the WHATWG
 * parser reads it). Only a `scheme://` or `//` in front is kept: before a bare `name:` (a scheme to the
 * parser, a user name to the person who wrote `admin:pw@host`) everything up to that `@` is blanked.
 */
export function withoutUserInfo(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:[/\\]+|[/\\]+)?[^/\\?#]*@/i, (_, scheme: string | undefined) => `${scheme ?? ''}***@`);
}
