/**
 * What a secret Gatehouse relies on must not be: a shipped or documented placeholder, short, or made of
 * a few characters or a repeated pattern. One judgement for every secret option of both services.
 */
import { randomInt } from 'node:crypto';
import { configError, type ConfigProblem } from './config-problems.ts';
import { InternalError } from './errors.ts';

/** The command every weak-secret message names. */
export const GENERATE_SECRET = 'gatehouse crypto rand --length 64 --charset alphanumeric';

/**
 * Words of the placeholders people ship and copy: ours (`CHANGE-ME-…`), Authelia's documentation
 * (`insecure_session_secret`, `you_must_generate_a_random_string_of_more_than_twenty_chars`,
 * `a_very_important_secret`), and the usual ones. Compared without case and separators; each is long
 * enough that a random string contains it by chance with a negligible probability.
 */
const PLACEHOLDER_WORDS = ['changeme', 'replaceme', 'insecure', 'secret', 'password', 'passwd', 'example', 'placeholder', 'generate', 'randomstring', 'fixme', 'xxxxxx'];

/** Fewer distinct characters than this is a pattern, not a random string (64 hex digits have ~16). */
const MIN_DISTINCT_CHARACTERS = 10;

/** The placeholder word `value` contains, or null. */
export function placeholderWord(value: string): string | null {
  const folded = value.toLowerCase().replace(/[^a-z0-9]/g, '');
  return PLACEHOLDER_WORDS.find((word) => folded.includes(word)) ?? null;
}

/** Whether `value` is one shorter string repeated (`abcabcabc…`). */
function isRepetition(value: string): boolean {
  for (let period = 1; period <= value.length / 2; period++) {
    if (value.length % period === 0 && value.slice(0, period).repeat(value.length / period) === value) return true;
  }
  return false;
}

/** Rows of a US keyboard: a character beside the previous one on a row is typed, not drawn (`qwerty`, `asdf`). */
const KEYBOARD_ROWS = ['`1234567890-=', 'qwertyuiop[]\\', "asdfghjkl;'", 'zxcvbnm,./'];

/** Whether `next` is what a person would type after `prev`: the same again, the next or previous one (`ab`, `32`), or its keyboard neighbour. */
function followsPredictably(prev: string, next: string): boolean {
  const a = prev.toLowerCase();
  const b = next.toLowerCase();
  if (a === b || Math.abs(a.codePointAt(0)! - b.codePointAt(0)!) === 1) return true;
  return KEYBOARD_ROWS.some((row) => {
    const at = row.indexOf(a);
    return at !== -1 && (row[at + 1] === b || (at > 0 && row[at - 1] === b));
  });
}

/**
 * How many characters of `value` follow the one before predictably (see followsPredictably). A uniform
 * random draw from 62 or 64 characters has about one in six such; `abcdef…`, `123456…`, `qwertyuiop`,
 * `aaaa…` have nearly all. Half or more of the string is the line: a guesser who tries runs and keyboard
 * walks first finds those at once.
 */
function predictableCharacters(value: string): number {
  const chars = [...value];
  let count = 0;
  for (let i = 1; i < chars.length; i++) if (followsPredictably(chars[i - 1]!, chars[i]!)) count++;
  return count;
}

/** Why `value` is not a usable secret (a phrase to follow the option's name), or null when it is. */
export function weakSecretReason(value: string, minLength: number): string | null {
  const word = placeholderWord(value);
  if (word !== null) return `is a placeholder (it contains '${word}'), not a secret`;
  if (value.length < minLength) return `must be at least ${minLength} characters`;
  if (new Set(value).size < MIN_DISTINCT_CHARACTERS || isRepetition(value)) {
    return `is too predictable (fewer than ${MIN_DISTINCT_CHARACTERS} distinct characters, or a repeated pattern)`;
  }
  if (predictableCharacters(value) * 2 >= [...value].length) {
    return 'is too predictable (half or more of its characters repeat the one before, continue a run such as abc or 321, or follow a keyboard row such as qwerty)';
  }
  return null;
}

/** A random secret the check above accepts, as the embedded defaults make them: 43 base64url characters (258 bits). */
export function generateSecret(): string {
  return drawSecret(43, 'base64url');
}

/** The problem with a config option's secret, naming the command (and the `_FILE` variable) that help. */
export function weakSecretProblem(option: string, reason: string, envVariable?: string): ConfigProblem {
  const file = envVariable ? ` (or put it in a file named by ${envVariable}_FILE)` : '';
  return configError(option, `${reason}; generate one with: ${GENERATE_SECRET}${file}`);
}

export type Charset = 'alphanumeric' | 'alphabetic' | 'numeric' | 'hexadecimal' | 'base64url' | 'ascii';

export const CHARSETS: Readonly<Record<Charset, string>> = {
  alphanumeric: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789',
  alphabetic: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz',
  numeric: '0123456789',
  hexadecimal: '0123456789abcdef',
  base64url: 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
  // printable ASCII without space, quotes and backslash (`crypto rand` never starts one with a YAML indicator; shells need quotes)
  ascii: '!#$%&()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_abcdefghijklmnopqrstuvwxyz{|}~',
};

/** `length` characters drawn uniformly from `characters` by `randomInt` (crypto's, unbiased). */
export function randomString(length: number, characters: string, randomInt: (max: number) => number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += characters[randomInt(characters.length)]!;
  return out;
}

/** Characters a YAML plain scalar cannot start with (an indicator): a value starting so would not paste as is. */
const YAML_INDICATORS = new Set('-?:,[]{}#&*!|>\'"%@`');
/** Whether `key: value` reads back as the string `value`: no indicator first, no `:` last (that makes it a key). */
const pastesIntoYaml = (value: string) => !YAML_INDICATORS.has(value[0]!) && !value.endsWith(':');
/** Draws before giving up; with the bits rule above one draw in three or better is accepted, so never reached. */
const MAX_DRAWS = 10_000;

/**
 * A random string of `length` characters of `charset` that the gateway's own check accepts (the check
 * refuses patterns, runs and placeholder words: drawn again in that event), and, for `ascii`, that pastes
 * into YAML unquoted.
 */
export function drawSecret(length: number, charset: Charset, random: (max: number) => number = randomInt): string {
  const characters = CHARSETS[charset];
  for (let draw = 0; draw < MAX_DRAWS; draw++) {
    const value = randomString(length, characters, random);
    if (charset === 'ascii' && !pastesIntoYaml(value)) continue;
    if (weakSecretReason(value, 20) === null) return value;
  }
  throw new InternalError('internal_error', `no acceptable secret in ${MAX_DRAWS} draws of ${length} ${charset} characters`);
}
