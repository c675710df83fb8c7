/**
 * The one-time setup code: while auth.json has no login and no decision (unconfigured), creating the
 * login, skipping or declining needs either a full_admin identity or this code, which only someone
 * who can read the monitor's log has. Made (and logged) when the monitor first sees the store
 * unconfigured, forgotten once it is configured, and made anew when it becomes unconfigured again
 * (disable, reset-password). In memory only: a restart makes a new one.
 */
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuthState } from './store.ts';

/** Crockford's base32 (no I, L, O, U): 12 characters, 60 bits, read from a log and typed by hand. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const GROUPS = 3;
const GROUP_LENGTH = 4;

export interface SetupCode {
  /** Keeps the code in step with `state`: made and logged while unconfigured, dropped once configured. */
  refresh(state: AuthState): string | null;
  /** The code now (null when none is needed or it was not made yet). */
  current(): string | null;
  /** Whether `given` is the current code, compared in constant time; false when there is none. */
  matches(given: unknown): boolean;
}

function newCode(): string {
  const groups: string[] = [];
  for (let g = 0; g < GROUPS; g++) {
    let group = '';
    for (let i = 0; i < GROUP_LENGTH; i++) group += ALPHABET[randomInt(ALPHABET.length)];
    groups.push(group);
  }
  return groups.join('-');
}

/** Case, spaces and dashes do not matter to someone copying the code by hand. */
function digest(code: string): Buffer {
  return createHash('sha256').update(code.replace(/[\s-]/g, '').toUpperCase()).digest();
}

export function createSetupCode(logger: Logger): SetupCode {
  let code: string | null = null;
  return {
    refresh(state) {
      if (state.configured) {
        code = null; // used (or not needed): single use, a later unconfigured store gets a new one
        return null;
      }
      if (code === null) {
        code = newCode();
        // behind the gateway nobody needs a local login; the code is for opening the monitor directly
        logger.warn(`monitor: no local login yet (not needed through the gateway); to create one on the monitor itself, the setup code is ${code} (shown once)`);
      }
      return code;
    },
    current: () => code,
    matches(given) {
      if (code === null || typeof given !== 'string' || given.length > 64) return false;
      return timingSafeEqual(digest(given), digest(code));
    },
  };
}
