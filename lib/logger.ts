/** The process logger: pino JSON by default, or one readable line per event with `log.format: text`. */
import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface LogOptions {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  format: 'json' | 'text';
  file_path?: string;
  keep_stdout?: boolean;
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

function textStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        try {
          const { time, level, msg, pid: _pid, hostname: _host, ...rest } = JSON.parse(line) as Record<string, unknown>;
          const extra = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ');
          out.write(`${new Date(time as number).toISOString()} ${LEVEL_NAMES[level as number] ?? level} ${msg ?? ''}${extra ? ` ${extra}` : ''}\n`);
        } catch {
          out.write(`${line}\n`);
        }
      }
      done();
    },
  });
}

export function createLogger(options: LogOptions, stdout: NodeJS.WritableStream = process.stdout): Logger {
  const sinks: NodeJS.WritableStream[] = [];
  if (options.file_path) sinks.push(createWriteStream(options.file_path, { flags: 'a', mode: 0o600 }));
  if (!options.file_path || options.keep_stdout) sinks.push(stdout);
  const streams = sinks.map((s) => ({ level: options.level, stream: options.format === 'text' ? textStream(s) : s }));
  return pino({ level: options.level, base: { service: 'gatehouse' } }, pino.multistream(streams));
}
