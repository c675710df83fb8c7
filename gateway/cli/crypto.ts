/** `gatehouse crypto rand`: a random string fit for session.secret, storage.encryption_key and the like. */
import { randomInt } from 'node:crypto';
import { UsageError, type CliIO } from '../../lib/cli-io.ts';
import { CHARSETS, randomString, weakSecretReason, type Charset } from '../../lib/secret-strength.ts';

export const CRYPTO_HELP = `Usage: gatehouse crypto rand [--length N] [--charset NAME]

Prints a random string from the operating system's CSPRNG, for session.secret, storage.encryption_key
or any other secret (Authelia's 'authelia crypto rand' takes the same flags).

  --length N       characters to print (default 64; 20 to 4096)
  --charset NAME   ${Object.keys(CHARSETS).join(', ')} (default alphanumeric)

Example: gatehouse crypto rand --length 64 --charset alphanumeric > /etc/gatehouse/session_secret
`;

function option(args: string[], name: string): string | undefined {
  const at = args.findIndex((arg) => arg === name || arg.startsWith(`${name}=`));
  if (at === -1) return undefined;
  const arg = args[at]!;
  const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[at + 1];
  if (value === undefined || value === '') throw new UsageError(`${name} needs a value`);
  args.splice(at, arg.includes('=') ? 1 : 2);
  return value;
}

export function runCrypto(argv: string[], io: CliIO): number {
  const [sub, ...rest] = argv;
  if (sub === undefined || rest.includes('--help') || rest.includes('-h') || sub === '--help' || sub === '-h') {
    (sub === undefined ? io.stderr : io.stdout).write(CRYPTO_HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub !== 'rand') throw new UsageError(`unknown crypto command '${sub}' (gatehouse crypto --help)`);
  const args = [...rest];
  const lengthText = option(args, '--length') ?? '64';
  const charset = (option(args, '--charset') ?? 'alphanumeric') as Charset;
  if (args.length > 0) throw new UsageError(`unexpected argument '${args[0]}'`);
  const length = Number(lengthText);
  if (!Number.isInteger(length) || length < 20 || length > 4096) throw new UsageError('--length must be a whole number from 20 to 4096');
  const characters = CHARSETS[charset];
  if (characters === undefined) throw new UsageError(`--charset must be one of ${Object.keys(CHARSETS).join(', ')}`);
  // the strength check refuses patterns and placeholder words: draw again in the (rare) event of one
  let value: string;
  do value = randomString(length, characters, randomInt);
  while (charset !== 'numeric' && length >= 32 && weakSecretReason(value, 20) !== null);
  io.stdout.write(`${value}\n`);
  return 0;
}
