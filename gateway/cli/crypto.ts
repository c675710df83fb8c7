/** `gatehouse crypto rand`: a random string fit for session.secret, storage.encryption_key and the like. */
import { UsageError, type CliIO } from '../../lib/cli-io.ts';
import { CHARSETS, drawSecret, type Charset } from '../../lib/secret-strength.ts';

/** Fewer bits than this (length × log2 of the charset's size) is not a secret worth the name: refused, not printed. */
const MIN_SECRET_BITS = 80;

/** The shortest --length a charset needs for MIN_SECRET_BITS. */
export function minimumLength(charset: Charset): number {
  return Math.max(20, Math.ceil(MIN_SECRET_BITS / Math.log2(CHARSETS[charset].length)));
}

export const CRYPTO_HELP = `Usage: gatehouse crypto rand [--length N] [--charset NAME]

Prints a random string from the operating system's CSPRNG, for session.secret, storage.encryption_key
or any other secret (Authelia's 'authelia crypto rand' takes the same flags). What it prints passes
Gatehouse's own strength check; an ascii value pastes into YAML as is (quote it for a shell).

  --length N       characters to print (default 64; 20 to 4096, and at least ${MIN_SECRET_BITS} bits:
                   ${Object.keys(CHARSETS).filter((c) => minimumLength(c as Charset) > 20).map((c) => `${c} needs ${minimumLength(c as Charset)}`).join(', ')})
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
  const charsetName = option(args, '--charset') ?? 'alphanumeric';
  if (args.length > 0) throw new UsageError(`unexpected argument '${args[0]}'`);
  const length = Number(lengthText);
  if (!Number.isInteger(length) || length < 20 || length > 4096) throw new UsageError('--length must be a whole number from 20 to 4096');
  // own keys only: `constructor` or `hasOwnProperty` are properties of every object, not charsets
  if (!Object.hasOwn(CHARSETS, charsetName)) throw new UsageError(`--charset must be one of ${Object.keys(CHARSETS).join(', ')}`);
  const charset = charsetName as Charset;
  const shortest = minimumLength(charset);
  if (length < shortest) {
    throw new UsageError(`--length ${length} of ${charset} characters is ${Math.floor(length * Math.log2(CHARSETS[charset].length))} bits; a secret needs at least ${MIN_SECRET_BITS}: use --length ${shortest} or more, or a larger --charset`);
  }
  io.stdout.write(`${drawSecret(length, charset)}\n`);
  return 0;
}
