/**
 * The functions of the `template` configuration filter: the part of Authelia's template function map
 * (internal/templates/funcs.go) a configuration file can use, with Authelia's semantics. Nothing here
 * runs code, opens a connection or reads the clock; reading files is limited to `secret` and
 * `fileContent`, which the operator names.
 */
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { ConfigError } from './errors.ts';

/** A template value: what a literal or a function gives. `null` is Go's nil. */
export type TemplateValue = string | number | boolean | null | TemplateValue[];

export interface TemplateContext {
  env: NodeJS.ProcessEnv;
  /** Each file `secret` or `fileContent` read, so the caller can treat it as a credential file. */
  filesRead: string[];
}

type TemplateFunction = (args: TemplateValue[], context: TemplateContext) => TemplateValue;

/** A function's failure: the evaluator adds the file and line. */
export function templateFailure(message: string): never {
  throw new ConfigError([message]);
}

/** Go's `fmt.Sprint` of a value, as the template prints it. */
export function printed(value: TemplateValue): string {
  if (value === null) return '<no value>';
  if (Array.isArray(value)) return `[${value.map(printed).join(' ')}]`;
  return String(value);
}

/** Go's truth of a value (`if`, `not`, `and`, `or`, `empty`). */
export function truthy(value: TemplateValue): boolean {
  if (value === null) return false;
  if (Array.isArray(value)) return value.length > 0;
  if (typeof value === 'string') return value !== '';
  if (typeof value === 'number') return value !== 0;
  return value;
}

function str(name: string, value: TemplateValue | undefined, position: number): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return templateFailure(`${name}: argument ${position} must be a string, not ${value === null || value === undefined ? 'nil' : 'a list'}`);
}

function int(name: string, value: TemplateValue | undefined, position: number): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  return templateFailure(`${name}: argument ${position} must be a whole number, not ${JSON.stringify(value ?? null)}`);
}

function list(name: string, value: TemplateValue | undefined, position: number): TemplateValue[] {
  if (Array.isArray(value)) return value;
  return templateFailure(`${name}: argument ${position} must be a list`);
}

/** Authelia's `env` never gives its own secrets' variables (the prefix and a secret's suffix); Gatehouse's likewise. */
function isSecretEnvName(name: string): boolean {
  const upper = name.toUpperCase();
  if (!['AUTHELIA_', 'X_AUTHELIA_', 'GATEHOUSE_'].some((prefix) => upper.startsWith(prefix))) return false;
  return ['KEY', 'SECRET', 'PASSWORD', 'TOKEN', 'CERTIFICATE_CHAIN'].some((suffix) => upper.endsWith(suffix));
}

function getEnv(name: string, env: NodeJS.ProcessEnv): string {
  if (name === '$') return name;
  if (isSecretEnvName(name)) return '';
  return env[name] ?? '';
}

/** Go's `os.Expand` with `env`'s rules: `$NAME` and `${NAME}`. */
export function expandEnv(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(/\$(?:\{([^}]*)\}|([A-Za-z0-9_]+))/g, (_, braced: string | undefined, bare: string | undefined) => getEnv(braced ?? bare ?? '', env));
}

function readFile(name: string, path: string, context: TemplateContext): string {
  try {
    const text = readFileSync(path, 'utf8');
    context.filesRead.push(path);
    return text;
  } catch (error) {
    return templateFailure(`${name}: cannot read the file ${path} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** Go's `%q` of a string, close enough for YAML's double-quoted scalars (which read every escape it writes). */
function goQuote(text: string): string {
  return JSON.stringify(text);
}

function indent(count: number, value: string): string {
  const padding = ' '.repeat(count);
  return padding + value.replaceAll('\n', `\n${padding}`);
}

function quoteEach(args: TemplateValue[], open: string, close: string, skipMultiline: boolean): string {
  return args
    .filter((arg) => arg !== null)
    .map((arg) => {
      const text = printed(arg);
      if (skipMultiline && text.includes('\n')) return text;
      return open === '"' ? goQuote(text) : `${open}${text}${close}`;
    })
    .join(' ');
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32Encode(data: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of data) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out + '='.repeat((8 - (out.length % 8)) % 8);
}

function base32Decode(text: string): string {
  if (text.length % 8 !== 0 || !/^[A-Z2-7]*=*$/.test(text)) return templateFailure('b32dec: the input is not base32');
  let bits = 0;
  let value = 0;
  const bytes: number[] = [];
  for (const char of text.replace(/=+$/, '')) {
    value = (value << 5) | BASE32.indexOf(char);
    bits += 5;
    if (bits >= 8) {
      bytes.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

function base64Decode(text: string): string {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return templateFailure('b64dec: the input is not base64');
  return Buffer.from(text, 'base64').toString('utf8');
}

/** Go's `path.Clean`. */
function clean(path: string): string {
  if (path === '') return '.';
  const normal = posix.normalize(path);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

function urlQueryEscape(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replaceAll('%20', '+');
}

function urlQueryUnescape(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '));
  } catch {
    return templateFailure('urlunquery: the input is not URL-encoded');
  }
}

function urlQueryArg(raw: string, key: string): string {
  try {
    return new URL(raw).searchParams.get(key) ?? '';
  } catch {
    return templateFailure('urlqueryarg: the first argument is not a URL');
  }
}

function hashSum(algorithm: string): TemplateFunction {
  const name = `${algorithm}sum`;
  return ([value]) => createHash(algorithm).update(str(name, value, 1)).digest('hex');
}

function oneString(name: string, apply: (value: string) => TemplateValue): [string, number, TemplateFunction] {
  return [name, 1, ([value]) => apply(str(name, value, 1))];
}

function twoStrings(name: string, apply: (first: string, second: string) => TemplateValue): [string, number, TemplateFunction] {
  return [name, 2, ([first, second]) => apply(str(name, first, 1), str(name, second, 2))];
}

/** Each function with its argument count (-1: any number). */
const FUNCTIONS: [string, number, TemplateFunction][] = [
  ['env', 1, ([name], context) => getEnv(str('env', name, 1), context.env)],
  [
    'mustEnv',
    1,
    ([name], context) => {
      const key = str('mustEnv', name, 1);
      if (key === '$') return key;
      if (context.env[key] === undefined) return templateFailure(`mustEnv: the environment variable '${key}' isn't set`);
      return isSecretEnvName(key) ? '' : (context.env[key] ?? '');
    },
  ],
  ['expandenv', 1, ([text], context) => expandEnv(str('expandenv', text, 1), context.env)],
  ['fileContent', 1, ([path], context) => readFile('fileContent', str('fileContent', path, 1), context)],
  ['secret', 1, ([path], context) => readFile('secret', str('secret', path, 1), context).replace(/\n+$/, '')],
  twoStrings('splitList', (separator, text) => text.split(separator)),
  ['join', 2, ([separator, items]) => list('join', items, 2).map(printed).join(str('join', separator, 1))],
  twoStrings('contains', (needle, text) => text.includes(needle)),
  twoStrings('hasPrefix', (prefix, text) => text.startsWith(prefix)),
  twoStrings('hasSuffix', (suffix, text) => text.endsWith(suffix)),
  oneString('lower', (text) => text.toLowerCase()),
  oneString('upper', (text) => text.toUpperCase()),
  // Authelia's `title` is Go's strings.ToTitle: every letter in title case, which for Latin letters is upper case
  oneString('title', (text) => text.toUpperCase()),
  oneString('trim', (text) => text.trim()),
  twoStrings('trimAll', (cutset, text) => {
    const cut = new Set(cutset);
    let start = 0;
    let end = text.length;
    while (start < end && cut.has(text[start]!)) start++;
    while (end > start && cut.has(text[end - 1]!)) end--;
    return text.slice(start, end);
  }),
  twoStrings('trimSuffix', (suffix, text) => (suffix !== '' && text.endsWith(suffix) ? text.slice(0, -suffix.length) : text)),
  twoStrings('trimPrefix', (prefix, text) => (text.startsWith(prefix) ? text.slice(prefix.length) : text)),
  ['replace', 3, ([from, to, text]) => str('replace', text, 3).replaceAll(str('replace', from, 1), str('replace', to, 2))],
  ['quote', -1, (args) => quoteEach(args, '"', '"', false)],
  ['squote', -1, (args) => quoteEach(args, "'", "'", false)],
  ['mquote', -1, (args) => quoteEach(args, '"', '"', true)],
  ['msquote', -1, (args) => quoteEach(args, "'", "'", true)],
  ['sha1sum', 1, hashSum('sha1')],
  ['sha256sum', 1, hashSum('sha256')],
  ['sha512sum', 1, hashSum('sha512')],
  oneString('b64enc', (text) => Buffer.from(text, 'utf8').toString('base64')),
  oneString('b64dec', base64Decode),
  oneString('b32enc', (text) => base32Encode(Buffer.from(text, 'utf8'))),
  oneString('b32dec', base32Decode),
  ['list', -1, (args) => args],
  ['sortAlpha', 1, ([items]) => (Array.isArray(items) ? items.map(printed).sort() : [printed(items ?? null)])],
  oneString('isAbs', (path) => path.startsWith('/')),
  oneString('base', (path) => (path === '' ? '.' : posix.basename(path) || '/')),
  oneString('dir', (path) => clean(posix.dirname(path))),
  oneString('ext', (path) => posix.extname(path)),
  oneString('clean', clean),
  oneString('osIsAbs', (path) => path.startsWith('/')),
  oneString('osBase', (path) => (path === '' ? '.' : posix.basename(path) || '/')),
  oneString('osDir', (path) => clean(posix.dirname(path))),
  oneString('osExt', (path) => posix.extname(path)),
  oneString('osClean', clean),
  ['default', -1, ([fallback, value]) => (value === undefined || !truthy(value) ? (fallback ?? null) : value)],
  ['empty', 1, ([value]) => !truthy(value ?? null)],
  ['indent', 2, ([count, value]) => indent(int('indent', count, 1), str('indent', value, 2))],
  ['nindent', 2, ([count, value]) => `\n${indent(int('nindent', count, 1), str('nindent', value, 2))}`],
  [
    'mindent',
    3,
    ([count, style, value]) => {
      const text = str('mindent', value, 3);
      return text.includes('\n') ? `${str('mindent', style, 2)}\n${indent(int('mindent', count, 1), text)}` : text;
    },
  ],
  ['uuidv4', 0, () => randomUUID()],
  oneString('urlquery', urlQueryEscape),
  oneString('urlunquery', urlQueryUnescape),
  twoStrings('urlqueryarg', urlQueryArg),
  // Go's own functions a condition needs
  ['not', 1, ([value]) => !truthy(value ?? null)],
  ['and', -1, (args) => args.find((arg) => !truthy(arg)) ?? args.at(-1) ?? null],
  ['or', -1, (args) => args.find((arg) => truthy(arg)) ?? args.at(-1) ?? null],
  ['eq', 2, ([a, b]) => printed(a ?? null) === printed(b ?? null) && typeof a === typeof b],
  ['ne', 2, ([a, b]) => !(printed(a ?? null) === printed(b ?? null) && typeof a === typeof b)],
];

const BY_NAME = new Map(FUNCTIONS.map(([name, arity, apply]) => [name, { arity, apply }]));

/** Authelia's (and Go's) functions a configuration file cannot use here: they need fields, loops, the clock or a directory walk. */
const NOT_SUPPORTED = new Set([
  'split', 'keys', 'dict', 'get', 'set', 'iterate', 'glob', 'walk', 'now', 'ago', 'toDate', 'mustToDate', 'date',
  'dateInZone', 'htmlDate', 'htmlDateInZone', 'duration', 'unixEpoch', 'deepEqual', 'typeOf', 'typeIs', 'typeIsLike',
  'kindOf', 'kindIs', 'fromYaml', 'toYaml', 'toYamlPretty', 'toYamlCustom', 'print', 'printf', 'println', 'len',
  'index', 'slice', 'call', 'html', 'js', 'lt', 'le', 'gt', 'ge',
]);

export function hasTemplateFunction(name: string): boolean {
  return BY_NAME.has(name);
}

/** Call a function by name; a function Gatehouse does not have is refused, naming why. */
export function callTemplateFunction(name: string, args: TemplateValue[], context: TemplateContext): TemplateValue {
  const fn = BY_NAME.get(name);
  if (!fn) {
    if (NOT_SUPPORTED.has(name)) {
      const hint = name === 'split' ? " (its result is read through fields; use 'splitList')" : '';
      return templateFailure(`the function '${name}' is not supported in Gatehouse's configuration templates${hint}`);
    }
    return templateFailure(`unknown function '${name}'`);
  }
  if (fn.arity >= 0 && args.length !== fn.arity) {
    return templateFailure(`${name}: takes ${fn.arity} argument${fn.arity === 1 ? '' : 's'}, not ${args.length}`);
  }
  return fn.apply(args, context);
}
