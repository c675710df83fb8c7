/** `gatehouse <argv>` through main() in this process, with in-memory streams: what it printed and its exit code. */
import { PassThrough } from 'node:stream';
import { main, type MainOptions } from '../../gateway/cli/main.ts';

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

export async function runGatehouse(argv: string[], env: NodeJS.ProcessEnv, options: { stdin?: string; main?: MainOptions } = {}): Promise<CliRun> {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  stderr.on('data', (chunk: Buffer) => (err += chunk.toString('utf8')));
  stdin.end(options.stdin ?? '');
  const code = await main(argv, { stdin, stdout, stderr, isTTY: false }, env, options.main);
  // a stream's last chunk arrives on the next turn
  await new Promise((resolve) => setImmediate(resolve));
  return { code, out, err };
}
