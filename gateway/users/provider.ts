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
}

/** The user backend the rest of the gateway talks to (file today, LDAP later). */
export interface UserProvider {
  /** The user's details if the password is right and the account is enabled; null otherwise, whatever the reason. */
  checkPassword(username: string, password: string): Promise<UserDetails | null>;
  /** Current details for a canonical username (groups refresh on each request); null if unknown or disabled. */
  getDetails(username: string): UserDetails | null;
  close(): Promise<void>;
}
