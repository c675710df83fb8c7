/**
 * Configuration loading shared by Gatehouse's services: YAML files merged in order, then
 * `<PREFIX><PATH>` environment overrides, then `<PREFIX><PATH>_FILE` secrets; parsed against a zod
 * schema and the service's cross-field checks. Every problem is collected and reported at once as
 * `config: <path>: <message>`.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './errors.ts';
import { placeholderWord, weakSecretProblem } from './secret-strength.ts';

/** Keys whose value may come from `<PATH>_FILE` (Authelia's rule: names ending in these words). */
export const SECRET_KEY_SUFFIXES = ['key', 'secret', 'password', 'token'];

export interface ValidationResult {
  problems: string[];
  warnings: string[];
}

export interface ConfigSpec<S extends z.ZodType> {
  schema: S;
  /** The schema as JSON Schema (input side): the environment variables are derived from it. */
  jsonSchema: () => Record<string, unknown>;
  envPrefix: string;
  /** Variables under the prefix that belong to someone else and are passed over silently. */
  foreignEnv: RegExp[];
  /** Keys whose names end like a secret but hold a file path. */
  notSecrets: string[];
  /** Named in the unknown-key message. */
  schemaFile: string;
  validate: (config: z.output<S>) => ValidationResult;
  /** Secrets the service's own checks judge in full; every other secret-named value is checked for placeholders here. */
  checkedSecrets?: readonly string[];
}

export interface LoadOptions {
  files: string[];
  env?: NodeJS.ProcessEnv;
  /** Values merged before the files (used by embedded defaults). */
  defaults?: Record<string, unknown>;
  /** Files the defaults came from that hold credentials (the embedded secrets), checked like the rest. */
  defaultsFiles?: string[];
}

export interface Loaded<T> {
  config: T;
  /** Weaker-than-default or ignored settings; logged at startup. */
  warnings: string[];
  files: string[];
  /** Every file read that holds a credential: config files setting a secret, `_FILE` secrets, defaultsFiles. */
  credentialFiles: string[];
}

export interface ConfigLoader<T> {
  /** Parse an already-merged raw object (files + env). Throws ConfigError listing every problem. */
  parse(raw: Record<string, unknown>, problems?: string[], warnings?: string[]): { config: T; warnings: string[] };
  /** Load, merge, override and validate. Throws ConfigError with every problem found. */
  load(options: LoadOptions): Loaded<T>;
}

type Plain = Record<string, unknown>;

function isPlainObject(value: unknown): value is Plain {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Objects merge key by key; lists and scalars from later files replace earlier ones. */
export function deepMerge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? '(root)' : out;
}

export function readYamlFile(file: string, problems: string[]): Plain {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push(`config: ${file}: cannot read the file (${code ?? 'error'}); check the path given to --config`);
    return {};
  }
  // with prettyErrors off the errors carry offsets only; the line counter turns them into lines
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      const at = lineCounter.linePos(err.pos[0]);
      problems.push(`config: ${file}: line ${at.line}, column ${at.col}: ${err.message.split('\n')[0]}`);
    }
    return {};
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (!isPlainObject(value)) {
    problems.push(`config: ${file}: the top level must be a mapping of sections (server:, session:, …)`);
    return {};
  }
  return value;
}

type LeafKind = 'string' | 'number' | 'boolean' | 'list' | 'duration';
interface EnvLeaf {
  path: string[];
  kind: LeafKind;
}

function leafKind(node: Plain): LeafKind | null {
  const variants = Array.isArray(node.anyOf) ? (node.anyOf as Plain[]) : [node];
  // a duration is `type: ["string", "number"]`: a list of types, not one
  const types = new Set(variants.flatMap((v) => (Array.isArray(v.type) ? (v.type as string[]) : [v.type as string | undefined])));
  if (types.has('object')) return null;
  if (types.has('array')) {
    const items = variants.find((v) => v.type === 'array')?.items as Plain | undefined;
    return items?.type === 'string' ? 'list' : null;
  }
  if (types.has('string') && (types.has('number') || types.has('integer'))) return 'duration';
  if (types.has('boolean') && types.size === 1) return 'boolean';
  if ((types.has('number') || types.has('integer')) && types.size === 1) return 'number';
  if (types.has('string') || node.enum || node.const !== undefined) return 'string';
  return null;
}

function collectEnvLeaves(node: Plain, path: string[], out: Map<string, EnvLeaf>, prefix: string): void {
  const properties = node.properties as Record<string, Plain> | undefined;
  if (properties) {
    for (const [key, child] of Object.entries(properties)) collectEnvLeaves(child, [...path, key], out, prefix);
    return;
  }
  if (path.length === 0) return;
  const kind = leafKind(node);
  // lists of objects and maps can't be expressed in one variable (as in Authelia); they stay file-only
  if (kind) out.set(`${prefix}${path.join('_').toUpperCase()}`, { path, kind });
}


function coerceEnvValue(raw: string, kind: LeafKind): unknown {
  switch (kind) {
    case 'boolean':
      return raw === 'true' ? true : raw === 'false' ? false : raw;
    case 'number':
      return raw.trim() !== '' && Number.isFinite(Number(raw)) ? Number(raw) : raw;
    case 'list':
      return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
    default:
      return raw;
  }
}

function setPath(target: Plain, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    if (!isPlainObject(node[key])) node[key] = {};
    node = node[key] as Plain;
  }
  node[path[path.length - 1]!] = value;
}

/** Whether the option at `path` holds a secret: its name ends in key, secret, password or token (and it is not a path to one). */
function isSecretOption(path: readonly string[], notSecrets: readonly string[]): boolean {
  const key = path.at(-1) ?? '';
  return SECRET_KEY_SUFFIXES.some((suffix) => key.endsWith(suffix)) && !notSecrets.includes(path.join('.'));
}

/** Every secret option set to a non-empty string in `node`, with its path (`list[0].password` for list items). */
function* secretValues(node: unknown, notSecrets: readonly string[], path: string[] = []): Generator<{ path: string[]; value: string }> {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) yield* secretValues(item, notSecrets, [...path.slice(0, -1), `${path.at(-1) ?? ''}[${i}]`]);
    return;
  }
  if (!isPlainObject(node)) return;
  for (const [key, value] of Object.entries(node)) {
    const at = [...path, key];
    if (typeof value !== 'string') yield* secretValues(value, notSecrets, at);
    else if (value !== '' && isSecretOption(at, notSecrets)) yield { path: at, value };
  }
}

function applyEnvironment(
  raw: Plain,
  env: NodeJS.ProcessEnv,
  spec: ConfigSpec<z.ZodType>,
  leaves: Map<string, EnvLeaf>,
  problems: string[],
  warnings: string[],
  secretFiles: string[],
): Plain {
  const prefix = spec.envPrefix;
  const out = structuredClone(raw);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(prefix) || value === undefined) continue;
    if (spec.foreignEnv.some((re) => re.test(name))) continue;
    const leaf = leaves.get(name);
    if (leaf) {
      setPath(out, leaf.path, coerceEnvValue(value, leaf.kind));
      continue;
    }
    if (name.endsWith('_FILE')) {
      const secretLeaf = leaves.get(name.slice(0, -'_FILE'.length));
      if (secretLeaf && isSecretOption(secretLeaf.path, spec.notSecrets)) {
        if (env[name.slice(0, -'_FILE'.length)] !== undefined) {
          problems.push(`config: ${secretLeaf.path.join('.')}: set both by ${name.slice(0, -5)} and ${name}; use one`);
          continue;
        }
        try {
          setPath(out, secretLeaf.path, readFileSync(value, 'utf8').replace(/\r?\n$/, ''));
          secretFiles.push(value);
        } catch (error) {
          problems.push(`config: ${secretLeaf.path.join('.')}: cannot read the secret file ${value} named by ${name} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
        }
        continue;
      }
      if (secretLeaf) {
        warnings.push(
          `environment variable ${name} was ignored: ${secretLeaf.path.join('.')} is not a secret, so it is not read from a file; set ${name.slice(0, -5)} instead`,
        );
        continue;
      }
    }
    warnings.push(`environment variable ${name} is not a configuration key and was ignored`);
  }
  return out;
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown, schemaFile: string): string[] {
  const path = formatPath(issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map(
        (key) => `config: ${formatPath([...issue.path, key])}: unknown key; check its spelling against ${schemaFile}`,
      );
    case 'invalid_type': {
      const actual = valueAt(input, issue.path);
      if (actual === undefined) return [`config: ${path}: is required`];
      return [`config: ${path}: must be ${article(issue.expected)}, not ${describeValue(actual)}`];
    }
    case 'invalid_value':
      return [`config: ${path}: must be one of ${issue.values.map((v) => `'${String(v)}'`).join(', ')}`];
    case 'invalid_union': {
      const actual = valueAt(input, issue.path);
      const nested = issue.errors.flat().find((e) => e.code === 'custom');
      if (nested) return [`config: ${path}: ${nested.message}`];
      return [`config: ${path}: ${describeValue(actual)} is not a valid value here`];
    }
    default:
      return [`config: ${path}: ${issue.message.replace(/^Invalid input: /, '')}`];
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** The value at `path` in a parsed YAML tree, or undefined where the path leaves it. */
export function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let node: unknown = input;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PropertyKey, unknown>)[key];
  }
  return node;
}

function pathWithin(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(`${outer}.`) || inner.startsWith(`${outer}[`);
}

/** Drop the value at `path`; a bad list element drops its whole list, so later indexes keep their meaning. */
function removeAt(target: Plain, path: readonly PropertyKey[]): readonly PropertyKey[] {
  const parentPath = path.slice(0, -1);
  const parent = valueAt(target, parentPath);
  if (Array.isArray(parent)) return parentPath.length === 0 ? path : removeAt(target, parentPath);
  if (parent !== null && typeof parent === 'object') delete (parent as Record<PropertyKey, unknown>)[path[path.length - 1]!];
  return path;
}

/**
 * The cross-field checks need a parsed configuration. When the schema rejects some values, they run on a
 * copy without those values (defaults fill in), so the operator sees every problem in one go. A finding
 * at or below a removed value would only restate it and is dropped; so is one above a removed list or
 * section (`storage: is required` once storage.local went), which the removal itself caused.
 */
function crossFieldProblemsDespite<S extends z.ZodType>(spec: ConfigSpec<S>, raw: Plain, issues: readonly z.core.$ZodIssue[]): string[] {
  const candidate = structuredClone(raw);
  const removed: { path: string; wide: boolean }[] = [];
  let pending = issues;
  for (let round = 0; round < 3; round++) {
    for (const issue of pending) {
      // a value that is still missing after its first removal takes its parent with it
      const paths = issue.code === 'unrecognized_keys' ? issue.keys.map((key) => [...issue.path, key]) : [round === 0 ? issue.path : issue.path.slice(0, -1)];
      for (const path of paths) {
        if (path.length === 0) return [];
        const gone = removeAt(candidate, path);
        removed.push({ path: formatPath(gone), wide: round > 0 || gone.length !== path.length });
      }
    }
    const result = spec.schema.safeParse(candidate);
    if (result.success) {
      return spec.validate(result.data).problems.filter((problem) => {
        const path = /^config: (.+?): /.exec(problem)?.[1];
        return path !== undefined && !removed.some((r) => pathWithin(path, r.path) || (r.wide && pathWithin(r.path, path)));
      });
    }
    pending = result.error.issues;
  }
  return [];
}

/**
 * A shipped or documented placeholder in any secret (a Redis, PostgreSQL or SMTP password, or an Authelia
 * secret Gatehouse does not use yet) is refused: it was copied, not chosen.
 */
function placeholderSecretProblems(config: unknown, spec: ConfigSpec<z.ZodType>, envLeaves: () => Map<string, EnvLeaf>): string[] {
  const problems: string[] = [];
  for (const { path, value } of secretValues(config, spec.notSecrets)) {
    const option = path.join('.');
    const word = spec.checkedSecrets?.includes(option) ? null : placeholderWord(value);
    if (word === null) continue;
    const variable = `${spec.envPrefix}${path.join('_').toUpperCase()}`;
    problems.push(weakSecretProblem(option, `is a placeholder (it contains '${word}'), not a secret`, envLeaves().has(variable) ? variable : undefined));
  }
  return problems;
}

export function createConfigLoader<S extends z.ZodType>(spec: ConfigSpec<S>): ConfigLoader<z.output<S>> {
  let leaves: Map<string, EnvLeaf> | undefined;
  const envLeaves = () => {
    if (!leaves) {
      leaves = new Map();
      collectEnvLeaves(spec.jsonSchema(), [], leaves, spec.envPrefix);
    }
    return leaves;
  };
  const parse = (raw: Plain, problems: string[] = [], warnings: string[] = []) => {
    const result = spec.schema.safeParse(raw);
    if (!result.success) {
      for (const issue of result.error.issues) problems.push(...describeIssue(issue, raw, spec.schemaFile));
      problems.push(...crossFieldProblemsDespite(spec, raw, result.error.issues));
      throw new ConfigError(problems);
    }
    const config = result.data as z.output<S>;
    const checked = spec.validate(config);
    problems.push(...checked.problems, ...placeholderSecretProblems(config, spec as unknown as ConfigSpec<z.ZodType>, envLeaves));
    if (problems.length > 0) throw new ConfigError(problems);
    return { config, warnings: [...warnings, ...checked.warnings] };
  };
  return {
    parse,
    load(options) {
      const problems: string[] = [];
      const warnings: string[] = [];
      const credentialFiles = [...(options.defaultsFiles ?? [])];
      let raw: Plain = options.defaults ? structuredClone(options.defaults) : {};
      for (const file of options.files) {
        const values = readYamlFile(file, problems);
        if (!secretValues(values, spec.notSecrets).next().done) credentialFiles.push(file);
        raw = deepMerge(raw, values);
      }
      raw = applyEnvironment(raw, options.env ?? process.env, spec as unknown as ConfigSpec<z.ZodType>, envLeaves(), problems, warnings, credentialFiles);
      if (problems.length > 0) throw new ConfigError(problems);
      const parsed = parse(raw, problems, warnings);
      return { config: parsed.config, warnings: parsed.warnings, files: options.files, credentialFiles };
    },
  };
}
