/**
 * Connections to the directory for the LDAP backend: the service account's (pooled, or one reused
 * connection) and a fresh one per user bind. Every operation has a deadline (`timeoutMs`) after which
 * its socket is destroyed, so a directory that hangs cannot hold a login or a forward-auth request. A
 * connection that failed is dropped and the next operation opens a new one: the backend recovers by
 * itself once the directory is back. Every failure to reach or use the directory is an
 * LdapUnavailableError whose message says what went wrong in words (address, TLS, bind DN, base DN).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { isIP } from 'node:net';
import { GatehouseError } from '../../lib/errors.ts';
import type { OutageLog } from '../../lib/outage-log.ts';
import { tlsFailureReason } from '../../lib/net/tls-client.ts';
import type { LdapSettings } from './ldap-settings.ts';

type Ldapts = typeof import('ldapts');
export type LdapClient = InstanceType<Ldapts['Client']>;

/** The directory cannot be used now (down, slow, TLS refused, the service account refused): a 503. */
export class LdapUnavailableError extends GatehouseError {
  declare readonly code: 'user_directory_unavailable';
  constructor(message: string, options?: { cause?: unknown }) {
    super('user_directory_unavailable', `LDAP: ${message}`, options);
  }
}

/** Result codes meaning "these credentials do not sign in" (RFC 4511 appendix A), not "the directory is broken". */
const REFUSED_BIND_CODES = new Set([
  48, // inappropriateAuthentication
  49, // invalidCredentials (also a locked or disabled account in AD and with ppolicy)
  50, // insufficientAccessRights
  53, // unwillingToPerform (an account that may not bind)
]);

/** The LDAP result code an ldapts error carries, or undefined for a socket or protocol failure. */
export function resultCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  // ldapts's ResultCodeError carries the number; a socket error's code is a string (ECONNREFUSED)
  return error instanceof Error && typeof code === 'number' ? code : undefined;
}

/** A user's bind was refused for their credentials (wrong password, locked account), not for an outage. */
function isRefusedBind(error: unknown): boolean {
  const code = resultCode(error);
  return code !== undefined && REFUSED_BIND_CODES.has(code);
}

/** One client and the sockets under it, so a deadline can destroy them whatever ldapts is waiting for. */
interface Connection {
  client: LdapClient;
  sockets: Socket[];
  /** Set once any operation on it failed: it is destroyed instead of reused. */
  broken: boolean;
  /** Served an earlier call: a failure may only mean the directory restarted since (worth one retry). */
  reused: boolean;
  /**
   * A socket under it closed (read-only: set by the socket's close event). ldapts does not notice it after StartTLS (it watches the plain socket's
   * close against the TLS socket) and would write the next request into the void until the timeout.
   */
  readonly lost: boolean;
}

export class LdapConnections {
  readonly #settings: LdapSettings;
  readonly #ldapts: Ldapts;
  /** Bound service connections not in use (pooling) or the one shared one (no pooling). */
  readonly #idle: Connection[] = [];
  /** Service connections open (in use or idle); with #opening, at most pooling.count (1 without pooling). */
  readonly #live = new Set<Connection>();
  #opening = 0;
  readonly #waiting: Array<(connection: Connection | LdapUnavailableError) => void> = [];
  #closed = false;

  /** Logs an outage once (the portal and forward auth answer 503 without a line per request). */
  readonly #outage: OutageLog | undefined;

  constructor(settings: LdapSettings, ldapts: Ldapts, outage?: OutageLog) {
    this.#settings = settings;
    this.#ldapts = ldapts;
    this.#outage = outage;
  }

  /**
   * Runs `work` on a connection bound as the service account, within the deadline. Without pooling one
   * connection is shared (LDAP multiplexes requests); with pooling each call has one of `count` to itself.
   */
  async asService<T>(what: string, work: (client: LdapClient) => Promise<T>): Promise<T> {
    return this.#watched(this.#asService(what, work));
  }

  async #asService<T>(what: string, work: (client: LdapClient) => Promise<T>): Promise<T> {
    const retries = this.#settings.pooling.enable ? Math.max(0, this.#settings.pooling.retries) : 0;
    for (let attempt = 0; ; attempt++) {
      const connection = await this.#acquire();
      try {
        const result = await this.#within(connection, what, () => work(guarded(connection, this.#settings.url)));
        this.#release(connection);
        return result;
      } catch (error) {
        // the work's own verdict (no such user): the connection is fine, the caller reads the error
        if (error instanceof GatehouseError && !(error instanceof LdapUnavailableError)) {
          this.#release(connection);
          throw error;
        }
        // an LDAP answer (no such object, a bad filter) came over a healthy connection: keep it
        if (resultCode(error) === undefined) connection.broken = true;
        this.#release(connection);
        // a timeout or a connection seen closed is an answer already: trying again would double the wait
        const known = error instanceof LdapUnavailableError;
        // a connection kept from before may have died with a directory restart: one more try on a new one
        const retry = connection.broken && !known && (attempt < retries || (connection.reused && attempt === 0));
        if (!retry) throw this.explain(error, what);
      }
    }
  }

  /**
   * Binds as `dn` with `password` on a connection of its own (never a pooled one: it would stay bound as
   * the user), then closes it. False when the directory refuses the credentials; throws on an outage.
   */
  async bindsAs(dn: string, password: string): Promise<boolean> {
    // an empty password (or DN) is an unauthenticated bind (RFC 4513 section 5.1.2): it "succeeds"
    if (password.length === 0 || dn.length === 0) return false;
    return this.#watched(this.#bindsAs(dn, password));
  }

  async #bindsAs(dn: string, password: string): Promise<boolean> {
    const connection = await this.#connect('binding as the user');
    try {
      await this.#within(connection, 'binding as the user', () => connection.client.bind(dn, password));
      return true;
    } catch (error) {
      if (isRefusedBind(error)) return false;
      throw this.explain(error, 'binding as the user');
    } finally {
      this.#destroy(connection);
    }
  }

  /** Reports the outcome to the outage log: an answer (a refused bind too) is the directory working. */
  async #watched<T>(work: Promise<T>): Promise<T> {
    try {
      const result = await work;
      this.#outage?.success();
      return result;
    } catch (error) {
      if (error instanceof LdapUnavailableError) this.#outage?.failure(error);
      else this.#outage?.success();
      throw error;
    }
  }

  /** Opens one connection bound as the service account, for the startup check (not pooled, closed after). */
  async probe<T>(work: (client: LdapClient) => Promise<T>): Promise<T> {
    const connection = await this.#connect('binding as the service account');
    try {
      await this.#within(connection, 'binding as the service account', () => this.#bindService(connection.client)).catch((error: unknown) => {
        throw this.explain(error, 'binding as the service account');
      });
      return await this.#within(connection, 'checking the directory', () => work(guarded(connection, this.#settings.url)));
    } catch (error) {
      throw this.explain(error, 'checking the directory');
    } finally {
      this.#destroy(connection);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiting.splice(0)) waiter(new LdapUnavailableError('the user backend is closed'));
    for (const connection of this.#idle.splice(0)) this.#destroy(connection);
  }

  /** Any failure as an LdapUnavailableError naming what went wrong while doing `what`. */
  explain(error: unknown, what: string): LdapUnavailableError {
    if (error instanceof LdapUnavailableError) return error;
    const url = this.#settings.url;
    const code = resultCode(error);
    const said = error instanceof Error ? error.message.split('\n')[0]! : String(error);
    const tls = tlsFailureReason(error);
    if (tls !== undefined) return new LdapUnavailableError(`${url}: ${tls}`, { cause: error });
    if (code === 49 && what.includes('service account')) {
      return new LdapUnavailableError(`${url}: the directory refused the service account's bind (invalid credentials): check authentication_backend.ldap.user and password`, { cause: error });
    }
    if (code === 32) return new LdapUnavailableError(`${url}: no such object while ${what} (${said}): check base_dn, additional_users_dn and additional_groups_dn`, { cause: error });
    if (code !== undefined) return new LdapUnavailableError(`${url}: the directory answered result code ${code} while ${what} (${said})`, { cause: error });
    const errno = (error as { code?: unknown } | null)?.code;
    if (typeof errno === 'string') return new LdapUnavailableError(`${url}: cannot connect (${errno}) while ${what}`, { cause: error });
    return new LdapUnavailableError(`${url}: ${said} while ${what}`, { cause: error });
  }

  get #limit(): number {
    return this.#settings.pooling.enable ? Math.max(1, this.#settings.pooling.count) : 1;
  }

  async #acquire(): Promise<Connection> {
    if (this.#closed) throw new LdapUnavailableError('the user backend is closed');
    for (let idle = this.#idle.pop(); idle !== undefined; idle = this.#idle.pop()) {
      if (!idle.broken && !idle.lost && idle.client.isConnected) {
        if (!this.#settings.pooling.enable) this.#idle.push(idle); // shared: stays available to others
        idle.reused = true;
        return idle;
      }
      this.#discard(idle);
    }
    if (this.#live.size + this.#opening >= this.#limit) return this.#wait();
    this.#opening++;
    let connection: Connection | undefined;
    try {
      connection = await this.#connect('binding as the service account');
      const opened = connection;
      await this.#within(opened, 'binding as the service account', () => this.#bindService(opened.client));
    } catch (error) {
      if (connection !== undefined) this.#destroy(connection);
      throw this.explain(error, 'binding as the service account');
    } finally {
      this.#opening--;
    }
    this.#live.add(connection);
    if (!this.#settings.pooling.enable) {
      this.#idle.push(connection);
      // calls that waited while it was being opened share it too
      for (const waiter of this.#waiting.splice(0)) waiter(connection);
    }
    return connection;
  }

  /** Waits for a connection to come free (pooling.timeout), or for the shared one being opened. */
  #wait(): Promise<Connection> {
    const timeoutMs = this.#settings.pooling.enable ? this.#settings.pooling.timeoutMs : this.#settings.timeoutMs;
    return new Promise<Connection>((resolve, reject) => {
      let settled = false;
      const waiter = (connection: Connection | LdapUnavailableError): void => {
        clearTimeout(timer);
        // handed over after this waiter gave up: back to the pool, or its slot would be lost for good
        if (settled) {
          if (!(connection instanceof LdapUnavailableError)) this.#release(connection);
          return;
        }
        settled = true;
        if (connection instanceof LdapUnavailableError) reject(connection);
        else resolve(connection);
      };
      const timer = setTimeout(() => {
        settled = true;
        const index = this.#waiting.indexOf(waiter);
        if (index >= 0) this.#waiting.splice(index, 1);
        reject(new LdapUnavailableError(`${this.#settings.url}: no connection to the directory came free within ${timeoutMs} ms (pooling.count ${this.#settings.pooling.count})`));
      }, timeoutMs);
      timer.unref();
      this.#waiting.push(waiter);
    });
  }

  /** A slot came free: the oldest waiter opens (or takes) a connection. */
  #wakeOne(): void {
    const waiter = this.#waiting.shift();
    if (waiter === undefined) return;
    // it could not be opened: that waiter's call fails as a fresh one would
    this.#acquire().then(waiter, (error: unknown) => waiter(this.explain(error, 'binding as the service account')));
  }

  #release(connection: Connection): void {
    if (connection.broken || this.#closed) {
      this.#discard(connection);
      return;
    }
    if (!this.#settings.pooling.enable) return; // shared: it stays in #idle
    const waiter = this.#waiting.shift();
    if (waiter !== undefined) waiter(connection);
    else this.#idle.push(connection);
  }

  /** Drops a connection that failed; its slot goes to a waiter (once, however many calls shared it). */
  #discard(connection: Connection): void {
    const index = this.#idle.indexOf(connection);
    if (index >= 0) this.#idle.splice(index, 1);
    this.#destroy(connection);
    if (this.#live.delete(connection)) this.#wakeOne();
  }

  async #bindService(client: LdapClient): Promise<void> {
    const { user, password, permitUnauthenticatedBind } = this.#settings;
    if (user !== undefined && user.length > 0 && password !== undefined && password.length > 0) {
      await client.bind(user, password);
      return;
    }
    // the configuration refuses an anonymous service account unless permit_unauthenticated_bind is set
    if (!permitUnauthenticatedBind) throw new LdapUnavailableError('no service account (user and password) is configured');
  }

  /** A connected client (StartTLS done when configured), not yet bound, within the deadline. */
  async #connect(what: string): Promise<Connection> {
    const { url, timeoutMs, tls } = this.#settings;
    const sockets: Socket[] = [];
    let opened = false;
    // one socket per client: ldapts reconnects by itself after a drop, which would skip StartTLS and the
    // bind and, for a user bind, send the password in clear; a dropped connection is replaced instead
    const state = { lost: false };
    const once = <A extends unknown[], S extends Socket>(open: (...args: A) => S) => (...args: A): S => {
      const upgrade = typeof args[0] === 'object' && args[0] !== null && 'socket' in args[0];
      if (opened && !upgrade) throw new LdapUnavailableError(`${url}: the connection was lost`);
      opened = true;
      const socket = open(...args);
      socket.once('close', () => {
        state.lost = true;
      });
      sockets.push(socket);
      return socket;
    };
    const tlsOptions = tls === undefined ? undefined : nodeTlsOptions(tls);
    // ldapts takes TLS options given to the client as "TLS from the first byte", even for ldap://: they
    // go there only for ldaps://, and to startTLS for StartTLS
    const implicitTls = url.toLowerCase().startsWith('ldaps://');
    // ldapts knows ldap:// and ldaps:// only: ldapi:// is ldap:// whose connection is the Unix socket
    const socketPath = ldapiSocketPath(url);
    const plainConnect = socketPath === undefined ? (netConnect as (...args: unknown[]) => Socket) : () => netConnect({ path: socketPath });
    const client = new this.#ldapts.Client({
      url: socketPath === undefined ? url : 'ldap://localhost',
      timeout: timeoutMs,
      connectTimeout: timeoutMs,
      strictDN: false,
      ...(implicitTls && tlsOptions !== undefined ? { tlsOptions: { ...tlsOptions } } : {}),
      createConnection: once(plainConnect) as typeof netConnect,
      createSecureConnection: once(tlsConnect as (...args: unknown[]) => TLSSocket) as typeof tlsConnect,
    });
    const connection: Connection = {
      client,
      sockets,
      broken: false,
      reused: false,
      get lost() {
        return state.lost;
      },
    };
    try {
      if (this.#settings.startTls) {
        // the URL's host is the name to check unless the tls settings say otherwise (Node would check "localhost")
        const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
        const named = { host, ...(isIP(host) === 0 ? { servername: host } : {}) };
        await this.#within(connection, what, () => client.startTLS({ ...named, ...tlsOptions }));
      }
      return connection;
    } catch (error) {
      this.#destroy(connection);
      throw this.explain(error, what);
    }
  }

  /** `work` within timeoutMs; past it every socket of the connection is destroyed and it is marked broken. */
  #within<T>(connection: Connection, what: string, work: () => Promise<T>): Promise<T> {
    const timeoutMs = this.#settings.timeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        connection.broken = true;
        for (const socket of connection.sockets) socket.destroy();
        reject(new LdapUnavailableError(`${this.#settings.url}: no answer within ${timeoutMs} ms while ${what}`));
      }, timeoutMs);
      timer.unref();
      work().then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  #destroy(connection: Connection): void {
    connection.broken = true;
    // unbind politely when it is healthy; the sockets go either way
    if (connection.client.isConnected) connection.client.unbind().catch(() => undefined);
    for (const socket of connection.sockets) socket.destroy();
  }
}

/** The client as `work` sees it: every request on a connection whose socket closed fails at once. */
function guarded(connection: Connection, url: string): LdapClient {
  return new Proxy(connection.client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        if (connection.lost) return Promise.reject(new LdapUnavailableError(`${url}: the connection was lost`));
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** `ldapi://%2Frun%2Fslapd%2Fldapi` → `/run/slapd/ldapi`; undefined for any other URL. */
function ldapiSocketPath(url: string): string | undefined {
  const match = /^ldapi:\/\/([^/?#]+)\/?$/i.exec(url);
  return match === null ? undefined : decodeURIComponent(match[1]!);
}

/** Node's TLS options without Gatehouse's own `expectedName` (checkServerIdentity already uses it). */
function nodeTlsOptions(tls: NonNullable<LdapSettings['tls']>): ConnectionOptions {
  const { expectedName: _expectedName, ...options } = tls;
  return options;
}
