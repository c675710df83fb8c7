/** `gatehouse storage encryption check|change-key`: verify storage.encryption_key against the database, or re-encrypt under a new one. */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { readFirstLine, UsageError, type CliIO } from '../../lib/cli-io.ts';
import { deriveKeys } from '../storage/encryption.ts';
import type { EncryptedColumnReport } from '../storage/encrypted-values.ts';
import { openStorage } from '../storage/open.ts';
import type { StorageOptions } from '../storage/options.ts';

export const STORAGE_ENCRYPTION_HELP = `Usage: gatehouse storage encryption check [--config F]...
       gatehouse storage encryption change-key (--new-encryption-key-file F | --new-encryption-key-stdin) [--config F]...

check       checks storage.encryption_key against the database: the recorded check value, then every
            encrypted value (TOTP secrets, one-time codes, the lookup key), and prints how many
            decrypted per column. Exits 1 if the key is not the database's or any value fails.
change-key  re-encrypts every encrypted value and the check value under the new key, in one
            transaction: on any failure nothing changes. Stop every gateway using the database
            first, and put the new key in the configuration afterwards.
            --new-encryption-key-file F   read the new key from F (trailing newline ignored)
            --new-encryption-key-stdin    read it from the first line of stdin
`;

function formatReport(report: readonly EncryptedColumnReport[], verb: string): string {
  return report.map((entry) => `storage: ${entry.name}: ${entry.ok} ${verb}${entry.failed > 0 ? `, ${entry.failed} failed` : ''}\n`).join('');
}

async function newKey(args: readonly string[], io: CliIO): Promise<string> {
  const fileAt = args.indexOf('--new-encryption-key-file');
  const fromStdin = args.includes('--new-encryption-key-stdin');
  const known = new Set(['--new-encryption-key-file', '--new-encryption-key-stdin']);
  const unexpected = args.filter((arg, i) => !known.has(arg) && i !== fileAt + 1);
  if (unexpected.length > 0) throw new UsageError(`unexpected argument '${unexpected[0]}'`);
  if ((fileAt >= 0) === fromStdin) throw new UsageError('change-key needs exactly one of --new-encryption-key-file F and --new-encryption-key-stdin');
  if (fromStdin) return readFirstLine(io.stdin);
  const path = args[fileAt + 1];
  if (path === undefined) throw new UsageError('--new-encryption-key-file needs a file name');
  return (await readFile(path, 'utf8')).replace(/\r?\n$/, '');
}

/** `args` after `storage encryption`, without --config. Returns the exit code. */
export async function runStorageEncryption(args: readonly string[], io: CliIO, options: StorageOptions, logger: Logger): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'check') {
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
    const storage = await openStorage(options, { logger, migrate: false });
    try {
      const report = await storage.encryption.checkValues();
      io.stdout.write(`storage: encryption_key matches the database\n${formatReport(report, 'decrypted')}`);
      const failed = report.reduce((sum, entry) => sum + entry.failed, 0);
      if (failed > 0) io.stderr.write(`gatehouse: storage: ${failed} encrypted value(s) do not decrypt under this encryption_key\n`);
      return failed > 0 ? 1 : 0;
    } finally {
      await storage.close();
    }
  }
  if (sub === 'change-key') {
    const next = deriveKeys(await newKey(rest, io)); // refuses a key that is too short before opening anything
    const storage = await openStorage(options, { logger, migrate: false });
    try {
      const report = await storage.encryption.changeKey(next);
      io.stdout.write(`${formatReport(report, 're-encrypted')}storage: the database now uses the new encryption_key; set it in the configuration before starting the gateway\n`);
      return 0;
    } finally {
      await storage.close();
    }
  }
  throw new UsageError(sub === undefined ? "storage encryption needs 'check' or 'change-key'" : `unknown storage encryption command '${sub}'`);
}
