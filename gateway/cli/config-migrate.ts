/** `gatehouse config migrate --from authelia FILE`: the file rewritten without deprecated keys, and a line per change. */
import { lstatSync, readFileSync } from 'node:fs';
import { configError, configWarning, renderProblem } from '../../lib/config-problems.ts';
import type { Plain } from '../../lib/config-paths.ts';
import { ConfigError } from '../../lib/errors.ts';
import { writeFileAtomic } from '../../lib/fs-atomic.ts';
import { UsageError, type CliIO } from '../../lib/cli-io.ts';
import { parseGatewayConfig } from '../config/load.ts';
import { migrateConfigText } from '../config/migrate-document.ts';

export const CONFIG_MIGRATE_HELP = `Usage: gatehouse config migrate --from authelia FILE [--output F [--force]]

Rewrites an Authelia configuration file (any version Gatehouse reads) with every deprecated key
moved to the key that replaced it, as 'config validate' reads it, so the result loads without
deprecation warnings and means the same. Comments, quoting and the order of the keys it did not
touch are kept; a moved key takes its comments along. Template expressions ({{ env "X" }}) are
kept as written, and move with their key; one the new value would be computed from
(server.port: {{ env "PORT" }}) is refused, as is {{ if }} and the like: move that by hand.

Prints the new file (or writes it to F, mode 0600: it holds secrets; an existing F is replaced
only with --force), and on stderr one line per change ('config: server.host: moved to
server.address as ...'). A key that cannot be moved (set beside its replacement, a value that
cannot be mapped) is an error: nothing is written and it exits 2.

One file at a time: in a configuration split over several files, keys that are combined
(server.host and server.port, the SMTP and database host and port) must be in the same file.
Check the files together afterwards: gatehouse config validate --config A --config B.
`;

interface MigrateArgs {
  file: string;
  output?: string;
  force: boolean;
}

function parseArgs(args: readonly string[]): MigrateArgs {
  let from: string | undefined;
  let output: string | undefined;
  let force = false;
  const files: string[] = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i]!;
    const value = () => {
      const next = args[i + 1];
      if (next === undefined || next.startsWith('-')) throw new UsageError(`${arg} needs a value`);
      i += 1;
      return next;
    };
    if (arg === '--from') from = value();
    else if (arg.startsWith('--from=')) from = arg.slice('--from='.length);
    else if (arg === '--output') output = value();
    else if (arg.startsWith('--output=')) output = arg.slice('--output='.length);
    else if (arg === '--force') force = true;
    else if (arg.startsWith('-')) throw new UsageError(`unexpected option '${arg}' (gatehouse config migrate --help)`);
    else files.push(arg);
  }
  if (from === undefined) throw new UsageError('config migrate needs --from authelia');
  if (from !== 'authelia') throw new UsageError(`config migrate --from '${from}': the only source is 'authelia'`);
  if (files.length !== 1) throw new UsageError(files.length === 0 ? 'config migrate needs the file to migrate' : `config migrate takes one file, not '${files[1]}' too`);
  if (force && output === undefined) throw new UsageError('--force goes with --output (the file it may replace)');
  return { file: files[0]!, output, force };
}

/**
 * What `config validate` will say of the new file on its own (no environment): its warnings, and what
 * Gatehouse needs that Authelia did not (a 4.37 cookie has no portal URL).
 */
function resultProblems(values: Plain | null, shownAs: string): string {
  if (values === null) return `${renderProblem(configWarning(shownAs, 'holds template expressions: check the result with gatehouse config validate and the filters set'))}\n`;
  try {
    return parseGatewayConfig(values).warnings.map((warning) => `warning: ${renderProblem(warning)}\n`).join('');
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const errors = error.problems.map((line) => `error: ${line}\n`).join('');
    return `${errors}${renderProblem(configWarning(shownAs, 'does not validate on its own yet: fix the errors above (a file that is one of several: validate them together, gatehouse config validate --config A --config B)'))}\n`;
  }
}

export async function runConfigMigrate(args: readonly string[], io: CliIO): Promise<number> {
  const { file, output, force } = parseArgs(args);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError([configError(file, `cannot read the file (${(error as NodeJS.ErrnoException).code ?? 'error'})`)]);
  }
  const migrated = migrateConfigText(text, file);
  if (output !== undefined) {
    // lstat: a link at the path counts as there, even one that leads nowhere
    if (!force && lstatSync(output, { throwIfNoEntry: false }) !== undefined) throw new UsageError(`${output} exists; add --force to replace it`);
    await writeFileAtomic(output, migrated.text, 0o600);
  } else io.stdout.write(migrated.text);
  if (migrated.changes.length === 0) io.stderr.write(`${renderProblem({ path: file, message: 'no deprecated keys; nothing changed', severity: 'warning' })}\n`);
  for (const change of migrated.changes) io.stderr.write(`${renderProblem(change)}\n`);
  io.stderr.write(resultProblems(migrated.values, output ?? '(output)'));
  return 0;
}
