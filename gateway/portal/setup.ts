/**
 * First run: while the users file is empty, a one-time URL (printed at startup) lets the operator create
 * the first administrator. Nothing else is open before that: with no users, nobody can log in.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { FileUserProvider } from '../users/file-provider.ts';

export interface FirstRunSetup {
  /** The token, while setup is still possible. */
  readonly token: string | null;
  isOpen(): boolean;
  check(token: unknown): boolean;
  createAdmin(input: { username: string; password: string; displayName: string; email?: string }): Promise<void>;
}

export const ADMIN_GROUP = 'admins';

export function createFirstRunSetup(users: FileUserProvider): FirstRunSetup {
  let token: string | null = users.listUsers().length === 0 ? randomBytes(24).toString('base64url') : null;
  let creating = false;
  const isOpen = () => token !== null && !creating && users.listUsers().length === 0;
  return {
    get token() {
      return isOpen() ? token : null;
    },
    isOpen,
    check(given) {
      if (!isOpen() || typeof given !== 'string') return false;
      const a = Buffer.from(given);
      const b = Buffer.from(token!);
      return a.length === b.length && timingSafeEqual(a, b);
    },
    async createAdmin(input) {
      if (!isOpen()) throw new Error('Setup is closed: a user already exists.');
      creating = true; // a second submission while this one writes is refused, not a second admin
      try {
        await users.addUser({ ...input, groups: [ADMIN_GROUP] });
        token = null;
      } finally {
        creating = false;
      }
    },
  };
}
