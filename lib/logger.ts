/** The process logger: pino JSON by default, or one readable line per event with `log.format: text`. */
import { createWriteStream, type WriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface LogOptions {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  format: 'json' | 'text';
  file_path?: string;
  keep_stdout?: boolean;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/**
 * Control characters (C0, DEL, C1) and the Unicode line/paragraph separators, written as escapes so a
 * value (a username, a header, an error message) can never start a new line of its own or drive
 * the terminal it is read on. JSON values are already escaped by JSON.stringify except DEL, C1 and
 * U+2028/9, which this also covers.
 */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const SHORT_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function unicodeEscape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

export function escapeControl(value: string): string {
  return value.replace(CONTROL, (c) => SHORT_ESCAPES[c] ?? unicodeEscape(c));
}

/** Keys are written bare when they look like identifiers, else quoted, so a key cannot pose as text. */
function textKey(key: string): string {
  return /^[\w.-]+$/.test(key) ? key : escapeControl(JSON.stringify(key));
}

function textValue(value: unknown): string {
  return escapeControl(typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value)));
}

/** One line per record: `<ISO time> <LEVEL> <msg> key=value …`, with every value escaped (see escapeControl). */
export function formatTextLine(record: Record<string, unknown>): string {
  const { time, level, msg, pid: _pid, hostname: _host, ...rest } = record;
  const extra = Object.entries(rest)
    .map(([k, v]) => `${textKey(k)}=${textValue(v)}`)
    .join(' ');
  const message = msg === undefined ? '' : textValue(msg);
  return `${new Date(time as number).toISOString()} ${LEVEL_NAMES[level as number] ?? textValue(level)} ${message}${extra ? ` ${extra}` : ''}`;
}

function textStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        let text: string;
        try {
          text = formatTextLine(JSON.parse(line) as Record<string, unknown>);
        } catch {
          text = escapeControl(line);
        }
        out.write(`${text}\n`);
      }
      done();
    },
  });
}

/** JSON lines as pino writes them, with the characters JSON.stringify leaves raw (DEL, C1, U+2028/9) escaped too. */
const RAW_IN_JSON = /[\u007f-\u009f\u2028\u2029]/g;
function jsonStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      // only inside JSON strings can these appear, where \uXXXX means the same character
      out.write(chunk.toString('utf8').replace(RAW_IN_JSON, unicodeEscape));
      done();
    },
  });
}

/** `service` names the process in every line (once: a child logger adding it again would repeat the key). */
export function createLogger(options: LogOptions, stdout: NodeJS.WritableStream = process.stdout, service = 'gatehouse'): Logger {
  const wrap = (s: NodeJS.WritableStream): Writable => (options.format === 'text' ? textStream(s) : jsonStream(s));
  const streams: { level: LogOptions['level']; stream: Writable }[] = [];
  let file: { wrapper: Writable; file: WriteStream } | undefined;
  if (options.file_path) {
    const out = createWriteStream(options.file_path, { flags: 'a', mode: 0o600 });
    file = { wrapper: wrap(out), file: out };
    streams.push({ level: options.level, stream: file.wrapper });
  }
  if (!options.file_path || options.keep_stdout) streams.push({ level: options.level, stream: wrap(stdout) });
  const logger = pino({ level: options.level, base: { service } }, pino.multistream(streams));
  if (file) logFiles.set(logger, file);
  return logger;
}

const logFiles = new WeakMap<Logger, { wrapper: Writable; file: WriteStream }>();

/**
 * Write out everything logged so far to the log file and close it: resolves once the file holds
 * every line (the file opens and writes asynchronously). Logging after this goes nowhere.
 */
export async function closeLogFile(logger: Logger): Promise<void> {
  const sink = logFiles.get(logger);
  if (!sink) return;
  logFiles.delete(logger);
  await new Promise<void>((resolve) => sink.wrapper.end(resolve));
  await new Promise<void>((resolve, reject) => {
    sink.file.once('error', reject);
    sink.file.once('close', () => resolve());
    sink.file.end();
  });
}
