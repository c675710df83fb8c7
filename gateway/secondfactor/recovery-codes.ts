/**
 * Recovery codes: ten single-use codes a user keeps on paper, each usable once in place of a second
 * factor. 10 characters from an alphabet without look-alikes (0/O, 1/I/L): 50 random bits per code,
 * written `XXXXX-XXXXX`. storage.recoveryCodes keeps only their keyed hashes.
 */
import { randomInt } from 'node:crypto';

export const RECOVERY_CODE_COUNT = 10;
/** At or below this many left, the portal warns that the user should make a new set. */
export const RECOVERY_CODES_LOW = 2;
const ALPHABET = 'ABCDEFGHJKMNPQRSTUVWXYZ23456789';
const LENGTH = 10;

export function generateRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => {
    let code = '';
    for (let i = 0; i < LENGTH; i++) code += ALPHABET[randomInt(ALPHABET.length)];
    return `${code.slice(0, 5)}-${code.slice(5)}`;
  });
}

/** `abcde fghjk`, `ABCDEFGHJK` and `abcde-fghjk` all mean `ABCDE-FGHJK`; null when it cannot be a code. */
export function normaliseRecoveryCode(input: string): string | null {
  const bare = input.replace(/[\s-]/g, '').toUpperCase();
  if (bare.length !== LENGTH || [...bare].some((c) => !ALPHABET.includes(c))) return null;
  return `${bare.slice(0, 5)}-${bare.slice(5)}`;
}
