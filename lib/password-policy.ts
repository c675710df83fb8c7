/**
 * The one password policy every new password goes through: first-run setup, `gatehouse users
 * add|passwd`, and the monitor's setup and change-password. Configured with Authelia 4.39's
 * `password_policy` keys (`standard` or `zxcvbn`); with neither enabled, Gatehouse's default.
 */
import { createRequire } from 'node:module';
import { z } from 'zod';
import { configError, type ConfigProblem } from './config-problems.ts';

/** The longest password anything accepts: argon2 hashes whatever it is given, so a bound keeps one request cheap. */
export const MAX_PASSWORD_LENGTH = 1024;
/** Gatehouse's default minimum, and the monitor's, setup's and the CLI's before there was one policy. */
const DEFAULT_MIN_LENGTH = 10;

/** The monitor's denylist (from ProxMenux), compared lower-cased: refused under every policy. */
const COMMON_PASSWORDS = new Set([
  'password', 'password1', 'password123', '12345678', '123456789', '1234567890', 'qwerty', 'qwertyuiop',
  'letmein', 'welcome', 'admin', 'administrator', 'root', 'proxmox', 'proxmenux', 'changeme', 'abcdefgh',
]);

export const passwordPolicySchema = z.strictObject({
  standard: z
    .strictObject({
      enabled: z.boolean().default(false),
      min_length: z.number().int().min(1).default(8),
      /** 0: no maximum but Gatehouse's own (1024). */
      max_length: z.number().int().min(0).default(0),
      require_uppercase: z.boolean().default(false),
      require_lowercase: z.boolean().default(false),
      require_number: z.boolean().default(false),
      require_special: z.boolean().default(false),
    })
    .prefault({}),
  zxcvbn: z
    .strictObject({
      enabled: z.boolean().default(false),
      min_score: z.number().int().min(0).max(4).default(3),
    })
    .prefault({}),
});

export type PasswordPolicyConfig = z.output<typeof passwordPolicySchema>;

/** The `password_policy` field of a configuration schema: absent means Gatehouse's default policy. */
export function passwordPolicyField() {
  return passwordPolicySchema.prefault({});
}

/** `password_policy` problems, at `prefix` (the option's path in its file). */
export function passwordPolicyProblems(policy: PasswordPolicyConfig, prefix = 'password_policy'): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  const { standard, zxcvbn } = policy;
  if (standard.enabled && zxcvbn.enabled) {
    found.push(configError(prefix, 'only one of standard and zxcvbn may be enabled; choose one'));
  }
  if (standard.enabled) {
    if (standard.min_length > MAX_PASSWORD_LENGTH) {
      found.push(configError(`${prefix}.standard.min_length`, `must be at most ${MAX_PASSWORD_LENGTH} (${standard.min_length})`));
    }
    if (standard.max_length > MAX_PASSWORD_LENGTH) {
      found.push(configError(`${prefix}.standard.max_length`, `must be at most ${MAX_PASSWORD_LENGTH}, Gatehouse's limit (${standard.max_length}); 0 means that limit`));
    } else if (standard.max_length !== 0 && standard.max_length < standard.min_length) {
      found.push(configError(`${prefix}.standard.max_length`, `must be 0 or at least min_length (${standard.max_length} < ${standard.min_length})`));
    }
  }
  return found;
}

export interface PasswordPolicy {
  /** Why `password` may not be set for `username`, in a sentence for the person choosing it; null when it may. */
  problem(password: string, username?: string | null): string | null;
  /** The fewest characters accepted, for a form's `minlength`. */
  readonly minLength: number;
  /** What is required, for a form's label: `at least 10 characters`, `at least 12 characters, with a digit`. */
  readonly summary: string;
  /** What the policy asks, in the shape of Authelia's `GET /api/configuration/password-policy`. */
  readonly description?: PasswordPolicyDescription;
}

export interface PasswordPolicyDescription {
  mode: 'standard' | 'zxcvbn' | 'disabled';
  min_length: number;
  max_length: number;
  min_score: number;
  require_uppercase: boolean;
  require_lowercase: boolean;
  require_number: boolean;
  require_special: boolean;
}

interface Rules {
  minLength: number;
  maxLength: number;
  required: readonly { test: RegExp; name: string }[];
}

const KINDS = {
  uppercase: { test: /\p{Lu}/u, name: 'an uppercase letter' },
  lowercase: { test: /\p{Ll}/u, name: 'a lowercase letter' },
  number: { test: /\p{N}/u, name: 'a digit' },
  special: { test: /[^\p{L}\p{N}]/u, name: 'a symbol (anything but a letter or a digit)' },
} as const;

function rulesFor(config: PasswordPolicyConfig): Rules {
  const { standard } = config;
  if (!standard.enabled) return { minLength: DEFAULT_MIN_LENGTH, maxLength: MAX_PASSWORD_LENGTH, required: [] };
  return {
    minLength: standard.min_length,
    maxLength: standard.max_length === 0 ? MAX_PASSWORD_LENGTH : standard.max_length,
    required: [
      ...(standard.require_uppercase ? [KINDS.uppercase] : []),
      ...(standard.require_lowercase ? [KINDS.lowercase] : []),
      ...(standard.require_number ? [KINDS.number] : []),
      ...(standard.require_special ? [KINDS.special] : []),
    ],
  };
}

function sentenceList(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** How guessable a password is, 0 (trivially) to 4 (very unlikely), as zxcvbn estimates it with the user's own words counted as guesses. */
type StrengthEstimator = (password: string, userInputs: string[]) => number;

/**
 * zxcvbn-ts with the common and English dictionaries, loaded only when `password_policy.zxcvbn` is
 * enabled (the dictionaries take ~20 MB of heap) and synchronously, so the policy stays a plain function.
 */
let zxcvbnEstimator: StrengthEstimator | undefined;
function loadZxcvbn(): StrengthEstimator {
  if (zxcvbnEstimator) return zxcvbnEstimator;
  const require = createRequire(import.meta.url);
  const core = require('@zxcvbn-ts/core') as typeof import('@zxcvbn-ts/core');
  const common = require('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
  const en = require('@zxcvbn-ts/language-en') as typeof import('@zxcvbn-ts/language-en');
  const factory = new core.ZxcvbnFactory({ dictionary: { ...common.dictionary, ...en.dictionary }, graphs: common.adjacencyGraphs, translations: en.translations });
  zxcvbnEstimator = (password, userInputs) => factory.check(password, userInputs).score;
  return zxcvbnEstimator;
}

/** `password_policy.zxcvbn`: a password must reach `min_score`; the common list and the username are refused as under every policy. */
function zxcvbnPolicy(minScore: number): PasswordPolicy {
  const estimate = loadZxcvbn();
  return {
    minLength: 1,
    summary: `hard to guess (strength at least ${minScore} of 4)`,
    problem(password, username) {
      if ([...password].length > MAX_PASSWORD_LENGTH) return `Password must be at most ${MAX_PASSWORD_LENGTH} characters long`;
      const lowered = password.toLowerCase();
      if (COMMON_PASSWORDS.has(lowered)) return 'Password is too common; choose a less predictable one';
      if (username && lowered === username.toLowerCase()) return 'Password must not be the username';
      const score = estimate(password, username ? [username] : []);
      if (score < minScore) return `Password is too easy to guess (strength ${score} of 4, at least ${minScore} needed); a few unrelated words make a strong one`;
      return null;
    },
  };
}

/**
 * The policy a configuration asks for. Under every policy a password on the common-password list,
 * or equal to the username, is refused: both are the first guesses of anyone trying.
 * Lengths count characters (code points), not bytes.
 */
export function createPasswordPolicy(config: PasswordPolicyConfig = passwordPolicySchema.parse({})): PasswordPolicy {
  if (config.zxcvbn.enabled && !config.standard.enabled) return zxcvbnPolicy(config.zxcvbn.min_score);
  const { minLength, maxLength, required } = rulesFor(config);
  const kinds = required.length > 0 ? `, with ${sentenceList(required.map((kind) => kind.name))}` : '';
  const { standard } = config;
  return {
    minLength,
    summary: `at least ${minLength} characters${kinds}`,
    // Gatehouse's default is enforced too, so it is described as the standard policy it amounts to
    description: {
      mode: 'standard',
      min_length: minLength,
      max_length: maxLength,
      min_score: 0,
      require_uppercase: standard.enabled && standard.require_uppercase,
      require_lowercase: standard.enabled && standard.require_lowercase,
      require_number: standard.enabled && standard.require_number,
      require_special: standard.enabled && standard.require_special,
    },
    problem(password, username) {
      const length = [...password].length;
      if (length < minLength) return `Password must be at least ${minLength} characters long`;
      if (length > maxLength) return `Password must be at most ${maxLength} characters long`;
      const missing = required.filter((kind) => !kind.test.test(password));
      if (missing.length > 0) return `Password must contain ${sentenceList(required.map((kind) => kind.name))}; it has no ${sentenceList(missing.map((kind) => kind.name.replace(/^an? /, '')))}`;
      const lowered = password.toLowerCase();
      if (COMMON_PASSWORDS.has(lowered)) return 'Password is too common; choose a less predictable one';
      if (username && lowered === username.toLowerCase()) return 'Password must not be the username';
      return null;
    },
  };
}

/** Gatehouse's default: at least 10 characters, at most 1024, not a common password, not the username. */
export const DEFAULT_PASSWORD_POLICY: PasswordPolicy = createPasswordPolicy();
