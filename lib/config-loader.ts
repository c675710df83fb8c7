/**
 * Configuration loading shared by Gatehouse's services: YAML files merged in order, then
 * `<PREFIX><PATH>` environment overrides, then `<PREFIX><PATH>_FILE` secrets; parsed against a zod
 * schema and the service's cross-field checks. Every problem is collected and reported at once as
 * `config: <path>: <message>`.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';
import { configError, configWarning, errorsIn, formatPath, shownValue, warningsIn, type ConfigProblem } from './config-problems.ts';
import { crossFieldProblemsDespite } from './config-partial-checks.ts';
import { isPlain, setAt, valueAt, type Plain } from './config-paths.ts';
import { ConfigError } from './errors.ts';
import { applyConfigFilters, configFilters, type ConfigFilter } from './config-template.ts';
import { placeholderWord, weakSecretProblem } from './secret-strength.ts';

export { formatPath } from './config-problems.ts';

/** Keys whose value may come from `<PATH>_FILE` (Authelia's rule: names ending in these words). */
const SECRET_KEY_SUFFIXES = ['key', 'secret', 'password', 'token'];

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
  /** The service's checks of a parsed configuration: errors and warnings, each at its path. */
  validate: (config: z.output<S>) => ConfigProblem[];
  /** Secrets the service's own checks judge in full; every other secret-named value is checked for placeholders here. */
  checkedSecrets?: readonly string[];
  /**
   * Rewrites the merged configuration before the schema reads it (deprecated keys moved to their
   * replacements), with a problem for each key it moved or could not.
   */
  migrate?: (raw: Plain) => { raw: Plain; problems: ConfigProblem[] };
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
  warnings: ConfigProblem[];
  files: string[];
  /** Every file read that holds a credential: config files setting a secret, `_FILE` secrets, defaultsFiles. */
  credentialFiles: string[];
}

export interface ConfigLoader<T> {
  /** Parse an already-merged raw object (files + env). Throws ConfigError listing every problem. */
  parse(raw: Record<string, unknown>): { config: T; warnings: ConfigProblem[] };
  /** Load, merge, override and validate. Throws ConfigError with every problem found. */
  load(options: LoadOptions): Loaded<T>;
}

/** Objects merge key by key; lists and scalars from later files replace earlier ones. */
export function deepMerge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlain(current) && isPlain(value) ? deepMerge(current, value) : value;
  }
  return out;
}

/** How a file is read: the filters the environment names (Authelia's `template`, `expand-env`) and the environment they see. */
interface FileFilters {
  filters: readonly ConfigFilter[];
  env: NodeJS.ProcessEnv;
  /** Files a template read (`secret`, `fileContent`): credentials. */
  filesRead: string[];
}

/** Whether the file holds a secret itself: one of its secret values is written in it (not brought in by a template). */
function holdsSecret(values: Plain, literal: string | null, notSecrets: readonly string[]): boolean {
  for (const { value } of secretValues(values, notSecrets)) {
    // a value YAML may have escaped can't be found as written: counted, to warn rather than miss
    if (literal === null || literal.includes(value) || /["'\\\n]/.test(value)) return true;
  }
  return false;
}

/**
 * A file's values, and its text as written when a filter changed it (`literal`): a secret a template
 * brought in from elsewhere does not make the file itself a credential.
 */
function readYamlFile(file: string, problems: ConfigProblem[], filtering: FileFilters): { values: Plain; literal: string | null } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    problems.push(configError(file, `cannot read the file (${code ?? 'error'}); check the path given to --config`));
    return { values: {}, literal: null };
  }
  const literal = filtering.filters.length > 0 ? text : null;
  if (literal !== null) {
    try {
      text = applyConfigFilters(literal, file, filtering.filters, { env: filtering.env, filesRead: filtering.filesRead });
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.details);
      return { values: {}, literal };
    }
  }
  return { values: parseYamlText(text, file, problems), literal };
}

export const TOP_LEVEL_NOT_A_MAPPING = 'the top level must be a mapping of sections (server:, session:, …)';

/** A configuration file's text as a YAML document (duplicate keys refused), and a problem per syntax error, at its line and column. */
export function parseConfigDocument(text: string, file: string): { doc: Document; syntax: ConfigProblem[] } {
  // with prettyErrors off the errors carry offsets only; the line counter turns them into lines
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true, lineCounter });
  const syntax = doc.errors.map((err) => {
    const at = lineCounter.linePos(err.pos[0]);
    return configError(file, `line ${at.line}, column ${at.col}: ${err.message.split('\n')[0]}`);
  });
  return { doc, syntax };
}

function parseYamlText(text: string, file: string, problems: ConfigProblem[]): Plain {
  const { doc, syntax } = parseConfigDocument(text, file);
  if (syntax.length > 0) {
    problems.push(...syntax);
    return {};
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (!isPlain(value)) {
    problems.push(configError(file, TOP_LEVEL_NOT_A_MAPPING));
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

/** Whether the option at `path` holds a secret: its name ends in key, secret, password or token (and it is not a path to one). */
export function isSecretOption(path: readonly string[], notSecrets: readonly string[]): boolean {
  const key = path.at(-1) ?? '';
  return SECRET_KEY_SUFFIXES.some((suffix) => key.endsWith(suffix)) && !notSecrets.includes(path.join('.'));
}

/** Every secret option set to a non-empty string in `node`, with its path (`list[0].password` for list items). */
function* secretValues(node: unknown, notSecrets: readonly string[], path: string[] = []): Generator<{ path: string[]; value: string }> {
  if (Array.isArray(node)) {
    for (const [i, item] of node.entries()) yield* secretValues(item, notSecrets, [...path.slice(0, -1), `${path.at(-1) ?? ''}[${i}]`]);
    return;
  }
  if (!isPlain(node)) return;
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
  problems: ConfigProblem[],
  secretFiles: string[],
): Plain {
  const prefix = spec.envPrefix;
  const out = structuredClone(raw);
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(prefix) || value === undefined) continue;
    if (spec.foreignEnv.some((re) => re.test(name))) continue;
    const leaf = leaves.get(name);
    if (leaf) {
      setAt(out, leaf.path, coerceEnvValue(value, leaf.kind));
      continue;
    }
    if (name.endsWith('_FILE')) {
      const secretLeaf = leaves.get(name.slice(0, -'_FILE'.length));
      if (secretLeaf && isSecretOption(secretLeaf.path, spec.notSecrets)) {
        if (env[name.slice(0, -'_FILE'.length)] !== undefined) {
          problems.push(configError(secretLeaf.path.join('.'), `set both by ${name.slice(0, -5)} and ${name}; use one`));
          continue;
        }
        try {
          setAt(out, secretLeaf.path, readFileSync(value, 'utf8').replace(/\r?\n$/, ''));
          secretFiles.push(value);
        } catch (error) {
          problems.push(configError(secretLeaf.path.join('.'), `cannot read the secret file ${value} named by ${name} (${(error as NodeJS.ErrnoException).code ?? 'error'})`));
        }
        continue;
      }
      if (secretLeaf) {
        problems.push(
          configWarning(name, `the environment variable was ignored: ${secretLeaf.path.join('.')} is not a secret, so it is not read from a file; set ${name.slice(0, -5)} instead`),
        );
        continue;
      }
    }
    problems.push(configWarning(name, 'the environment variable names no configuration key and was ignored'));
  }
  return out;
}

/** Whether the value at a schema path is a secret's: the nearest key (list indexes skipped) is secret-named. */
function isSecretPath(path: readonly PropertyKey[], notSecrets: readonly string[]): boolean {
  const keys = path.filter((part): part is string => typeof part === 'string');
  return keys.length > 0 && isSecretOption(keys, notSecrets);
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown, spec: Pick<ConfigSpec<z.ZodType>, 'schemaFile' | 'notSecrets'>): ConfigProblem[] {
  const path = formatPath(issue.path);
  // a secret is named by its type only: a password YAML read as a number must not reach the log
  const secret = isSecretPath(issue.path, spec.notSecrets);
  switch (issue.code) {
    case 'unrecognized_keys':
      return issue.keys.map((key) => configError(formatPath([...issue.path, key]), `unknown key; check its spelling against ${spec.schemaFile}`));
    case 'invalid_type': {
      const actual = valueAt(input, issue.path);
      if (actual === undefined) return [configError(path, 'is required')];
      return [configError(path, `must be ${article(issue.expected)}, not ${describeValue(actual, secret)}`)];
    }
    case 'invalid_value':
      return [configError(path, `must be one of ${issue.values.map((v) => `'${String(v)}'`).join(', ')}`)];
    case 'invalid_union': {
      const actual = valueAt(input, issue.path);
      const nested = issue.errors.flat().find((e) => e.code === 'custom');
      if (nested && !repeats(nested.message, actual, secret)) return [configError(path, nested.message)];
      return [configError(path, `${describeValue(actual, secret)} is not a valid value here`)];
    }
    default: {
      const message = issue.message.replace(/^Invalid input: /, '');
      if (repeats(message, valueAt(input, issue.path), secret)) return [configError(path, 'is not a valid value here')];
      return [configError(path, message)];
    }
  }
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** `number 5`, `string "x"` (cut when long); for a secret only its type: `a number`. */
function describeValue(value: unknown, secret: boolean): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (secret) return article(typeof value);
  return `${typeof value} ${JSON.stringify(typeof value === 'string' ? shownValue(value) : value)}`;
}

/** Whether a schema's message would repeat a secret's value. */
function repeats(message: string, value: unknown, secret: boolean): boolean {
  return secret && (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') && String(value) !== '' && message.includes(String(value));
}

/**
 * A shipped or documented placeholder in any secret (a Redis, PostgreSQL or SMTP password, or an Authelia
 * secret Gatehouse does not use yet) is refused: it was copied, not chosen.
 */
function placeholderSecretProblems(config: unknown, spec: ConfigSpec<z.ZodType>, envLeaves: () => Map<string, EnvLeaf>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
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
  const parse = (written: Plain) => {
    const { raw, problems: migration } = spec.migrate ? spec.migrate(written) : { raw: written, problems: [] };
    const result = spec.schema.safeParse(raw);
    if (!result.success) {
      const problems = result.error.issues.flatMap((issue) => describeIssue(issue, raw, spec as unknown as ConfigSpec<z.ZodType>));
      throw new ConfigError([...errorsIn(migration), ...problems, ...crossFieldProblemsDespite(spec, raw, result.error.issues)]);
    }
    const config = result.data as z.output<S>;
    const found = [...migration, ...spec.validate(config), ...placeholderSecretProblems(config, spec as unknown as ConfigSpec<z.ZodType>, envLeaves)];
    if (errorsIn(found).length > 0) throw new ConfigError(errorsIn(found));
    return { config, warnings: warningsIn(found) };
  };
  return {
    parse,
    load(options) {
      const found: ConfigProblem[] = [];
      const credentialFiles = [...(options.defaultsFiles ?? [])];
      let raw: Plain = options.defaults ? structuredClone(options.defaults) : {};
      const env = options.env ?? process.env;
      const filtering: FileFilters = { filters: configFilters(env, found), env, filesRead: [] };
      for (const file of options.files) {
        const { values, literal } = readYamlFile(file, found, filtering);
        if (holdsSecret(values, literal, spec.notSecrets)) credentialFiles.push(file);
        raw = deepMerge(raw, values);
      }
      credentialFiles.push(...new Set(filtering.filesRead));
      raw = applyEnvironment(raw, env, spec as unknown as ConfigSpec<z.ZodType>, envLeaves(), found, credentialFiles);
      if (errorsIn(found).length > 0) throw new ConfigError(errorsIn(found));
      const parsed = parse(raw);
      return { config: parsed.config, warnings: [...warningsIn(found), ...parsed.warnings], files: options.files, credentialFiles };
    },
  };
}
