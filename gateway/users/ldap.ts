/**
 * The LDAP user backend (`authentication_backend.ldap`): a directory Gatehouse reads through a service
 * account and binds against to check passwords. Signing in searches the user by the users filter
 * (`{input}` escaped: ldap-filter.ts), refuses unless exactly one entry matches, then binds as that
 * entry's DN with the password on a connection of its own. Groups come from the groups filter or from
 * the entry's memberOf. Every failure to reach or use the directory is an LdapUnavailableError (a 503
 * for the caller), never a "wrong password": a directory that is down fails closed, and the next
 * request tries again, so the backend recovers by itself. It goes behind the details cache (cached.ts).
 */
import type { Logger } from 'pino';
import { ConfigError } from '../../lib/errors.ts';
import { createOutageLog } from '../../lib/outage-log.ts';
import { configError } from '../../lib/config-problems.ts';
import { UserNotFoundError, InvalidUserInputError } from './errors.ts';
import { LdapConnections, LdapUnavailableError, resultCode, type LdapClient } from './ldap-connection.ts';
import { filterSyntaxProblem, groupsFilterFor, usersFilterFor, type GroupsFilterSubject } from './ldap-filter.ts';
import { activeDirectoryPassword, all, BINARY_ATTRIBUTES, detailsFromEntry, groupNamesFrom, memberOfFromEntry, userAttributeNames, userFromEntry, type UserEntry } from './ldap-entry.ts';
import type { LdapSettings } from './ldap-settings.ts';
import type { UserDetails, UserProvider } from './provider.ts';

type Ldapts = typeof import('ldapts');

/** RFC 3062 section 2. */
const PASSWORD_MODIFY_OID = '1.3.6.1.4.1.4203.1.11.1';

export interface LdapUserProviderOptions {
  logger: Logger;
  now?: () => number;
}

export class LdapUserProvider implements UserProvider {
  readonly #settings: LdapSettings;
  readonly #ldapts: Ldapts;
  readonly #connections: LdapConnections;
  readonly #logger: Logger;
  readonly #now: () => number;
  /** Whether the directory offers Password Modify (RFC 3062), once its root DSE was read. */
  #passwordModify: boolean | undefined;

  private constructor(settings: LdapSettings, ldapts: Ldapts, options: LdapUserProviderOptions) {
    this.#settings = settings;
    this.#ldapts = ldapts;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#connections = new LdapConnections(settings, ldapts, createOutageLog(options.logger, 'user backend (ldap)', { now: this.#now }));
  }

  /** Loads ldapts (only configurations with a directory pay for it); opens no connection yet. */
  static async open(settings: LdapSettings, options: LdapUserProviderOptions): Promise<LdapUserProvider> {
    const ldapts = await import('ldapts');
    return new LdapUserProvider(settings, ldapts, options);
  }

  async getDetails(username: string): Promise<UserDetails | null> {
    return this.#connections.asService('reading a user', async (client) => {
      const found = await this.#findUser(client, username, { exactUsername: true });
      return found === null ? null : this.#details(client, found, username);
    });
  }

  async resolveLogin(login: string): Promise<string | null> {
    return this.#connections.asService('searching a user', async (client) => (await this.#findUser(client, login))?.username ?? null);
  }

  async verifyPassword(login: string, password: string): Promise<UserDetails | null> {
    // refused before any request: an empty password would be an unauthenticated bind, which "succeeds"
    if (password.length === 0 || login.length === 0) return null;
    const found = await this.#connections.asService('searching a user', (client) => this.#findUser(client, login));
    if (found === null) return null;
    if (!(await this.#connections.bindsAs(found.dn, password))) return null;
    return this.#connections.asService('reading a user\'s groups', (client) => this.#details(client, found, login));
  }

  async updatePassword(username: string, newPassword: string): Promise<void> {
    if (newPassword.length === 0) throw new InvalidUserInputError('the new password is empty');
    await this.#connections.asService('setting a password', async (client) => {
      const found = await this.#findUser(client, username, { exactUsername: true });
      if (found === null) throw new UserNotFoundError(username);
      if (this.#settings.implementation === 'activedirectory') {
        const value = activeDirectoryPassword(newPassword);
        await client.modify(found.dn, new this.#ldapts.Change({
          operation: 'replace',
          modification: new this.#ldapts.Attribute({ type: 'unicodePwd', values: [value] }),
        }));
        return;
      }
      if (await this.#offersPasswordModify(client)) {
        await client.exop(PASSWORD_MODIFY_OID, passwordModifyRequest(this.#ldapts, found.dn, newPassword));
        return;
      }
      // a directory that says it has no Password Modify (GLAuth…): userPassword replaced, as Authelia does
      await client.modify(found.dn, new this.#ldapts.Change({
        operation: 'replace',
        modification: new this.#ldapts.Attribute({ type: 'userPassword', values: [newPassword] }),
      }));
    }).catch((error: unknown) => {
      if (error instanceof UserNotFoundError) throw error;
      const code = resultCode((error as { cause?: unknown }).cause ?? error);
      // the directory's password policy refused the password (too short, in history…): the person's to fix
      if (code === 19 || code === 53) throw new InvalidUserInputError('the directory refused the new password (its password policy)');
      throw error;
    });
  }

  /**
   * Connects and binds as the service account, then reads the base DN, the users' and groups' base DNs
   * and runs the users filter once: each step's failure says what to fix. A filter that finds nobody is
   * fine (an empty directory); a filter the directory (or Gatehouse) cannot parse is not.
   */
  async startupCheck(): Promise<void> {
    const filters: Array<[string, string]> = [
      ['users_filter', usersFilterFor(this.#settings, 'gatehouse-startup-check', new Date(this.#now()))],
      ['groups_filter', groupsFilterFor(this.#settings, { input: 'gatehouse-startup-check', username: 'gatehouse-startup-check', dn: this.#settings.usersBaseDn, mail: undefined, memberOf: [] }, new Date(this.#now()))],
    ];
    for (const [key, filter] of filters) {
      let problem = filterSyntaxProblem(filter);
      try {
        this.#ldapts.FilterParser.parseString(filter);
      } catch (error) {
        problem ??= error instanceof Error ? error.message : String(error);
      }
      if (problem !== null) {
        throw new ConfigError([configError(`authentication_backend.ldap.${key}`, `is not a valid LDAP filter once its placeholders are filled: ${problem}`)]);
      }
    }
    await this.#connections.probe(async (client) => {
      for (const [key, dn] of [['base_dn', this.#settings.baseDn], ['additional_users_dn', this.#settings.usersBaseDn], ['additional_groups_dn', this.#settings.groupsBaseDn]] as const) {
        try {
          await client.search(dn, { scope: 'base', filter: '(objectClass=*)', attributes: ['1.1'] });
        } catch (error) {
          if (resultCode(error) === 32) throw new LdapUnavailableError(`${this.#settings.url}: ${dn} does not exist in the directory (or the service account may not see it): check ${key}`);
          throw error;
        }
      }
      // feature detection: Authelia refuses to start without it unless permit_feature_detection_failure
      const extensions = await this.#supportedExtensions(client).catch((error: unknown) => {
        if (this.#settings.permitFeatureDetectionFailure) return null;
        const said = error instanceof Error ? error.message.split('\n')[0] : String(error);
        throw new LdapUnavailableError(`${this.#settings.url}: cannot read the root DSE's supportedExtension as the service account (${said}): allow it, or set permit_feature_detection_failure`);
      });
      if (extensions !== null) this.#passwordModify = extensions.includes(PASSWORD_MODIFY_OID);
      try {
        await client.search(this.#settings.usersBaseDn, { scope: 'sub', filter: filters[0]![1], attributes: ['1.1'], sizeLimit: 1 });
      } catch (error) {
        const code = resultCode(error);
        if (code === 4) return; // size limit: the filter matches, which is fine
        if (code === 87 || code === 18 || code === 17) throw new LdapUnavailableError(`${this.#settings.url}: the directory refused users_filter (result code ${code}): check authentication_backend.ldap.users_filter`);
        throw error;
      }
    });
  }

  /**
   * Whether the root DSE lists Password Modify (read once). A root DSE that cannot be read counts as yes:
   * the extended operation hashes the password, where a plain userPassword replace may store it as sent.
   */
  async #offersPasswordModify(client: LdapClient): Promise<boolean> {
    if (this.#passwordModify === undefined) {
      const extensions = await this.#supportedExtensions(client).catch(() => null);
      if (extensions === null) return true;
      this.#passwordModify = extensions.includes(PASSWORD_MODIFY_OID);
    }
    return this.#passwordModify;
  }

  async #supportedExtensions(client: LdapClient): Promise<string[]> {
    const { searchEntries } = await client.search('', { scope: 'base', filter: '(objectClass=*)', attributes: ['supportedExtension'] });
    return searchEntries[0] === undefined ? [] : all(searchEntries[0], 'supportedExtension');
  }

  async close(): Promise<void> {
    await this.#connections.close();
  }

  /**
   * The one entry the users filter finds for `input`, or null when none or several do (several: the
   * filter is ambiguous and signing in as either would be a guess). `exactUsername`: the entry's
   * username must also be `input` (in any case): a canonical name never resolves to another's e-mail.
   */
  async #findUser(client: LdapClient, input: string, options: { exactUsername?: boolean } = {}): Promise<UserEntry | null> {
    if (input.length === 0) return null;
    const filter = usersFilterFor(this.#settings, input, new Date(this.#now()));
    const { searchEntries } = await client.search(this.#settings.usersBaseDn, {
      scope: 'sub',
      filter,
      attributes: userAttributeNames(this.#settings),
      explicitBufferAttributes: BINARY_ATTRIBUTES,
    });
    const found: UserEntry[] = [];
    for (const entry of searchEntries) {
      const user = userFromEntry(entry, this.#settings);
      if (user === null) {
        // userFromEntry refuses two usernames (which account signs in would be the directory's listing order): said once here
        const usernames = all(entry, this.#settings.attributes.username);
        if (usernames.length > 1) this.#logger.warn({ dn: entry.dn, attribute: this.#settings.attributes.username, values: usernames.length }, 'ldap: an entry has several username values; it is not an account (as in Authelia)');
        continue;
      }
      if (options.exactUsername && user.username.toLowerCase() !== input.toLowerCase()) continue;
      found.push(user);
    }
    if (found.length > 1) {
      this.#logger.warn({ login: input, matches: found.length }, 'ldap: the users filter matches several entries for one login; refused');
      return null;
    }
    return found[0] ?? null;
  }

  async #details(client: LdapClient, user: UserEntry, input: string): Promise<UserDetails> {
    const memberOf = memberOfFromEntry(user, this.#settings);
    const groups = await this.#groups(client, { input, username: user.username, dn: user.dn, mail: all(user.entry, this.#settings.attributes.mail)[0], memberOf });
    return detailsFromEntry(user, this.#settings, groups);
  }

  async #groups(client: LdapClient, subject: GroupsFilterSubject): Promise<string[]> {
    // memberof mode: the entry's memberOf says which groups; a user who is in none needs no search
    if (this.#settings.groupSearchMode === 'memberof' && subject.memberOf.length === 0) return [];
    const filter = groupsFilterFor(this.#settings, subject, new Date(this.#now()));
    const { searchEntries } = await client.search(this.#settings.groupsBaseDn, { scope: 'sub', filter, attributes: [this.#settings.attributes.groupName] });
    return groupNamesFrom(searchEntries, this.#settings, subject.memberOf);
  }
}

/** RFC 3062 PasswdModifyRequestValue: SEQUENCE { userIdentity [0], newPasswd [2] } (no old password: the service account sets it). */
function passwordModifyRequest(ldapts: Ldapts, dn: string, newPassword: string): Buffer {
  const writer = new ldapts.BerWriter();
  writer.startSequence();
  writer.writeString(dn, 0x80);
  writer.writeString(newPassword, 0x82);
  writer.endSequence();
  return writer.buffer;
}
