/**
 * Every configuration key Authelia 4.39 knows (tests/fixtures/authelia/keys-4.39.txt, generated from its
 * internal/configuration/schema/keys.go) is known to Gatehouse: read by the schema (a key the schema takes
 * as an opaque value covers everything below it), or handled by the deprecation table. A key read but
 * without effect must say so at startup: every opaque value, and every row of NO_EFFECT, warns (or, when
 * ignoring it would leave Gatehouse more open, is an error) as soon as it is set. A key neither knows stays
 * an error.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DEPRECATIONS } from '../../../gateway/config/deprecations.ts';
import { gatewayConfigSchema, gatewayJsonSchema } from '../../../gateway/config/schema.ts';
import { validateGatewayConfig } from '../../../gateway/config/validate/index.ts';
import { NO_EFFECT } from '../../../gateway/config/validate/not-yet-supported.ts';
import { parseGatewayConfig } from '../../../gateway/config/load.ts';
import { ConfigError } from '../../../lib/errors.ts';
import { repoPath } from '../../helpers/repo.ts';

const KEYS = readFileSync(repoPath('tests', 'fixtures', 'authelia', 'keys-4.39.txt'), 'utf8')
  .split('\n')
  .filter((line) => line !== '' && !line.startsWith('#'));

/** Opaque values Gatehouse reads itself (validated where they are used), so they have an effect. */
const OPAQUE_BUT_READ = new Set([
  'access_control.rules[].query[][].value',
  'identity_providers.oidc.clients[].jwks',
  'identity_providers.oidc.clients[].jwks_uri',
]);

/** Typed keys Gatehouse reads only to warn about, in their section's validator (not the NO_EFFECT table). */
const WARNED_BY_THEIR_SECTION: readonly [string, unknown][] = [
  ['session.redis.max_retries', 3],
  ['session.redis.high_availability.route_by_latency', true],
  ['session.redis.high_availability.route_randomly', true],
  ['identity_providers.oidc.enable_pkce_plain_challenge', true],
  ['identity_providers.oidc.jwks[].certificate_chain', '-----BEGIN CERTIFICATE-----'],
  ['identity_providers.oidc.clients[].response_modes', ['query', 'fragment', 'form_post']],
];

type JsonSchema = Record<string, unknown> & {
  properties?: Record<string, JsonSchema>;
  items?: JsonSchema;
  additionalProperties?: JsonSchema | boolean;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  allOf?: JsonSchema[];
};

const ROOT = gatewayJsonSchema() as JsonSchema;

/** `a.b[].c.*.d` → ['a', 'b', '[]', 'c', '*', 'd'] */
function tokens(key: string): string[] {
  return key.split('.').flatMap((part) => {
    const name = part.replace(/(\[\])+$/, '');
    const lists = (part.length - name.length) / 2;
    return [...(name ? [name] : []), ...Array<string>(lists).fill('[]')];
  });
}

/** `z.unknown()`: no type and nothing to descend into; it takes any value and everything below it. */
function isOpaque(s: JsonSchema): boolean {
  return !['type', 'properties', 'items', 'additionalProperties', 'anyOf', 'oneOf', 'allOf', 'enum', 'const', '$ref'].some((k) => k in s);
}

function objectEntries(s: JsonSchema): JsonSchema | undefined {
  return typeof s.additionalProperties === 'object' ? s.additionalProperties : undefined;
}

/** The schema node at `path` (the first branch that has it). */
function schemaAt(s: JsonSchema, path: readonly string[]): JsonSchema | undefined {
  const [head, ...rest] = path;
  if (head === undefined) return s;
  for (const branch of [...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])]) {
    const found = schemaAt(branch, path);
    if (found) return found;
  }
  const next = head === '[]' ? s.items : head === '*' ? objectEntries(s) : s.properties?.[head];
  return next && schemaAt(next, rest);
}

function accepts(s: JsonSchema, path: readonly string[]): boolean {
  if (isOpaque(s)) return true;
  if ([...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])].some((branch) => accepts(branch, path))) return true;
  const [head, ...rest] = path;
  if (head === undefined) return true;
  if (head === '[]') return s.items !== undefined && accepts(s.items, rest);
  const entries = objectEntries(s);
  if (head === '*') return entries !== undefined && accepts(entries, rest);
  const property = s.properties?.[head] ?? entries;
  return property !== undefined && accepts(property, rest);
}

/** The deprecated keys (and, for a reshaped block such as storage.postgres.ssl, everything below them). */
const DEPRECATED = DEPRECATIONS.flatMap((d) => (typeof d.old === 'string' ? [d.old] : [...d.old]));
const deprecated = (key: string) => DEPRECATED.some((old) => key === old || key.startsWith(`${old}.`));

/** Every opaque node of the schema, as an Authelia-style key. */
function opaqueKeys(s: JsonSchema, at: string, out: string[]): string[] {
  if (isOpaque(s)) {
    if (at !== '') out.push(at);
    return out;
  }
  for (const branch of [...(s.anyOf ?? []), ...(s.oneOf ?? []), ...(s.allOf ?? [])]) opaqueKeys(branch, at, out);
  if (s.items) opaqueKeys(s.items, `${at}[]`, out);
  for (const [name, child] of Object.entries(s.properties ?? {})) opaqueKeys(child, at ? `${at}.${name}` : name, out);
  const entries = objectEntries(s);
  if (entries) opaqueKeys(entries, `${at}.*`, out);
  return out;
}

const CLIENT_DIGEST = '$pbkdf2-sha512$310000$c8p78n7pUMln0jzvd4aK4Q$JNRBzwAo0ek5qKn50cFzzvE9RXV88h1wJn5KGiHrD0YKtZaR/nCb2CJPOsKaPK0hjf.9yHxzQGZziziccp6Yng';

/** A configuration where every list and map on the way to any key has an entry to set it in. */
function base(): Record<string, unknown> {
  return {
    authentication_backend: { file: { path: '/tmp/users.yml' } },
    access_control: { rules: [{ domain: 'app.example.com', policy: 'one_factor', query: [[{ key: 'a', operator: 'present' }]] }] },
    session: { cookies: [{ domain: 'example.com', authelia_url: 'https://auth.example.com/' }] },
    identity_providers: {
      oidc: { jwks: [{ key: '-----BEGIN PRIVATE KEY-----' }], lifespans: { custom: { short: {} } }, clients: [{ client_id: 'app', client_secret: CLIENT_DIGEST, redirect_uris: ['https://app.example.com/cb'] }] },
    },
  };
}

/** Sets `key` in `raw` (`[]` is the first entry, `*` the entry `short`) and returns the path a problem names. */
function setKey(raw: Record<string, unknown>, key: string, value: unknown): string {
  let node: Record<string, unknown> | unknown[] = raw;
  const shown: string[] = [];
  const parts = tokens(key);
  parts.forEach((part, i) => {
    const last = i === parts.length - 1;
    const name = part === '[]' ? 0 : part === '*' ? 'short' : part;
    if (part === '[]') shown[shown.length - 1] += '[0]';
    else shown.push(String(name));
    const container = node as Record<string | number, unknown>;
    if (last) container[name] = value;
    else {
      container[name] ??= parts[i + 1] === '[]' ? [] : {};
      node = container[name] as Record<string, unknown>;
    }
  });
  return shown.join('.');
}

function problemsWhenSet(key: string, value: unknown) {
  const raw = base();
  const path = setKey(raw, key, value);
  const problems = validateGatewayConfig(gatewayConfigSchema.parse(raw));
  return { path, problems, baseline: validateGatewayConfig(gatewayConfigSchema.parse(base())) };
}

describe("Authelia 4.39's configuration keys are all known to Gatehouse", () => {
  it('the fixture is the whole list (generated from keys.go at v4.39.20)', () => {
    assert.match(readFileSync(repoPath('tests', 'fixtures', 'authelia', 'keys-4.39.txt'), 'utf8'), /^# .*keys\.go at tag v4\.39\.20/);
    assert.ok(KEYS.length > 450, `${KEYS.length} keys`);
  });

  it('each key is read by the schema, handled by the deprecation table, or on the being-implemented list', () => {
    const unknown = KEYS.filter((key) => !accepts(ROOT, tokens(key)) && !deprecated(key));
    assert.deepEqual(unknown, []);
  });

  it('authentication_backend.ldap is typed to its last key: each of its keys has a node in the schema, none opaque', () => {
    const ldapKeys = KEYS.filter((key) => key.startsWith('authentication_backend.ldap.') && !deprecated(key));
    assert.ok(ldapKeys.length > 45, `${ldapKeys.length} keys`);
    assert.deepEqual(ldapKeys.filter((key) => schemaAt(ROOT, tokens(key)) === undefined), []);
    assert.deepEqual(opaqueKeys(ROOT, '', []).filter((key) => key.startsWith('authentication_backend.ldap')), []);
  });

  it('every opaque value the schema accepts (z.unknown) says at startup that it has no effect, when set', () => {
    const opaque = opaqueKeys(ROOT, '', []).filter((key) => !OPAQUE_BUT_READ.has(key));
    assert.ok(opaque.length > 40, `${opaque.length} opaque keys`);
    const silent = opaque.filter((key) => {
      const { path, problems, baseline } = problemsWhenSet(key, { set: true });
      return !problems.some((p) => p.path === path && !baseline.some((b) => b.path === p.path && b.message === p.message));
    });
    assert.deepEqual(silent, []);
  });

  it('every key read only to be ignored (NO_EFFECT) warns when set, and not at a value that means what Gatehouse does', () => {
    for (const { path: key, quiet = [false, ''] } of NO_EFFECT) {
      const node = schemaAt(ROOT, tokens(key));
      const type = node?.type;
      const choices = Array.isArray(node?.enum) ? node.enum.filter((v) => !quiet.includes(v)) : [];
      const value = choices[0] ?? (type === 'boolean' ? true : type === 'string' ? 'something-else' : type === 'integer' ? 1 : { set: true });
      const { path, problems } = problemsWhenSet(key, value);
      const problem = problems.find((p) => p.path === path);
      assert.equal(problem?.severity, 'warning', key);
      assert.match(problem?.message ?? '', /^has no effect: /, key);
      for (const value of quiet.filter((v) => typeof v === (type === 'integer' ? 'number' : type))) {
        assert.equal(problemsWhenSet(key, value).problems.find((p) => p.path === path), undefined, `${key}: ${String(value)}`);
      }
    }
  });

  it('the typed keys warned about by their own section say "has no effect" when set', () => {
    const secret = 'Vb7xK2qN9mR4tW8zL3cF6hJ1-shared';
    for (const [key, value] of WARNED_BY_THEIR_SECTION) {
      const raw = { ...base(), session: { ...(base().session as object), secret, redis: { host: 'redis', high_availability: { sentinel_name: 'main' } } } };
      const path = setKey(raw, key, value);
      const problem = validateGatewayConfig(gatewayConfigSchema.parse(raw)).find((p) => p.path === path);
      assert.equal(problem?.severity, 'warning', key);
      assert.match(problem?.message ?? '', /has no effect/, key);
    }
  });

  it('a key neither Authelia nor Gatehouse knows is still an error', () => {
    const raw = base();
    setKey(raw, 'server.not_an_option', true);
    setKey(raw, 'session.redis', { host: 'redis', sentinel: 'main' });
    assert.throws(
      () => parseGatewayConfig(raw),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        const problems = error.problems.join('\n');
        assert.match(problems, /server.*not_an_option/);
        assert.match(problems, /session\.redis.*sentinel/);
        return true;
      },
    );
  });
});
