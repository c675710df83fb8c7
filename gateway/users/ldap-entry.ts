/**
 * What the LDAP backend makes of the entries a directory returns, free of any connection: the user an
 * entry is (DN and username), the details it holds (display name, e-mails, profile, the credential
 * stamp), the group names of a groups search, and Active Directory's password value. The provider
 * (ldap.ts) does the searching and binding; everything here is a pure function of entries as ldapts
 * returns them (one value: a string; several: an array; a requested attribute the entry lacks: []; the
 * binary ones asked as Buffers), so each directory's table can be tested against recorded entries.
 */
import { createHash } from 'node:crypto';
import type { Entry } from 'ldapts';
import type { LdapProfileAttribute, LdapSettings } from './ldap-settings.ts';
import { USER_ADDRESS_FIELDS, type UserAttributes, type UserDetails } from './provider.ts';

export type LdapEntry = Entry;

/**
 * What the credential stamp is made of, besides the DN: the entry's identity (so an account deleted and
 * made again under the same name is another credential), then the first "password last changed" time
 * the directory shows (OpenLDAP's ppolicy, LLDAP, Active Directory, FreeIPA), else the entry's last change.
 */
const IDENTITY_ATTRIBUTES = ['entryUUID', 'objectGUID', 'ipaUniqueID', 'nsUniqueId'] as const;
// entryCSN (OpenLDAP) before modifyTimestamp: microseconds, where modifyTimestamp has whole seconds
const PASSWORD_CHANGED_ATTRIBUTES = ['pwdChangedTime', 'pwdLastSet', 'krbLastPwdChange', 'entryCSN', 'modifyTimestamp'] as const;
/** Asked of ldapts as Buffers (ldapts matches these names as written: Active Directory spells it so). */
export const BINARY_ATTRIBUTES = ['objectGUID'];

const ADDRESS_PARTS: ReadonlySet<LdapProfileAttribute> = new Set(USER_ADDRESS_FIELDS);

/** A user's entry as read with the service account: its DN, canonical username and the entry itself. */
export interface UserEntry {
  dn: string;
  username: string;
  entry: LdapEntry;
}

/** Every attribute a user search asks for: the configured ones and what the credential stamp reads. */
export function userAttributeNames(settings: LdapSettings): string[] {
  const { attributes } = settings;
  const names = [
    attributes.username, attributes.displayName, attributes.mail,
    ...Object.values(attributes.profile), ...Object.keys(attributes.extra),
    ...IDENTITY_ATTRIBUTES, ...PASSWORD_CHANGED_ATTRIBUTES,
  ];
  if (attributes.distinguishedName) names.push(attributes.distinguishedName);
  if (attributes.memberOf) names.push(attributes.memberOf);
  return [...new Set(names.filter((name): name is string => typeof name === 'string' && name.length > 0))];
}

/** The user an entry of the users search is, or null when it has no DN or no username to go by. */
export function userFromEntry(entry: LdapEntry, settings: LdapSettings): UserEntry | null {
  const dn = settings.attributes.distinguishedName ? first(entry, settings.attributes.distinguishedName) : entry.dn;
  const usernames = all(entry, settings.attributes.username);
  // an entry with two usernames is no account: which one signs in would be the directory's listing order
  if (usernames.length !== 1) return null;
  const username = usernames[0]!;
  if (dn === undefined || dn.length === 0 || username.length === 0) return null;
  return { dn, username, entry };
}

/** The DNs of the groups the entry says the user is in (memberOf), for memberof mode and the `{memberof:…}` placeholders. */
export function memberOfFromEntry(user: UserEntry, settings: LdapSettings): string[] {
  return settings.attributes.memberOf ? all(user.entry, settings.attributes.memberOf) : [];
}

/** The user's details from their entry, with the groups found apart (groupNamesFrom). */
export function detailsFromEntry(user: UserEntry, settings: LdapSettings, groups: readonly string[]): UserDetails {
  const { attributes } = settings;
  const profile = profileFromEntry(user.entry, settings);
  return {
    username: user.username,
    displayName: first(user.entry, attributes.displayName) ?? user.username,
    emails: all(user.entry, attributes.mail),
    groups: [...groups],
    credentialStamp: credentialStamp(user),
    ...(profile === undefined ? {} : { attributes: profile }),
  };
}

/**
 * The group names of a groups search's entries. In memberof mode only the groups the user's memberOf
 * lists count (DNs compared in any case). A group name must be one value: with two, which one rules
 * would match is a guess, so such a group is left out.
 */
export function groupNamesFrom(groupEntries: readonly LdapEntry[], settings: LdapSettings, memberOf: readonly string[]): string[] {
  const listed = new Set(memberOf.map((dn) => dn.toLowerCase()));
  const groups: string[] = [];
  for (const entry of groupEntries) {
    if (settings.groupSearchMode === 'memberof' && !listed.has(entry.dn.toLowerCase())) continue;
    const names = all(entry, settings.attributes.groupName);
    if (names.length === 1 && names[0]!.length > 0 && !groups.includes(names[0]!)) groups.push(names[0]!);
  }
  return groups;
}

/** Active Directory takes a new password as unicodePwd: the password in double quotes, UTF-16LE. */
export function activeDirectoryPassword(password: string): Buffer {
  return Buffer.from(`"${password}"`, 'utf16le');
}

function profileFromEntry(entry: LdapEntry, settings: LdapSettings): UserAttributes | undefined {
  const { profile: mapping, extra: extraMapping } = settings.attributes;
  const result: Record<string, unknown> = {};
  const address: Record<string, string> = {};
  for (const [name, attribute] of Object.entries(mapping) as Array<[LdapProfileAttribute, string | undefined]>) {
    if (attribute === undefined) continue;
    const value = first(entry, attribute);
    if (value === undefined) continue;
    if (ADDRESS_PARTS.has(name)) address[name] = value;
    else result[name] = value;
  }
  if (Object.keys(address).length > 0) result['address'] = address;
  const extra: Record<string, unknown> = {};
  for (const [attribute, { name, multiValued, valueType }] of Object.entries(extraMapping)) {
    const values = all(entry, attribute).map((value) => typed(value, valueType)).filter((value) => value !== undefined);
    if (values.length === 0) continue;
    extra[name] = multiValued ? values : values[0];
  }
  if (Object.keys(extra).length > 0) result['extra'] = extra;
  return Object.keys(result).length === 0 ? undefined : (result as UserAttributes);
}

/** Changes whenever the password does (or the account is made again): sessions keep it and end with it. */
function credentialStamp(user: UserEntry): string {
  const identity = IDENTITY_ATTRIBUTES.map((name) => first(user.entry, name)).find((value) => value !== undefined) ?? '';
  const changed = PASSWORD_CHANGED_ATTRIBUTES.map((name) => first(user.entry, name)).find((value) => value !== undefined) ?? '';
  return createHash('sha256').update(JSON.stringify(['ldap', user.dn.toLowerCase(), identity, changed])).digest('base64url');
}

/** Every value of an attribute, its name in any case (directories answer in their own spelling); Buffers as hex. */
export function all(entry: LdapEntry, attribute: string): string[] {
  const wanted = attribute.toLowerCase();
  for (const [name, value] of Object.entries(entry)) {
    if (name.toLowerCase() !== wanted || name === 'dn') continue;
    const list = Array.isArray(value) ? value : [value];
    return list.map((item) => (Buffer.isBuffer(item) ? item.toString('hex') : String(item)));
  }
  return [];
}

function first(entry: LdapEntry, attribute: string): string | undefined {
  return all(entry, attribute)[0];
}

function typed(value: string, type: 'string' | 'integer' | 'boolean'): unknown {
  if (type === 'string') return value;
  if (type === 'integer') return /^-?\d+$/.test(value) ? Number(value) : undefined;
  const lower = value.toLowerCase();
  return lower === 'true' ? true : lower === 'false' ? false : undefined;
}
