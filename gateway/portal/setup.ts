/**
 * First run: while no user has ever existed, a one-time URL (printed at startup) lets the operator create
 * the first administrator. Storage records that setup is done, the first time any user is seen, so the
 * link never comes back: an emptied users file afterwards is a startup error that names the CLI, not a
 * second chance for whoever reads the log or guesses the moment.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { GatehouseError } from '../../lib/errors.ts';
import type { SetupStateRepository } from '../storage/setup-state.ts';
import { UsersNotEmptyError } from '../users/errors.ts';
import type { UserAdmin } from '../users/provider.ts';

export interface FirstRunSetup {
  /** The token, while setup is still possible as far as this instance knows. */
  readonly token: string | null;
  isOpen(): boolean;
  /** Whether `token` is this instance's and storage has no record of setup (another instance may have done it). */
  check(token: unknown): Promise<boolean>;
  /** Claims setup in storage, then writes the first administrator; SetupClosedError when another got there first. */
  createAdmin(input: { username: string; password: string; displayName: string; email?: string }): Promise<void>;
}

export const ADMIN_GROUP = 'admins';
const FIRST_ADMIN = 'first_admin';

export type SetupStateStore = SetupStateRepository;

/** Setup was done once, and the users backend is empty now: nobody could log in, and no link is offered. */
export class UsersGoneAfterSetupError extends GatehouseError {
  declare readonly code: 'users_empty_after_setup';
  constructor(usersPath: string, completedAt: number) {
    super(
      'users_empty_after_setup',
      `users: ${usersPath} has no user, but the first administrator was created on ${new Date(completedAt).toISOString()}; `
        + 'the setup link is not offered again. Add a user with: gatehouse users add NAME --group admins --config <your config> '
        + '(or restore the users file from a backup), then start Gatehouse again.',
    );
  }
}

/** The link was valid, but setup is over: another instance (or the CLI) created a user first. Answered like an old link. */
export class SetupClosedError extends GatehouseError {
  declare readonly code: 'setup_closed';
  constructor() {
    super('setup_closed', 'Setup is already complete.');
  }
}

export async function openFirstRunSetup(
  /** null: a backend Gatehouse does not edit (a directory) has its users elsewhere, so no setup link. */
  users: Pick<UserAdmin, 'listUsers' | 'addUser'> | null,
  store: SetupStateStore,
  options: { logger: Logger; now: () => number; usersPath: string },
): Promise<FirstRunSetup> {
  const { logger, now } = options;
  let completedAt = await store.setupCompletedAt(FIRST_ADMIN);
  const hasUsers = () => users === null || users.listUsers().length > 0;
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
  /** Storage is shared by every instance: its record, not this instance's view of the users file, says whether setup is over. */
  const doneElsewhere = async () => {
    if ((await store.setupCompletedAt(FIRST_ADMIN)) === null) return false;
    token = null;
    return true;
  };
  return {
    get token() {
      return isOpen() ? token : null;
    },
    isOpen,
    async check(given) {
      if (!isOpen() || typeof given !== 'string') return false;
      const a = Buffer.from(given);
      const b = Buffer.from(token!);
      if (!(a.length === b.length && timingSafeEqual(a, b))) return false;
      return !(await doneElsewhere());
    },
    async createAdmin(input) {
      if (!isOpen() || users === null) throw new SetupClosedError();
      creating = true; // a second submission while this one writes is refused, not a second admin
      try {
        // claim first, atomically across instances: of two links submitted at once only one creates an admin
        const at = now();
        if (!(await store.markSetupComplete(FIRST_ADMIN, at))) {
          token = null;
          throw new SetupClosedError();
        }
        try {
          await users.addUser({ ...input, groups: [ADMIN_GROUP] }, { onlyIfEmpty: true });
        } catch (error) {
          if (error instanceof UsersNotEmptyError) {
            token = null; // someone wrote a user into the (shared) file meanwhile: setup is over, and the record stands
            throw new SetupClosedError();
          }
          // nothing was written (a bad name, an unwritable file): give the claim back so the link can be used again
          await store.unmarkSetupComplete(FIRST_ADMIN, at);
          throw error;
        }
        token = null;
      } finally {
        creating = false;
      }
    },
  };
}
