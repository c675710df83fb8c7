/**
 * User attributes by Authelia's names (internal/expression): the built-in ones every user has
 * (`username`, `groups`, `email`, `given_name` …), those `definitions.user_attributes` computes with a
 * CEL expression from them, and the users file's `extra:` entries. OpenID Connect claims read them
 * (claims_policies.<name>.custom_claims.<claim>.attribute, and a custom scope's claims).
 *
 * A user's computed attributes are worked out once per details object (the cache in users/cached.ts
 * makes a new one at each refresh), never per request; an expression that fails for a user gives no
 * value, as in Authelia (the claim is left out).
 */
import { evaluateCel, CelEvalError } from './cel-eval.ts';
import { CelSyntaxError, freeNames, parseCel, type CelNode, type CelValue } from './cel-parse.ts';
import type { UserDetails } from '../users/provider.ts';

/** Authelia's built-in attribute names (expression/const.go) that Gatehouse fills in. */
export const BUILT_IN_ATTRIBUTES = [
  'username', 'groups', 'display_name', 'email', 'emails', 'emails_extra', 'email_verified',
  'given_name', 'middle_name', 'family_name', 'nickname', 'profile', 'picture', 'website', 'gender', 'birthdate',
  'zoneinfo', 'locale', 'phone_number', 'phone_number_rfc3966', 'phone_extension', 'phone_number_verified',
  'address', 'street_address', 'locality', 'region', 'postal_code', 'country',
] as const;

/** Authelia's other reserved names: no definition may take them, and Gatehouse has no value for them. */
export const UNAVAILABLE_ATTRIBUTES: Readonly<Record<string, string>> = {
  updated_at: 'Gatehouse does not track when a user was last updated',
  openid_authreq_claim_value: 'Gatehouse does not read the claims request parameter',
  openid_authreq_claim_values: 'Gatehouse does not read the claims request parameter',
};

const BUILT_IN: ReadonlySet<string> = new Set(BUILT_IN_ATTRIBUTES);

export function isReservedAttribute(name: string): boolean {
  return BUILT_IN.has(name) || Object.hasOwn(UNAVAILABLE_ATTRIBUTES, name);
}

export type UserAttributeDefinitions = Readonly<Record<string, { expression: string }>>;

/** What is wrong with one definition's expression, for the config validator. */
export function expressionProblem(expression: string): string | null {
  let node: CelNode;
  try {
    node = parseCel(expression);
  } catch (err) {
    if (err instanceof CelSyntaxError) return `is not an expression Gatehouse can evaluate: at character ${err.position}: ${err.message}`;
    throw err;
  }
  for (const name of freeNames(node)) {
    if (Object.hasOwn(UNAVAILABLE_ATTRIBUTES, name)) return `reads '${name}', which ${UNAVAILABLE_ATTRIBUTES[name]}`;
  }
  return null;
}

/** The names an accepted expression reads that are not built-in: each user's extra attributes, or a typo. */
export function extraNamesRead(expression: string): string[] {
  return [...freeNames(parseCel(expression))].filter((name) => !BUILT_IN.has(name));
}

export interface UserAttributeResolver {
  /** The attribute's value for `user` (built-in, defined or extra), or undefined when it has none. */
  resolve(name: string, user: UserDetails): unknown;
  /** Whether `name` is a defined or built-in attribute (an extra one is known only per user). */
  isKnown(name: string): boolean;
}

/** Builds the resolver from definitions the config validator accepted (a bad one throws). */
export function createUserAttributeResolver(definitions: UserAttributeDefinitions = {}): UserAttributeResolver {
  const programs = new Map(Object.entries(definitions).map(([name, { expression }]) => [name, parseCel(expression)]));
  const inputs = new WeakMap<UserDetails, Record<string, CelValue>>();
  const inputFor = (user: UserDetails): Record<string, CelValue> => {
    let input = inputs.get(user);
    if (input === undefined) {
      input = builtInAttributes(user);
      inputs.set(user, input);
    }
    return input;
  };
  const computed = new WeakMap<UserDetails, Map<string, CelValue | undefined>>();
  const computedFor = (user: UserDetails): Map<string, CelValue | undefined> => {
    let values = computed.get(user);
    if (values === undefined) {
      const input = inputFor(user);
      values = new Map([...programs].map(([name, program]) => [name, evaluateOrNothing(program, input)]));
      computed.set(user, values);
    }
    return values;
  };
  return {
    resolve(name, user) {
      if (programs.has(name)) return computedFor(user).get(name);
      if (BUILT_IN.has(name)) return inputFor(user)[name] ?? undefined;
      const extra = user.attributes?.extra;
      return extra && Object.hasOwn(extra, name) ? extra[name] : undefined;
    },
    isKnown: (name) => programs.has(name) || BUILT_IN.has(name),
  };
}

function evaluateOrNothing(program: CelNode, input: Readonly<Record<string, CelValue>>): CelValue | undefined {
  try {
    return evaluateCel(program, input);
  } catch (err) {
    if (err instanceof CelEvalError) return undefined;
    throw err;
  }
}

/** The names an expression reads, as Authelia's UserDetailerActivation answers them (missing strings are ""). */
export function builtInAttributes(user: UserDetails): Record<string, CelValue> {
  const a = user.attributes ?? {};
  const address = a.address ?? {};
  const phone = a.phone_number ?? '';
  const input: Record<string, CelValue> = Object.create(null);
  // the users file's extra attributes first: a built-in name always wins
  for (const [name, value] of Object.entries(a.extra ?? {})) {
    const converted = toCelValue(value, 0);
    if (converted !== undefined) input[name] = converted;
  }
  const addressMap = Object.fromEntries(Object.entries(address).filter(([, v]) => typeof v === 'string' && v !== ''));
  Object.assign(input, {
    username: user.username,
    groups: [...user.groups],
    display_name: user.displayName,
    email: user.emails[0] ?? '',
    emails: [...user.emails],
    emails_extra: user.emails.length < 2 ? null : user.emails.slice(1),
    email_verified: true,
    given_name: a.given_name ?? '', middle_name: a.middle_name ?? '', family_name: a.family_name ?? '',
    nickname: a.nickname ?? '', profile: a.profile ?? '', picture: a.picture ?? '', website: a.website ?? '',
    gender: a.gender ?? '', birthdate: a.birthdate ?? '', zoneinfo: a.zoneinfo ?? '', locale: a.locale ?? '',
    phone_number: phone,
    phone_extension: a.phone_extension ?? '',
    phone_number_rfc3966: phone === '' ? '' : a.phone_extension ? `${phone};ext=${a.phone_extension}` : phone,
    phone_number_verified: phone === '' ? null : false,
    address: Object.keys(addressMap).length === 0 ? null : addressMap,
    street_address: address.street_address ?? '', locality: address.locality ?? '', region: address.region ?? '',
    postal_code: address.postal_code ?? '', country: address.country ?? '',
  });
  return input;
}

/** A users-file value as CEL sees it (YAML's strings, numbers, booleans, lists and maps); undefined for anything else. */
function toCelValue(value: unknown, depth: number): CelValue | undefined {
  if (depth > 16) return undefined;
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) {
    const items = value.map((item) => toCelValue(item, depth + 1));
    return items.every((item) => item !== undefined) ? (items as CelValue[]) : undefined;
  }
  if (typeof value === 'object') {
    const out: Record<string, CelValue> = Object.create(null);
    for (const [k, v] of Object.entries(value)) {
      const converted = toCelValue(v, depth + 1);
      if (converted === undefined) return undefined;
      out[k] = converted;
    }
    return out;
  }
  return undefined;
}
