import type { GatehouseError } from '../../lib/errors.ts';

/** What the gateway knows about a user; `username` is the canonical key in the backend. */
export interface UserDetails {
  username: string;
  displayName: string;
  emails: string[];
  groups: string[];
  /**
   * Changes whenever the user's credential changes (a new password, or the account deleted and made
   * again): sessions remember it, so they end with the credential they were made with.
   */
  credentialStamp: string;
  /** Profile attributes the backend holds (the users file's given_name, locale, address, extra …), for OIDC claims. */
  attributes?: Readonly<UserAttributes>;
}

/** UserAttributes' text attributes (Authelia's file_user_provider_database.go names), read by the users file and LDAP. */
export const USER_TEXT_ATTRIBUTES = [
  'given_name', 'middle_name', 'family_name', 'nickname', 'gender', 'birthdate', 'website', 'profile', 'picture',
  'zoneinfo', 'locale', 'phone_number', 'phone_extension',
] as const;
/** The parts of UserAttributes' `address`. */
export const USER_ADDRESS_FIELDS = ['street_address', 'locality', 'region', 'postal_code', 'country'] as const;

/**
 * Authelia's user attributes, named as OpenID Connect's standard claims (`phone_extension` is
 * Authelia's own); `extra` holds the file's free-form `extra:` mapping as written.
 */
export interface UserAttributes {
  given_name?: string;
  middle_name?: string;
  family_name?: string;
  nickname?: string;
  gender?: string;
  birthdate?: string;
  website?: string;
  profile?: string;
  picture?: string;
  zoneinfo?: string;
  locale?: string;
  phone_number?: string;
  phone_extension?: string;
  address?: Readonly<{ street_address?: string; locality?: string; region?: string; postal_code?: string; country?: string }>;
  extra?: Readonly<Record<string, unknown>>;
}

/** What a reload did; `users` is how many the backend holds now, when it can count them. */
export type ReloadResult =
  | { status: 'loaded' | 'unchanged'; users?: number }
  | { status: 'rejected'; error: GatehouseError };

/**
 * The user backend the rest of the gateway talks to: the users file today, a directory (LDAP) later.
 * `users/open.ts` builds it from the configuration, behind a cache of details (`users/cached.ts`).
 */
export interface UserProvider {
  /** Current details for a canonical username; null if unknown or disabled. */
  getDetails(username: string): Promise<UserDetails | null>;
  /**
   * The details at once when the provider holds them in memory and they are current (a cache hit, the
   * file's users); undefined when only getDetails can tell. Lets forward auth answer without a promise.
   */
  peekDetails?(username: string): UserDetails | null | undefined;
  /**
   * The canonical username a login names (a username in any case with case_insensitive, an e-mail
   * with search.email), or null: regulation counts attempts per account, not per spelling.
   */
  resolveLogin(login: string): Promise<string | null>;
  /**
   * The account's details if the password is right and the account is enabled; null otherwise, whatever
   * the reason, in about the same time (an unknown login costs a hash too). `login` is resolved as
   * resolveLogin does. The details carry the credential stamp of the password just checked.
   */
  verifyPassword(login: string, password: string): Promise<UserDetails | null>;
  /** Sets a user's password (UserNotFoundError if there is no such user); their older sessions end. */
  updatePassword(username: string, newPassword: string): Promise<void>;
  /**
   * Whether the backend can be used as configured: throws a GatehouseError whose message names what is
   * wrong and how to fix it; weaker-than-safe settings (file permissions) are logged as warnings.
   */
  startupCheck(): Promise<void>;
  /** Read the users again now (SIGHUP); a backend that reads on demand has nothing to re-read. */
  reload?(): Promise<ReloadResult>;
  /**
   * A backend that sees its users change by itself (the file watcher, an edit through UserAdmin) calls
   * `listener` after each change, so a cache in front of it drops what it holds at once.
   */
  onChange?(listener: () => void): void;
  close(): Promise<void>;
}

export interface NewUser {
  username: string;
  password: string;
  displayName?: string;
  email?: string;
  groups?: string[];
}

/** `unreadableHash`: disabled because no algorithm here reads the stored hash (set the password again). */
export type ListedUser = Omit<UserDetails, 'credentialStamp'> & { disabled: boolean; unreadableHash?: true };

/**
 * Listing, adding and removing users: the users file's extra (`gatehouse users …`, first-run setup). A
 * directory Gatehouse only reads (LDAP) has none.
 */
export interface UserAdmin {
  /** Every user, disabled ones included, as loaded now (in memory: the setup page asks at each request). */
  listUsers(): ListedUser[];
  /** Calls `listener` after each change of the users (a reload, the watcher, an edit): UserProvider.onChange. */
  onChange?(listener: () => void): void;
  /** `onlyIfEmpty`: refuse (UsersNotEmptyError) unless the backend, read under its lock, has no user (first-run setup). */
  addUser(user: NewUser, options?: { onlyIfEmpty?: boolean }): Promise<UserDetails>;
  deleteUser(username: string): Promise<void>;
}
