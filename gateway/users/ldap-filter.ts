/**
 * The LDAP backend's search filters with their placeholders filled. Every value that comes from a person
 * or from the directory (`{input}`, `{username}`, `{dn}`, `{mail}`, `{memberof:…}`) is escaped per
 * RFC 4515 section 3, so it can only ever be compared as a value: `*)(uid=*` is a name nobody has.
 * Attribute names come from the configuration and go in as written. One pass over the filter: a value
 * that happens to contain `{dn}` is not filled in again.
 */
import type { LdapSettings } from './ldap-settings.ts';

/** RFC 4515 section 3: `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`, `\29`, `\5c`, `\00`. */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\u0000]/g, (character) => `\\${character.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** What the groups filter may name about the user whose groups are looked up. */
export interface GroupsFilterSubject {
  input: string;
  username: string;
  dn: string;
  mail: string | undefined;
  memberOf: readonly string[];
}

/** A filter that matches no entry: where a list of values is empty (`(|)` is not understood everywhere). */
export const MATCH_NOTHING = '(!(objectClass=*))';

/** The users filter for one login (`{input}` is the login as typed). */
export function usersFilterFor(settings: LdapSettings, input: string, now: Date): string {
  return fill(settings.usersFilter, { ...attributeNames(settings), ...dateTimes(now), input: escapeFilterValue(input) });
}

/** The groups filter for one user (filter mode, or memberof mode's search of the groups they are a member of). */
export function groupsFilterFor(settings: LdapSettings, subject: GroupsFilterSubject, now: Date): string {
  const dnAttribute = settings.attributes.distinguishedName ?? 'distinguishedName';
  const memberOf = subject.memberOf.map(escapeFilterValue);
  // `{memberof:rdn}` is each group's first RDN (`cn=admins`): only its value is the directory's to say
  const rdns = subject.memberOf.map((dn) => firstRdn(dn)).filter((rdn) => rdn !== null);
  return fill(settings.groupsFilter, {
    ...attributeNames(settings),
    ...dateTimes(now),
    input: escapeFilterValue(subject.input),
    username: escapeFilterValue(subject.username),
    dn: escapeFilterValue(subject.dn),
    mail: escapeFilterValue(subject.mail ?? ''),
    'memberof:dn': memberOf.length === 0 ? MATCH_NOTHING : memberOf.map((dn) => `(${dnAttribute}=${dn})`).join(''),
    'memberof:rdn': rdns.length === 0 ? MATCH_NOTHING : rdns.map(({ type, value }) => `(${type}=${escapeFilterValue(value)})`).join(''),
  });
}

function attributeNames(settings: LdapSettings): Record<string, string> {
  const { attributes } = settings;
  return {
    username_attribute: attributes.username,
    mail_attribute: attributes.mail,
    display_name_attribute: attributes.displayName,
    distinguished_name_attribute: attributes.distinguishedName ?? 'distinguishedName',
    member_of_attribute: attributes.memberOf ?? 'memberOf',
  };
}

/** Authelia's `{date-time:…}` placeholders: generalized time, Unix seconds, Windows NT 100 ns ticks since 1601. */
function dateTimes(now: Date): Record<string, string> {
  const iso = now.toISOString();
  const generalized = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}.0Z`;
  const ms = BigInt(now.getTime());
  return {
    'date-time:generalized': generalized,
    'date-time:unix': String(ms / 1000n),
    'date-time:microsoft-nt': String((ms + 11_644_473_600_000n) * 10_000n),
  };
}

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{([a-z_:-]+)\}/g, (whole, name: string) => (Object.hasOwn(values, name) ? values[name]! : whole));
}

/** `cn=admins,ou=groups,…` → { type: 'cn', value: 'admins' } (RFC 4514 escapes in the value undone); null if it is not one. */
function firstRdn(dn: string): { type: string; value: string } | null {
  const match = /^\s*([A-Za-z][\w-]*|\d+(?:\.\d+)*)\s*=((?:\\[0-9A-Fa-f]{2}|\\.|[^,+\\])*)/.exec(dn);
  if (match === null) return null;
  return { type: match[1]!, value: unescapeDnValue(match[2]!.trim()) };
}

/** RFC 4514 section 2.4 undone: `\XX` are the bytes of UTF-8 text, `\,` is a comma. */
function unescapeDnValue(value: string): string {
  const parts: Buffer[] = [];
  for (let index = 0; index < value.length; index++) {
    const hex = value.slice(index + 1, index + 3);
    if (value[index] === '\\' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      parts.push(Buffer.from([parseInt(hex, 16)]));
      index += 2;
    } else {
      if (value[index] === '\\') index++;
      parts.push(Buffer.from(value[index] ?? '', 'utf8'));
    }
  }
  return Buffer.concat(parts).toString('utf8');
}

/**
 * Why `filter` is not one well-formed RFC 4515 filter (parentheses that do not balance, a `\` not
 * followed by two hex digits, text after the end), or null. ldapts's own parser is lenient (it takes
 * `(&(uid=a)(objectClass=person)` without its last parenthesis): a filter is checked here first, so
 * what the directory runs is what was written.
 */
export function filterSyntaxProblem(filter: string): string | null {
  if (!filter.startsWith('(')) return 'it does not start with (';
  let depth = 0;
  for (let index = 0; index < filter.length; index++) {
    const character = filter[index];
    if (character === '\\') {
      if (!/^[0-9A-Fa-f]{2}$/.test(filter.slice(index + 1, index + 3))) return `a \\ at character ${index + 1} is not followed by two hex digits`;
      index += 2;
    } else if (character === '(') {
      depth++;
    } else if (character === ')') {
      depth--;
      // the first ( is the filter's: back at depth 0 is its end
      if (depth === 0 && index !== filter.length - 1) return `text after the filter's last ) at character ${index + 1}`;
    }
  }
  return depth === 0 ? null : `${depth} ( not closed`;
}
