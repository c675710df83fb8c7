/**
 * First run: while no user has ever existed, a one-time URL (printed at startup) lets the operator create
 * the first administrator. Storage records that setup is done, the first time any user is seen, so the
 * link never comes back: an emptied users file afterwards is a startup error that names the CLI, not a
 * second chance for whoever reads the log or guesses the moment.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { GatehouseError } from '../../lib/errors.ts';
import type { Storage } from '../storage/storage.ts';
import type { FileUserProvider } from '../users/file-provider.ts';

export interface FirstRunSetup {
  /** The token, while setup is still possible. */
  readonly token: string | null;
  isOpen(): boolean;
  check(token: unknown): boolean;
  createAdmin(input: { username: string; password: string; displayName: string; email?: string }): Promise<void>;
}

export const ADMIN_GROUP = 'admins';
const FIRST_ADMIN = 'first_admin';

export type SetupStateStore = Pick<Storage, 'setupCompletedAt' | 'markSetupComplete'>;

/** Setup was done once, and the users backend is empty now: nobody could log in, and no link is offered. */
export class UsersGoneAfterSetupError extends GatehouseError {
  constructor(usersPath: string, completedAt: number) {
    super(
      'users_empty_after_setup',
      `users: ${usersPath} has no user, but the first administrator was created on ${new Date(completedAt).toISOString()}; `
        + 'the setup link is not offered again. Add a user with: gatehouse users add NAME --group admins --config <your config> '
        + '(or restore the users file from a backup), then start Gatehouse again.',
    );
  }
}

export async function openFirstRunSetup(
  users: FileUserProvider,
  store: SetupStateStore,
  options: { logger: Logger; now: () => number; usersPath: string },
): Promise<FirstRunSetup> {
  const { logger, now } = options;
  let completedAt = await store.setupCompletedAt(FIRST_ADMIN);
  const hasUsers = () => users.listUsers().length > 0;
  if (completedAt === null && hasUsers()) {
    // an install from before this record, or users written by the CLI: setup is over all the same
    completedAt = now();
    await store.markSetupComplete(FIRST_ADMIN, completedAt);
  }
  if (completedAt !== null && !hasUsers()) throw new UsersGoneAfterSetupError(options.usersPath, completedAt);

  let token: string | null = completedAt === null ? randomBytes(24).toString('base64url') : null;
  let creating = false;
  /** Closes setup for good: the token goes, and storage remembers (a failure there is retried at the next start). */
  const close = () => {
    if (token === null) return;
    token = null;
    store.markSetupComplete(FIRST_ADMIN, now()).catch((error: Error) => logger.error({ err: error.message }, 'first-run setup: could not record that setup is done'));
  };
  const isOpen = () => {
    if (token !== null && hasUsers()) close(); // a user appeared some other way (CLI, an edit): setup is over
    return token !== null && !creating;
  };
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
        const at = now();
        token = null;
        await store.markSetupComplete(FIRST_ADMIN, at).catch((error: Error) => logger.error({ err: error.message }, 'first-run setup: could not record that setup is done'));
      } finally {
        creating = false;
      }
    },
  };
}
