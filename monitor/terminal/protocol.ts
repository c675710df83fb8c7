/**
 * The web terminal's wire protocol on `WS /ws/terminal?ticket=<ticket>` (compatible with ProxMenux).
 *
 * Client → server
 *   - binary frame: raw keystrokes, written to the PTY as they are (never parsed).
 *   - text frame: a control message when it is a JSON object whose `type` is one we know:
 *       {"type":"resize","cols":<1..500>,"rows":<1..500>}   resizes the PTY (out-of-range: ignored)
 *       {"type":"ping"}                                     answered with {"type":"pong"}
 *     Any other text frame (including JSON we do not know) is keystrokes, written to the PTY.
 *     A UI that wants no ambiguity at all sends keystrokes as binary frames.
 *
 * Server → client
 *   - text frame: PTY output (UTF-8), or one of these JSON objects:
 *       {"type":"pong"}
 *       {"type":"error","message":"<why>"}   always followed by the close below
 *   - close codes:
 *       1000 the shell exited                 1001 the monitor is shutting down
 *       4401 bad/missing/expired/used ticket  4429 too many terminal sessions
 *       1011 the terminal cannot be started (e.g. the configured user does not exist)
 *
 * The ticket is redeemed before anything else happens; a refused socket never gets a PTY.
 */

export const TERMINAL_PATH = '/ws/terminal';

export const CLOSE_SHELL_EXITED = 1000;
export const CLOSE_GOING_AWAY = 1001;
export const CLOSE_UNAVAILABLE = 1011;
export const CLOSE_UNAUTHORIZED = 4401;
export const CLOSE_TOO_MANY_SESSIONS = 4429;

export const MIN_DIMENSION = 1;
export const MAX_DIMENSION = 500;

export type ControlMessage = { type: 'resize'; cols: number; rows: number } | { type: 'ping' };

/** Control frames are small; anything longer is a paste, not a message for us. */
const MAX_CONTROL_LENGTH = 256;

function isDimension(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= MIN_DIMENSION && value <= MAX_DIMENSION;
}

export type ParsedTextFrame = { kind: 'control'; message: ControlMessage } | { kind: 'invalid-control' } | { kind: 'input' };

/**
 * What a text frame from the client is: a control message, a resize with unusable numbers (dropped,
 * never typed into the shell), or keystrokes.
 */
export function parseTextFrame(text: string): ParsedTextFrame {
  if (text.length > MAX_CONTROL_LENGTH || !text.startsWith('{')) return { kind: 'input' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { kind: 'input' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { kind: 'input' };
  const record = value as Record<string, unknown>;
  if (record['type'] === 'ping') return { kind: 'control', message: { type: 'ping' } };
  if (record['type'] === 'resize') {
    const { cols, rows } = record;
    return isDimension(cols) && isDimension(rows) ? { kind: 'control', message: { type: 'resize', cols, rows } } : { kind: 'invalid-control' };
  }
  return { kind: 'input' };
}

export function errorFrame(message: string): string {
  return JSON.stringify({ type: 'error', message });
}

export const PONG_FRAME = JSON.stringify({ type: 'pong' });
