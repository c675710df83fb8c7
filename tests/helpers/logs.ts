import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';

export interface LogRecord {
  level: number;
  msg: string;
  [key: string]: unknown;
}

/** A real pino logger (level debug) whose JSON lines are kept for assertions. */
export function captureLogs(): { logger: Logger; records: LogRecord[]; text: () => string } {
  const records: LogRecord[] = [];
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      const text = chunk.toString('utf8');
      chunks.push(text);
      for (const line of text.split('\n')) if (line !== '') records.push(JSON.parse(line) as LogRecord);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, sink), records, text: () => chunks.join('') };
}

export const LEVEL = { info: 30, warn: 40, error: 50 } as const;
