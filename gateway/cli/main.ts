/** `gatehouse <command>`: the one command-line entry point. Exit codes: 0 ok, 1 failure, 2 usage or configuration error, 3 a startup check failed. */
import { writeFileSync } from 'node:fs';
import { ConfigError } from '../../lib/errors.ts';
import { renderProblem } from '../../lib/config-problems.ts';
import { loadGatewayConfig, type LoadedConfig } from '../config/load.ts';
import { gatewayJsonSchema } from '../config/schema.ts';
import { EMBEDDED_PORT, embeddedDefaults, embeddedSecretsFile } from '../embedded.ts';
import { parseListenAddress } from '../../lib/net/address.ts';
import { runAccessControlCheck } from '../authz/check-cli.ts';
import { namedNetworks } from '../config/definitions.ts';
import { runHashPassword, runUsers } from '../users/cli.ts';
import { runCrypto } from './crypto.ts';
import { migrateStorage } from '../storage/open.ts';
import { storageOptionsFromConfig } from '../storage/options.ts';
import { loadTrustedCertificates } from '../../lib/net/trusted-cas.ts';
import { createLogger } from '../../lib/logger.ts';
import { formatRouteTable, type RouteSummary } from '../../lib/route-table.ts';
import { StartupCheckError, STARTUP_CHECK_EXIT_CODE } from '../startup-checks.ts';
import { takeConfigFiles as takeConfigFilesFrom, UsageError, type CliIO, type CommandSummary } from '../../lib/cli-io.ts';
import { createPasswordPolicy } from '../../lib/password-policy.ts';
import { formatOverview, nearestName } from './overview.ts';

const HELP_HEAD = `Gatehouse: a self-hosted identity gateway.

Usage: gatehouse <command> [options]

Commands:
`;

const HELP_TAIL = `
Every command takes --help. Without --config, commands that need a configuration use the
embedded defaults (the same as 'start'). $GATEHOUSE_CONFIG may name files, comma-separated.
`;

const CONFIG_HELP = `Usage: gatehouse config validate [--config F]... [--check]
       gatehouse config schema [--output F]
       gatehouse config migrate --from authelia FILE [--output F [--force]]

validate  loads the files (merged in order) plus GATEHOUSE_* environment overrides and prints
          'config: OK', or every problem as 'config: <path>: <message>' and exits 2.
          --check then runs the startup checks against what the configuration names (storage,
          session store, notifier): it connects, but never migrates and never writes, prints
          '<provider>: ok' or '<provider>: failed: <why>' for each, and exits 3 if any failed.
schema    prints the JSON Schema of the configuration (or writes it to F).
migrate   rewrites an Authelia file without its deprecated keys, comments kept, and says what
          changed (gatehouse config migrate --help).
`;

const RUN_HELP = (name: string) => `Usage: gatehouse ${name} ${name === 'start' ? '[--config F]...' : '--config F [--config F]...'}

Runs the gateway${name === 'start' ? ' with the embedded defaults (portal at http://localhost:9091/, data in ./data\nor $GATEHOUSE_DATA); files given are merged on top' : ' from configuration files, merged in order'}. SIGTERM or Ctrl-C stops it cleanly;
SIGHUP reloads the users file.
`;

const STORAGE_HELP = `Usage: gatehouse storage migrate [--config F]...
       gatehouse storage encryption check|change-key [options] [--config F]...

migrate     applies pending database migrations (the gateway also applies them at startup) and
            lists them.
encryption  checks storage.encryption_key against the database, or re-encrypts under a new key
            (gatehouse storage encryption --help).
`;

const ROUTES_HELP = `Usage: gatehouse routes [--config F]...

Prints every endpoint, the gateway's then the monitor's: method, path, guard (who may call it) and
rate limit (what limits how often, '-' for nothing). Without a configuration, every row any
configuration may serve; with one, the rows it serves (the forward-auth endpoints of
server.endpoints.authz, /jwks.json with identity_assertion, the embedded proxy's /* with
server.upstreams). Portal paths are relative to the path of each session.cookies authelia_url.
`;

/** `--config F` anywhere in args, else $GATEHOUSE_CONFIG; the rest is passed on. */
export function takeConfigFiles(args: string[], env: NodeJS.ProcessEnv): { files: string[]; rest: string[] } {
  return takeConfigFilesFrom(args, env.GATEHOUSE_CONFIG);
}


function say(io: CliIO, text: string, code: number): number {
  (code === 0 ? io.stdout : io.stderr).write(text);
  return code;
}

function wantsHelp(args: string[]): boolean {
  return args.includes('--help') || args.includes('-h');
}

async function load(files: string[], env: NodeJS.ProcessEnv, embedded: boolean): Promise<LoadedConfig> {
  if (!embedded) return loadGatewayConfig({ files, env });
  const defaultsFiles = [embeddedSecretsFile(env)];
  const loaded = loadGatewayConfig({ files, env, defaults: await embeddedDefaults(env), defaultsFiles });
  // the default portal URL names the default port: follow a port moved by a file or GATEHOUSE_SERVER_ADDRESS
  const port = parseListenAddress(loaded.config.server.address)?.port;
  if (port === undefined || port === 0 || port === EMBEDDED_PORT) return loaded;
  return loadGatewayConfig({ files, env, defaults: await embeddedDefaults(env, port), defaultsFiles });
}

/** The storage the configuration names, trusting certificates_directory's CAs (for the commands that open it). */
async function storageOptions(config: LoadedConfig['config']): Promise<ReturnType<typeof storageOptionsFromConfig>> {
  return storageOptionsFromConfig(config.storage, await loadTrustedCertificates(config.certificates_directory));
}

export interface MainOptions {
  /** `start` also runs the monitor behind the gateway: given by the entry point, which may import both services. */
  startMonitor?: (context: { gatewayPort: number; env: NodeJS.ProcessEnv; stdout: NodeJS.WritableStream }) => Promise<() => Promise<void>>;
  /** `monitor …` commands, likewise. */
  monitorCommand?: (args: string[], io: CliIO, env: NodeJS.ProcessEnv) => Promise<number>;
  /** The monitor's lines for `gatehouse --help`, likewise (a promise: the entry point imports them lazily). */
  monitorCommands?: () => readonly CommandSummary[] | Promise<readonly CommandSummary[]>;
  /** The monitor's route table, for `routes`, likewise (a promise, so the entry point may import the monitor lazily). */
  monitorRoutes?: () => readonly RouteSummary[] | Promise<readonly RouteSummary[]>;
}

/** What a command's run() is handed. */
interface CommandContext {
  io: CliIO;
  env: NodeJS.ProcessEnv;
  options: MainOptions;
}

/** One row per command: its name, its lines in `gatehouse --help`, and what runs it. */
interface Command {
  name: string;
  overview: readonly CommandSummary[];
  run(args: string[], context: CommandContext): Promise<number>;
}

async function runServer(command: 'start' | 'gateway', args: string[], { io, env, options }: CommandContext): Promise<number> {
  if (wantsHelp(args)) return say(io, RUN_HELP(command), 0);
  const { files, rest } = takeConfigFiles(args, env);
  if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
  if (command === 'gateway' && files.length === 0) throw new UsageError('gateway needs --config FILE (or use "gatehouse start" for the embedded defaults)');
  const { runGateway, stopOnSignals } = await import('../main.ts');
  const loaded = await load(files, env, command === 'start');
  const running = stopOnSignals();
  const { gateway, logger } = await runGateway(loaded, io.stdout);
  running.useLogger(logger);
  running.useDeadline(loaded.config.server.shutdown_timeout);
  running.add(() => gateway.close());
  if (command === 'start' && options.startMonitor) {
    const listen = parseListenAddress(loaded.config.server.address)!;
    try {
      running.add(await options.startMonitor({ gatewayPort: listen.port, env, stdout: io.stdout }));
    } catch (error) {
      await gateway.close(); // half a start is no start
      throw error;
    }
  }
  return -1; // keeps running; exit happens on a signal
}

const COMMANDS: readonly Command[] = [
  {
    name: 'start',
    overview: [{ usage: 'start [--config F]...', summary: 'run with the embedded defaults (data in ./data or $GATEHOUSE_DATA);\nfiles given are merged on top' }],
    run: (args, context) => runServer('start', args, context),
  },
  {
    name: 'gateway',
    overview: [{ usage: 'gateway --config F [--config F]', summary: 'run the gateway from configuration files (merged in order)' }],
    run: (args, context) => runServer('gateway', args, context),
  },
  {
    name: 'config',
    overview: [
      { usage: 'config validate [--config F]...', summary: 'check a configuration and list every problem' },
      { usage: '                [--check]', summary: '...and connect to the storage, Redis and notifier it names' },
      { usage: 'config schema [--output F]', summary: "print the configuration's JSON Schema" },
      { usage: 'config migrate --from authelia FILE', summary: 'rewrite an Authelia file without deprecated keys, comments kept' },
    ],
    async run(args, { io, env }) {
      const [sub, ...rest] = args;
      if (sub === 'migrate') {
        const { CONFIG_MIGRATE_HELP, runConfigMigrate } = await import('./config-migrate.ts');
        return wantsHelp(rest) ? say(io, CONFIG_MIGRATE_HELP, 0) : await runConfigMigrate(rest, io);
      }
      if (sub === undefined || wantsHelp(args)) return say(io, CONFIG_HELP, sub === undefined ? 2 : 0);
      if (sub === 'schema') {
        const out = rest[0] === '--output' ? rest[1] : undefined;
        const text = `${JSON.stringify(gatewayJsonSchema(), null, 2)}\n`;
        if (out) writeFileSync(out, text);
        else io.stdout.write(text);
        return 0;
      }
      if (sub !== 'validate') throw new UsageError(`unknown config command '${sub}'`);
      const { files, rest: extra } = takeConfigFiles(rest, env);
      const check = extra.includes('--check');
      const unexpected = extra.filter((arg) => arg !== '--check');
      if (unexpected.length > 0) throw new UsageError(`unexpected argument '${unexpected[0]}'`);
      const loaded = await load(files, env, files.length === 0);
      for (const warning of loaded.warnings) io.stderr.write(`warning: ${renderProblem(warning)}\n`);
      io.stdout.write('config: OK\n');
      if (!check) return 0;
      const { runConfigCheck } = await import('./config-check.ts');
      return await runConfigCheck(loaded.config, io);
    },
  },
  {
    name: 'hash-password',
    overview: [{ usage: 'hash-password [--password-stdin] [--client-secret]', summary: 'print an argon2id hash for the users file, or an OIDC client-secret digest' }],
    run: (args, { io }) => runHashPassword(args, io),
  },
  {
    name: 'crypto',
    overview: [{ usage: 'crypto rand [--length N]', summary: 'print a random secret (session.secret, storage.encryption_key)' }],
    run: async (args, { io }) => runCrypto(args, io),
  },
  {
    name: 'users',
    overview: [{ usage: 'users add|passwd|delete|rename|list', summary: 'manage the users file named by the configuration' }],
    async run(args, { io, env }) {
      // help never loads a configuration: with none given that would create ./data and its secrets
      if (args.length === 0 || wantsHelp(args)) return await runUsers(takeConfigFiles(args, {}).rest, io, { path: '', argon2: {} as never });
      const { files, rest } = takeConfigFiles(args, env);
      const { config } = await load(files, env, files.length === 0);
      const file = config.authentication_backend.file;
      // a directory's users are the directory's to manage: nothing here could edit them
      if (file === undefined) {
        throw new UsageError(`the users are in the directory named by authentication_backend.ldap${config.authentication_backend.ldap?.address ? ` (${config.authentication_backend.ldap.address})` : ''}: add, remove and rename them there; gatehouse users manages a users file`);
      }
      // rename moves the user's rows in the database too; the other commands never open it
      const storage = async () => {
        const { openStorage } = await import('../storage/open.ts');
        return openStorage(await storageOptions(config), { logger: createLogger({ level: 'warn', format: 'text' }, io.stderr), migrate: false });
      };
      return await runUsers(rest, io, { path: file.path, argon2: file.password.argon2, search: { ...file.search, extra_attributes: file.extra_attributes }, passwordPolicy: createPasswordPolicy(config.password_policy), storage });
    },
  },
  {
    name: 'access-control',
    overview: [{ usage: 'access-control check --url U', summary: 'show which rule applies to a request, and its policy' }],
    async run(args, { io, env }) {
      const [sub, ...rest] = args;
      if (sub === '--help' || sub === '-h') return await runAccessControlCheck(['--help'], io, { default_policy: 'deny', networks: [], rules: [] });
      if (sub !== 'check') throw new UsageError("the only access-control command is 'check' (gatehouse access-control check --help)");
      if (wantsHelp(rest)) return await runAccessControlCheck(rest, io, { default_policy: 'deny', networks: [], rules: [] });
      const { files, rest: checkArgs } = takeConfigFiles(rest, env);
      const { config } = await load(files, env, files.length === 0);
      return await runAccessControlCheck(checkArgs, io, config.access_control, namedNetworks(config));
    },
  },
  {
    name: 'regulation',
    overview: [
      { usage: 'regulation list [--json]', summary: 'list the user and IP bans in force, with expiry and source' },
      { usage: 'regulation unban USER|IP', summary: 'lift the bans of a user (as login resolves it) or an address' },
    ],
    async run(args, { io, env }) {
      const { regulationContextFromConfig, regulationHelp, runRegulation, wantsRegulationHelp } = await import('./regulation.ts');
      // help never loads a configuration: with none given that would create ./data and its secrets
      if (wantsRegulationHelp(args)) return regulationHelp(args, io);
      if (args[0] !== 'list' && args[0] !== 'unban') throw new UsageError(`unknown regulation command '${args[0]}' (gatehouse regulation --help)`);
      const { files, rest } = takeConfigFiles(args, env);
      const { config } = await load(files, env, files.length === 0);
      return await runRegulation(rest, io, regulationContextFromConfig(config, io));
    },
  },
  {
    name: 'storage',
    overview: [
      { usage: 'storage migrate', summary: 'apply pending database migrations' },
      { usage: 'storage encryption check|change-key', summary: 'verify the encryption key; re-encrypt under a new one' },
    ],
    async run(args, { io, env }) {
      const [sub, ...rest] = args;
      if (sub === 'encryption') {
        const { runStorageEncryption, STORAGE_ENCRYPTION_HELP } = await import('./storage-encryption.ts');
        if (rest.length === 0 || wantsHelp(rest)) return say(io, STORAGE_ENCRYPTION_HELP, rest.length === 0 ? 2 : 0);
        const { files, rest: encryptionArgs } = takeConfigFiles(rest, env);
        const { config } = await load(files, env, files.length === 0);
        const logger = createLogger({ level: 'warn', format: 'text' }, io.stderr);
        return await runStorageEncryption(encryptionArgs, io, await storageOptions(config), logger);
      }
      if (sub === undefined || wantsHelp(args)) return say(io, STORAGE_HELP, sub === undefined ? 2 : 0);
      if (sub !== 'migrate') throw new UsageError(`unknown storage command '${sub}'`);
      const { files, rest: extra } = takeConfigFiles(rest, env);
      if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
      const { config } = await load(files, env, files.length === 0);
      const logger = createLogger({ level: 'warn', format: 'text' }, io.stderr);
      const applied = await migrateStorage(await storageOptions(config), logger);
      io.stdout.write(applied.length === 0 ? 'storage: up to date\n' : applied.map((name) => `storage: applied ${name}\n`).join(''));
      return 0;
    },
  },
  {
    name: 'routes',
    overview: [{ usage: 'routes [--config F]...', summary: 'list every endpoint with its guard and rate limit' }],
    async run(args, { io, env, options }) {
      if (wantsHelp(args)) return say(io, ROUTES_HELP, 0);
      const { files, rest } = takeConfigFiles(args, env);
      if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
      // without a configuration nothing is loaded (the embedded defaults would create ./data and its secrets)
      const config = files.length > 0 ? (await load(files, env, false)).config : undefined;
      const { describeGatewayRoutes } = await import('../routes.ts');
      const tables = [formatRouteTable('gateway', describeGatewayRoutes(config))];
      if (options.monitorRoutes) tables.push(formatRouteTable('monitor', await options.monitorRoutes()));
      io.stdout.write(tables.join('\n'));
      return 0;
    },
  },
  {
    name: 'monitor',
    // the monitor's own lines come from the entry point (MainOptions.monitorCommands)
    overview: [],
    async run(args, { io, env, options }) {
      if (!options.monitorCommand) throw new UsageError('the monitor is not available in this build');
      return await options.monitorCommand(args, io, env);
    },
  },
];

/** The overview: every row's lines, the monitor's included when the entry point provides them. */
async function overview(options: MainOptions): Promise<string> {
  const summaries = COMMANDS.flatMap((command) => command.overview);
  if (options.monitorCommand && options.monitorCommands) summaries.push(...(await options.monitorCommands()));
  return `${HELP_HEAD}${formatOverview(summaries)}${HELP_TAIL}`;
}

export async function main(argv: string[], io: CliIO, env: NodeJS.ProcessEnv = process.env, options: MainOptions = {}): Promise<number> {
  const [command, ...args] = argv;
  try {
    if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
      io.stdout.write(await overview(options));
      return command === undefined ? 2 : 0;
    }
    if (command === '--version') {
      io.stdout.write('gatehouse 0.1.0\n');
      return 0;
    }
    const row = COMMANDS.find((candidate) => candidate.name === command);
    if (row === undefined) {
      const nearest = nearestName(command, [...COMMANDS.map((candidate) => candidate.name), 'help']);
      throw new UsageError(`unknown command '${command}'${nearest === undefined ? '' : `: did you mean '${nearest}'?`}`);
    }
    return await row.run(args, { io, env, options });
  } catch (error) {
    if (error instanceof ConfigError) {
      io.stderr.write(`${error.problems.join('\n')}\n`);
      return 2;
    }
    if (error instanceof StartupCheckError) {
      io.stderr.write(`${error.message}\n`);
      return STARTUP_CHECK_EXIT_CODE;
    }
    if (error instanceof UsageError) {
      io.stderr.write(`gatehouse: ${error.message}\nRun 'gatehouse --help' for the commands.\n`);
      return 2;
    }
    io.stderr.write(`gatehouse: ${(error as Error).message}\n`);
    return 1;
  }
}
