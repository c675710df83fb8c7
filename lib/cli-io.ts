import { GatehouseError } from './errors.ts';

/** The streams a CLI command uses, passed in so tests can drive it with in-memory streams. */
export interface CliIO {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** True when stdin is a terminal we may prompt on. */
  isTTY: boolean;
}

/** Why reading a secret failed; `message` is fit for the operator. */
export class SecretInputError extends GatehouseError {
  declare readonly code: 'secret_input_failed';
  constructor(message: string) {
    super('secret_input_failed', message);
  }
}

const MAX_SECRET_BYTES = 4096;

/** The first line of stdin, without its line ending (`--password-stdin`). */
export async function readFirstLine(stdin: NodeJS.ReadableStream): Promise<string> {
  let buffered = '';
  for await (const chunk of stdin) {
    buffered += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    if (buffered.includes('\n')) break; // stop reading: the rest of stdin is not ours
    if (buffered.length > MAX_SECRET_BYTES) throw new SecretInputError('stdin: the first line is too long');
  }
  const line = buffered.split('\n', 1)[0] ?? '';
  if (line.length > MAX_SECRET_BYTES) throw new SecretInputError('stdin: the first line is too long');
  return line.replace(/\r$/, '');
}

interface RawModeStream {
  setRawMode(mode: boolean): unknown;
}

function canSetRawMode(stream: NodeJS.ReadableStream): stream is NodeJS.ReadableStream & RawModeStream {
  return typeof (stream as Partial<RawModeStream>).setRawMode === 'function';
}

/** Prompt on stderr and read one line from a terminal without echoing it. */
export function promptHidden(io: CliIO, prompt: string): Promise<string> {
  const { stdin, stderr } = io;
  if (!canSetRawMode(stdin)) return Promise.reject(new SecretInputError('stdin is not a terminal that can hide input'));
  stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  return new Promise((resolve, reject) => {
    const chars: string[] = [];
    const finish = (error: Error | null): void => {
      stdin.removeListener('data', onData);
      stdin.removeListener('end', onEnd);
      stdin.setRawMode(false);
      stdin.pause();
      stderr.write('\n');
      if (error === null) resolve(chars.join(''));
      else reject(error);
    };
    const onEnd = (): void => finish(new SecretInputError('input closed before a password was entered'));
    const onData = (chunk: string | Buffer): void => {
      for (const char of String(chunk)) {
        if (char === '\r' || char === '\n') return finish(null);
        if (char === '\u0003' || (char === '\u0004' && chars.length === 0)) return finish(new SecretInputError('cancelled'));
        if (char === '\u007f' || char === '\b') chars.pop();
        else if (char >= ' ') chars.push(char);
        if (chars.length > MAX_SECRET_BYTES) return finish(new SecretInputError('input is too long'));
      }
    };
    stdin.on('data', onData);
    stdin.once('end', onEnd);
  });
}

/** A command line that cannot be understood: the caller prints the message and usage, exit 2. */
export class UsageError extends GatehouseError {
  declare readonly code: 'usage_error';
  constructor(message: string) {
    super('usage_error', message);
  }
}

/**
 * `--config F` / `--config=F` / `-c F` anywhere in args; the rest is passed on. Without any, the files
 * come from the comma-separated `fallback` (an environment variable's value).
 */
export function takeConfigFiles(args: string[], fallback: string | undefined): { files: string[]; rest: string[] } {
  const files: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--config' || arg === '-c') {
      const value = args[++i];
      if (value === undefined || value.startsWith('-')) throw new UsageError(`${arg} needs a file name`);
      files.push(value);
    } else if (arg.startsWith('--config=')) files.push(arg.slice('--config='.length));
    else rest.push(arg);
  }
  if (files.length === 0 && fallback) files.push(...fallback.split(',').map((f) => f.trim()).filter(Boolean));
  return { files, rest };
}

/** One line of `gatehouse --help`'s overview: how a command is called and what it does (`\n` continues it). */
export interface CommandSummary {
  usage: string;
  summary: string;
}

/** Rows as columns two spaces apart, each as wide as its widest cell (the first row is the header). */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()).join('\n') + '\n';
}
