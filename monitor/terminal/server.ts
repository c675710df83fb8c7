/**
 * The web terminal: `WS /ws/terminal?ticket=` bridges a WebSocket to a login shell on a PTY.
 * The protocol is described in protocol.ts. The route table (monitor/routes.ts) routes the upgrade
 * here after its TICKET guard has spent the ticket, with the owner the ticket named (or null).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { IPty } from 'node-pty';
import { WebSocketServer, WebSocket, type RawData } from 'ws';
import type { MonitorConfig } from '../config/schema.ts';
import { shellAccountFor, TerminalUnavailableError, type ShellAccount } from './account.ts';
import {
  CLOSE_GOING_AWAY,
  CLOSE_SHELL_EXITED,
  CLOSE_TOO_MANY_SESSIONS,
  CLOSE_UNAUTHORIZED,
  CLOSE_UNAVAILABLE,
  errorFrame,
  parseTextFrame,
  PONG_FRAME,
} from './protocol.ts';
import { findSetpriv, spawnShell } from './shell.ts';
import type { TicketIdentity } from './tickets.ts';

export const MAX_PAYLOAD_BYTES = 64 * 1024;
/** Output waiting for a slow client above this pauses the PTY (the shell blocks) until below LOW. */
const OUTPUT_HIGH_WATER = 1024 * 1024;
const OUTPUT_LOW_WATER = 256 * 1024;

export type TerminalRefusal = 'unauthorized' | 'too_many_sessions' | 'unavailable' | 'shutting_down';

export type TerminalAuditEvent =
  | { type: 'terminal_refused'; reason: TerminalRefusal; rhost: string; user: string | null }
  | { type: 'terminal_started'; user: string; run_as: string; pid: number; rhost: string }
  | {
      type: 'terminal_ended';
      user: string;
      run_as: string;
      pid: number;
      rhost: string;
      duration_ms: number;
      exit_code: number;
      signal: number | null;
    };

/** Who opened a session: the ticket's identity, with the credential it came from when known. */
export interface SessionOwner extends TicketIdentity {
  via?: 'session' | 'api_token' | 'remote_user' | 'basic';
  /** The bearer token's id (session and API tokens). */
  jti?: string;
  /** Session tokens: auth.json's session_generation they were issued in. */
  generation?: number;
  /** The bearer token (session and API tokens, Basic), re-checked while the session runs (identity-check.ts). */
  bearer?: string;
  /** The id the page renews a gateway identity with (identity-check.ts). */
  binding?: string;
}

export interface TerminalServerOptions {
  /** The shell settings (refresh_interval belongs to identity-check.ts). */
  config: { terminal: Omit<MonitorConfig['terminal'], 'refresh_interval'> };
  logger: Logger;
  audit?: (event: TerminalAuditEvent) => void;
  now?: () => number;
  /** The client's address for logs; app.ts passes its trusted-proxy aware one. */
  clientAddress?: (req: IncomingMessage) => string;
  /** After SIGHUP, how long a shell gets before SIGKILL. */
  killGraceMs?: number;
  /** WebSocket ping interval; a client that missed one ping is dropped (its shell killed). 0: off. */
  heartbeatMs?: number;
}

export interface TerminalServer {
  /**
   * Takes an upgrade the route table routed here. `owner` is whom the ticket named, null when there
   * was no valid one: refused with 4401 after the handshake, the one refusal a browser's WebSocket
   * can read.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, owner: SessionOwner | null): void;
  /** Closes every session (1001), kills the shells and waits for them to exit. */
  close(): Promise<void>;
  /** Closes the sessions whose owner matches (4401, e.g. their credential ended) and hangs up their shells; how many. */
  closeSessions(predicate: (owner: SessionOwner) => boolean, reason?: string): number;
  activeSessions(): number;
  /** The owners of the sessions still running (not hung up), as closeSessions() sees them. */
  owners(): SessionOwner[];
  /** The OS account a new terminal would run as, or null when terminals are refused as configured. */
  runAs(): string | null;
}

interface Session {
  ws: WebSocket;
  pty: IPty;
  user: string;
  owner: SessionOwner;
  account: ShellAccount;
  rhost: string;
  startedAt: number;
  exited: Promise<void>;
  hasExited: boolean;
  hungUp: boolean;
  outputPaused: boolean;
  answeredPing: boolean;
  killTimer: NodeJS.Timeout | null;
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function defaultClientAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? 'unknown';
}

export function createTerminalServer(options: TerminalServerOptions): TerminalServer {
  const { config, logger, audit } = options;
  const now = options.now ?? Date.now;
  const clientAddress = options.clientAddress ?? defaultClientAddress;
  const killGraceMs = options.killGraceMs ?? 3000;
  const heartbeatMs = options.heartbeatMs ?? 30_000;
  const terminal = config.terminal;
  const setprivPath = findSetpriv();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD_BYTES });
  const sessions = new Set<Session>();
  let closed = false;

  announceAccount();

  const heartbeat =
    heartbeatMs > 0
      ? setInterval(() => {
          for (const session of sessions) {
            if (session.ws.readyState !== WebSocket.OPEN) continue; // already hanging up
            if (!session.answeredPing) {
              logger.info({ user: session.user, rhost: session.rhost }, 'terminal client stopped answering; closing the session');
              session.ws.terminate();
              continue;
            }
            session.answeredPing = false;
            session.ws.ping();
          }
        }, heartbeatMs)
      : null;
  heartbeat?.unref();

  /** Says at startup, once, who terminals will run as; loud when that is root or impossible. */
  function announceAccount(): void {
    const isRoot = process.getuid?.() === 0;
    if (isRoot && terminal.allow_root) {
      logger.warn("terminal: 'allow_root' is on: web terminal sessions run as root");
      return;
    }
    try {
      const account = shellAccountFor(terminal);
      if (account.switchUser && setprivPath === null) throw new TerminalUnavailableError('terminal: setpriv (util-linux) was not found; terminals are refused');
      logger.info({ run_as: account.username, uid: account.uid, shell: terminal.shell }, 'web terminal sessions run as %s', account.username);
    } catch (error) {
      if (!(error instanceof TerminalUnavailableError)) throw error;
      logger.error({ code: error.code }, `${error.message}; terminal sessions will be refused`);
    }
  }

  function refuse(ws: WebSocket, code: number, message: string): void {
    ws.send(errorFrame(message));
    // a close reason is limited to 123 bytes
    ws.close(code, Buffer.byteLength(message) <= 123 ? message : '');
  }

  function refuseAndRecord(ws: WebSocket, reason: TerminalRefusal, rhost: string, user: string | null, code: number, message: string): void {
    audit?.({ type: 'terminal_refused', reason, rhost, user });
    refuse(ws, code, message);
  }

  function send(session: Session, data: string): void {
    const { ws, pty } = session;
    if (ws.readyState !== WebSocket.OPEN) return;
    ws.send(data, () => {
      if (session.outputPaused && !session.hungUp && ws.bufferedAmount < OUTPUT_LOW_WATER) {
        session.outputPaused = false;
        pty.resume();
      }
    });
    if (!session.outputPaused && ws.bufferedAmount > OUTPUT_HIGH_WATER) {
      session.outputPaused = true;
      pty.pause();
    }
  }

  function onMessage(session: Session, data: RawData, isBinary: boolean): void {
    if (session.hasExited) return;
    const bytes = toBuffer(data);
    if (isBinary) {
      session.pty.write(bytes);
      return;
    }
    const text = bytes.toString('utf8');
    const parsed = parseTextFrame(text);
    if (parsed.kind === 'input') {
      session.pty.write(text);
    } else if (parsed.kind === 'invalid-control') {
      logger.debug({ user: session.user }, 'terminal: resize with dimensions outside 1..500 ignored');
    } else if (parsed.message.type === 'ping') {
      if (session.ws.readyState === WebSocket.OPEN) session.ws.send(PONG_FRAME);
    } else {
      session.pty.resize(parsed.message.cols, parsed.message.rows);
    }
  }

  /** The client is gone (or the monitor is stopping): SIGHUP the shell, SIGKILL it if it lingers. */
  function hangUp(session: Session): void {
    if (session.hasExited || session.hungUp) return;
    session.hungUp = true;
    if (session.outputPaused) session.pty.resume(); // let the PTY drain so its exit is noticed
    session.pty.kill('SIGHUP');
    session.killTimer = setTimeout(() => {
      if (!session.hasExited) session.pty.kill('SIGKILL');
    }, killGraceMs);
  }

  function startSession(ws: WebSocket, identity: SessionOwner, rhost: string): void {
    const account = shellAccountFor(terminal);
    const pty = spawnShell({ shell: terminal.shell, account, setprivPath });
    let markExited = (): void => {};
    const session: Session = {
      ws,
      pty,
      user: identity.username,
      owner: { ...identity },
      account,
      rhost,
      startedAt: now(),
      exited: new Promise<void>((resolve) => (markExited = resolve)),
      hasExited: false,
      hungUp: false,
      outputPaused: false,
      answeredPing: true,
      killTimer: null,
    };
    sessions.add(session);
    const about = { user: session.user, run_as: account.username, pid: pty.pid, rhost };
    logger.info(about, 'terminal session started');
    audit?.({ type: 'terminal_started', ...about });

    pty.onData((data) => send(session, data));
    pty.onExit(({ exitCode, signal }) => {
      session.hasExited = true;
      if (session.killTimer !== null) clearTimeout(session.killTimer);
      sessions.delete(session);
      const ended = { ...about, duration_ms: now() - session.startedAt, exit_code: exitCode, signal: signal ? signal : null };
      logger.info(ended, 'terminal session ended');
      audit?.({ type: 'terminal_ended', ...ended });
      if (ws.readyState === WebSocket.OPEN) ws.close(CLOSE_SHELL_EXITED, 'Shell exited');
      markExited();
    });
    ws.on('message', (data, isBinary) => onMessage(session, data, isBinary));
    ws.on('pong', () => (session.answeredPing = true));
    ws.on('close', () => hangUp(session));
  }

  function onConnection(ws: WebSocket, identity: SessionOwner | null, rhost: string): void {
    ws.on('error', (error) => logger.debug({ err: error.message, rhost }, 'terminal socket error'));
    if (identity === null) {
      logger.warn({ rhost }, 'terminal refused: missing, unknown, used or expired ticket');
      refuseAndRecord(ws, 'unauthorized', rhost, null, CLOSE_UNAUTHORIZED, 'Unauthorized');
      return;
    }
    if (closed) {
      refuseAndRecord(ws, 'shutting_down', rhost, identity.username, CLOSE_GOING_AWAY, 'Server shutting down');
      return;
    }
    if (sessions.size >= terminal.max_sessions) {
      logger.warn({ user: identity.username, rhost, max_sessions: terminal.max_sessions }, 'terminal refused: too many sessions');
      refuseAndRecord(ws, 'too_many_sessions', rhost, identity.username, CLOSE_TOO_MANY_SESSIONS, 'Too many terminal sessions');
      return;
    }
    // fail closed: whatever goes wrong while starting, the client gets an error frame and no shell
    try {
      startSession(ws, identity, rhost);
    } catch (error) {
      const message = error instanceof TerminalUnavailableError ? error.message : 'the shell could not be started';
      logger.error({ user: identity.username, rhost, err: error instanceof Error ? error.message : String(error) }, 'terminal refused: %s', message);
      refuseAndRecord(ws, 'unavailable', rhost, identity.username, CLOSE_UNAVAILABLE, `Terminal unavailable: ${message}`);
    }
  }

  return {
    runAs() {
      try {
        const account = shellAccountFor(terminal);
        return account.switchUser && setprivPath === null ? null : account.username;
      } catch (error) {
        if (error instanceof TerminalUnavailableError) return null;
        throw error;
      }
    },

    handleUpgrade(req, socket, head, owner) {
      const rhost = clientAddress(req);
      if (closed) return void socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws, owner, rhost));
    },

    async close() {
      closed = true;
      if (heartbeat !== null) clearInterval(heartbeat);
      const running = [...sessions];
      for (const session of running) {
        if (session.ws.readyState === WebSocket.OPEN) session.ws.close(CLOSE_GOING_AWAY, 'Server shutting down');
        hangUp(session);
      }
      await Promise.all(running.map((session) => session.exited));
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },

    activeSessions() {
      return sessions.size;
    },

    owners() {
      return [...sessions].filter((session) => !session.hungUp).map((session) => session.owner);
    },

    closeSessions(predicate, reason = 'Your sign-in ended') {
      let closedCount = 0;
      for (const session of [...sessions]) {
        if (session.hungUp || !predicate(session.owner)) continue;
        logger.info({ user: session.user, via: session.owner.via, rhost: session.rhost, reason }, 'terminal session closed: its credential ended');
        if (session.ws.readyState === WebSocket.OPEN) refuse(session.ws, CLOSE_UNAUTHORIZED, reason);
        hangUp(session);
        closedCount++;
      }
      return closedCount;
    },
  };
}
