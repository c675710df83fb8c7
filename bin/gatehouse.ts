#!/usr/bin/env node
// The one command line for both services. Only this entry point imports both: the gateway and the
// monitor never import each other.
import { enableLinearEngine } from '../gateway/authz/linear-regex.ts';
import { keepYoungGenerationSmall } from '../lib/young-generation.ts';

// process-wide V8 settings, set here before any command runs: the linear-time regular-expression
// engine that access_control patterns which could backtrack are compiled for, and a young
// generation that stays small (lib/young-generation.ts says why)
enableLinearEngine();
keepYoungGenerationSmall();
// loaded after the settings: the modules' start-up allocations already find the young generation sized
const { main } = await import('../gateway/cli/main.ts');

const code = await main(
  process.argv.slice(2),
  { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, isTTY: process.stdin.isTTY === true },
  process.env,
  {
    // the monitor's modules are loaded only by the commands that run it
    async monitorCommand(args, io, env) {
      const { runMonitorCommand } = await import('../monitor/cli.ts');
      return runMonitorCommand(args, io, env);
    },
    // the monitor's lines in `gatehouse --help`: data, loading nothing else of the monitor
    monitorCommands: async () => (await import('../monitor/cli-commands.ts')).MONITOR_COMMANDS,
    // the monitor's table is data: listing it loads no terminal and starts nothing
    monitorRoutes: async () => (await import('../monitor/routes.ts')).describeMonitorRoutes(),
    async startMonitor({ gatewayPort, env, stdout }) {
      const { loadMonitorConfig } = await import('../monitor/config/load.ts');
      const { embeddedMonitorDefaults } = await import('../monitor/embedded.ts');
      const { runMonitor } = await import('../monitor/main.ts');
      const files = env.GATEHOUSE_MONITOR_CONFIG ? env.GATEHOUSE_MONITOR_CONFIG.split(',').map((f) => f.trim()).filter(Boolean) : [];
      const monitor = await runMonitor(loadMonitorConfig({ files, env, defaults: embeddedMonitorDefaults(env, gatewayPort) }), stdout);
      return () => monitor.close();
    },
  },
);
// -1: a server is running and exits on its own signal
if (code >= 0) process.exitCode = code;
