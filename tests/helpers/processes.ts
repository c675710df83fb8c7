import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';

/** A child process a test started and must stop (a server: nginx, caddy, redis, the gateway). */
export interface ServiceProcess {
  readonly name: string;
  readonly pid: number;
  /** The last 64 KiB of what it wrote to stdout and stderr, interleaved. */
  output(): string;
  /** Resolves when it has exited (also after a failed spawn). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  /** Throws (with its output) if it has already exited; used while waiting for readiness. */
  assertRunning(): void;
  /** SIGTERM to its process group, SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
}

const outputLimit = 64 * 1024;
const running = new Set<ChildProcess>();
let exitHooksInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // ESRCH: the group is already gone
  }
}

// If the test process dies with services still up (a crash, Ctrl-C, the runner's timeout), take them along.
function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', () => {
    for (const child of running) killGroup(child, 'SIGKILL');
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    // Exit synchronously: re-raising the signal would let the event loop start more services first.
    process.once(signal, () => {
      for (const child of running) killGroup(child, 'SIGKILL');
      process.exit(128 + constants.signals[signal]);
    });
  }
}

/**
 * Spawn a long-running service in its own process group (so stopping it also stops its workers,
 * e.g. nginx's) with output captured for error messages.
 */
export function startService(
  name: string,
  command: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): ServiceProcess {
  installExitHooks();
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let captured = '';
  const capture = (chunk: Buffer): void => {
    captured += chunk.toString('utf8');
    if (captured.length > outputLimit) captured = captured.slice(-outputLimit);
  };
  child.stdout?.on('data', capture);
  child.stderr?.on('data', capture);
  running.add(child);

  let done = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (error) => {
      capture(Buffer.from(`\n[spawn ${command} failed: ${error.message}]\n`));
      if (child.pid === undefined) {
        done = true;
        running.delete(child);
        resolve({ code: null, signal: null });
      }
    });
    child.once('close', (code, signal) => {
      done = true;
      running.delete(child);
      killGroup(child, 'SIGKILL'); // anything it left behind in its group
      resolve({ code, signal });
    });
  });

  const service: ServiceProcess = {
    name,
    pid: child.pid ?? -1,
    output: () => captured,
    exited,
    hasExited: () => done,
    assertRunning() {
      if (done) {
        throw new Error(`${name} exited during startup (exit code ${String(child.exitCode)}, signal ${String(child.signalCode)}):\n${captured}`);
      }
    },
    async stop(graceMs = 5_000) {
      if (done) return;
      killGroup(child, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), graceMs);
      });
      const result = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (result === 'timeout') {
        killGroup(child, 'SIGKILL');
        await exited;
      }
    },
  };
  return service;
}

/** Waits (bounded) until the process output matches `pattern`. */
export async function waitForOutput(service: ServiceProcess, pattern: RegExp, timeoutMs = 15_000): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(service.output());
    if (match) return match;
    service.assertRunning();
    if (Date.now() > deadline) throw new Error(`no ${pattern} in the output within ${timeoutMs} ms:\n${service.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
