// The monitor's web terminal as a browser meets it: a real HTTP server, Node's WebSocket client and a
// real shell on a PTY. Who gets a shell, as which account, with what environment, and what happens
// to the shell when either side goes away.
import { after, afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { captureLogs, type LogRecord } from '../helpers/logs.ts';
import { makeTempDir } from '../helpers/tmp.ts';
import { TicketStore } from '../../monitor/terminal/tickets.ts';
import { createTerminalServer, type SessionOwner, type TerminalAuditEvent, type TerminalServer } from '../../monitor/terminal/server.ts';
import { monitorConfigSchema, type MonitorConfig } from '../../monitor/config/schema.ts';
import { createMonitorAuth } from '../../monitor/auth/deps.ts';
import { buildMonitorRoutes } from '../../monitor/routes.ts';

const isRoot = process.getuid?.() === 0;
const NEEDS_ROOT = isRoot ? false : 'the monitor must run as root for this';

interface Closed {
  code: number;
  reason: string;
}

/** A browser-like terminal client: every text frame kept, the shell output concatenated. */
class TerminalClient {
  readonly frames: string[] = [];
  readonly closed: Promise<Closed>;
  readonly #ws: WebSocket;
  /** What was sent before the handshake finished, as a browser UI would queue it. */
  #unsent: Array<string | Uint8Array> = [];
  #waiters: Array<() => void> = [];

  constructor(url: string) {
    this.#ws = new WebSocket(url);
    this.#ws.binaryType = 'arraybuffer';
    this.#ws.addEventListener('open', () => {
      for (const data of this.#unsent.splice(0)) this.#ws.send(data);
    });
    this.#ws.addEventListener('message', (event) => {
      this.frames.push(typeof event.data === 'string' ? event.data : Buffer.from(event.data as ArrayBuffer).toString('utf8'));
      for (const wake of this.#waiters) wake();
    });
    this.closed = new Promise((resolve) => {
      this.#ws.addEventListener('close', (event) => {
        resolve({ code: event.code, reason: event.reason });
        for (const wake of this.#waiters) wake();
      });
    });
  }

  get output(): string {
    return this.frames.join('');
  }

  #send(data: string | Uint8Array): void {
    if (this.#ws.readyState === WebSocket.CONNECTING) this.#unsent.push(data);
    else this.#ws.send(data);
  }

  type(text: string): void {
    this.#send(text);
  }

  /** Keystrokes as a binary frame: never taken for a control message. */
  typeBinary(text: string): void {
    this.#send(new TextEncoder().encode(text));
  }

  control(message: unknown): void {
    this.#send(JSON.stringify(message));
  }

  close(): void {
    this.#ws.close();
  }

  /** Waits until the output matches; the first capture group (or the match). */
  async waitFor(pattern: RegExp, timeoutMs = 8_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = pattern.exec(this.output);
      if (match !== null) return match[1] ?? match[0];
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${pattern} in the terminal within ${timeoutMs} ms; output:\n${this.output}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 200));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      this.#waiters = [];
    }
  }

  /** Runs a command and returns what `marker=[...]` printed (the typed line itself shows `$(...)`). */
  async run(command: string, marker: string): Promise<string> {
    this.type(`${command}\r`);
    return this.waitFor(new RegExp(`${marker}=\\[([^\\]$]*)\\]`));
  }
}

/** Processes whose parent is this test process: the shells node-pty forked. */
function childPids(): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) children.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function eventually(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

interface Harness {
  terminal: TerminalServer;
  tickets: TicketStore<SessionOwner>;
  audit: TerminalAuditEvent[];
  records: LogRecord[];
  logText: () => string;
  clock: { ms: number };
  /** A fresh ticket for alice. */
  port: number;
  ticket(): string;
  connect(query: string, path?: string): TerminalClient;
  close(): Promise<void>;
}

const harnesses: Harness[] = [];

async function startTerminal(terminal: Partial<MonitorConfig['terminal']> = {}, options: { heartbeatMs?: number } = {}): Promise<Harness> {
  const clock = { ms: Date.parse('2030-01-01T00:00:00Z') };
  const tickets = new TicketStore<SessionOwner>({ now: () => clock.ms });
  const { logger, records, text } = captureLogs();
  const audit: TerminalAuditEvent[] = [];
  const server = createTerminalServer({
    config: { terminal: { shell: '/bin/bash', max_sessions: 4, user: 'nobody', allow_root: false, ...terminal } },
    logger,
    audit: (event) => audit.push(event),
    killGraceMs: 500,
    ...options,
  });
  // upgrades reach the terminal through the monitor's route table and its TICKET guard, as in the monitor
  const data = await makeTempDir('gatehouse-terminal-');
  const auth = createMonitorAuth(monitorConfigSchema.parse({ data_dir: data.dir }), { logger });
  const routes = buildMonitorRoutes({
    auth,
    logger,
    tickets,
    terminal: server,
    terminalIdentity: { bind: () => null, renew: () => ({ ok: false, status: 404, message: 'none' }), renewSeconds: 10 },
  });
  const http: Server = createServer(routes.request);
  http.on('upgrade', routes.upgrade);
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const harness: Harness = {
    terminal: server,
    tickets,
    audit,
    records,
    logText: text,
    clock,
    port,
    ticket: () => tickets.issue({ username: 'alice' }).ticket,
    connect: (query, path = '/ws/terminal') => new TerminalClient(`ws://127.0.0.1:${port}${path}${query}`),
    close: async () => {
      await server.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      await auth.audit.flush();
      await data.cleanup();
    },
  };
  harnesses.push(harness);
  return harness;
}

/** Opens a terminal with a fresh ticket and waits for the shell to answer. */
async function openShell(h: Harness): Promise<TerminalClient> {
  const client = h.connect(`?ticket=${h.ticket()}`);
  await client.run('echo "ready=[$((1+1))]"', 'ready');
  return client;
}

/**
 * Has the shell wait in `read` for one line, then print its length. Returns once the shell is past
 * readline: bash flushes typeahead when it hands the terminal back, which would eat early input.
 */
async function readLineNext(client: TerminalClient): Promise<void> {
  await client.run('echo "reading=[$((1))]"; read -r line; echo "length=[${#line}]"', 'reading');
}

afterEach(async () => {
  for (const harness of harnesses.splice(0)) await harness.close();
});
after(() => assert.deepEqual(childPids(), [], 'every shell is gone at the end'));

describe('a valid ticket opens a shell', () => {
  it('runs what is typed and shows its output', async () => {
    const h = await startTerminal();
    const client = h.connect(`?ticket=${h.ticket()}`);
    client.type('echo gatehouse-$((6*7))\r');
    await client.waitFor(/gatehouse-42/);
    assert.equal(h.terminal.activeSessions(), 1);
  });

  it('takes binary frames as keystrokes, never as control messages', async () => {
    const h = await startTerminal();
    const client = await openShell(h);
    await readLineNext(client);
    client.typeBinary('{"type":"ping"}\r');
    assert.equal(await client.waitFor(/length=\[(\d+)\]/), '15', 'the shell read the 15 characters');
    assert.ok(!client.frames.includes('{"type":"pong"}'), 'a binary {"type":"ping"} is typed, not answered');
  });

  it('logs the start and end of the session with the username, never the ticket or keystrokes', async () => {
    const h = await startTerminal();
    const ticket = h.ticket();
    const client = h.connect(`?ticket=${ticket}`);
    await client.run('echo "typed=[secret-keystrokes-$((1))]"', 'typed');
    client.close();
    await eventually(() => h.records.some((r) => r.msg === 'terminal session ended'), 'the end of the session logged');
    const started = h.records.find((r) => r.msg === 'terminal session started');
    assert.equal(started?.['user'], 'alice');
    assert.equal(typeof started?.['pid'], 'number');
    assert.ok(!h.logText().includes(ticket), 'the ticket is not logged');
    assert.ok(!h.logText().includes('secret-keystrokes'), 'keystrokes are not logged');
    assert.deepEqual(
      h.audit.map((event) => [event.type, 'user' in event ? event.user : null]),
      [
        ['terminal_started', 'alice'],
        ['terminal_ended', 'alice'],
      ],
    );
  });
});

describe('control messages', () => {
  it('resize changes the size the shell sees; out-of-range sizes are ignored, not typed', async () => {
    const h = await startTerminal();
    const client = await openShell(h);
    assert.equal(await client.run('echo "size=[$(stty size)]"', 'size'), '30 120', 'starts at 30 rows x 120 columns');
    client.control({ type: 'resize', cols: 100, rows: 40 });
    assert.equal(await client.run('echo "size2=[$(stty size)]"', 'size2'), '40 100');
    client.control({ type: 'resize', cols: 0, rows: 9999 });
    client.control({ type: 'resize', cols: '80', rows: 24 });
    assert.equal(await client.run('echo "size3=[$(stty size)]"', 'size3'), '40 100');
    assert.ok(!client.output.includes('"resize"'), 'a bad resize never reaches the shell');
  });

  it('ping is answered with pong', async () => {
    const h = await startTerminal();
    const client = await openShell(h);
    client.control({ type: 'ping' });
    await eventually(() => client.frames.includes('{"type":"pong"}'), 'a pong frame');
  });

  it('a text frame that is not a known control message is typed into the shell', async () => {
    const h = await startTerminal();
    const client = await openShell(h);
    await readLineNext(client);
    client.type('{"type":"hello"}');
    client.type('\r');
    assert.equal(await client.waitFor(/length=\[(\d+)\]/), '16', 'the shell read the 16 characters');
  });
});

describe('a refused ticket gets an error frame, close code 4401 and no shell', () => {
  const assertRefused = async (h: Harness, client: TerminalClient): Promise<void> => {
    assert.deepEqual(await client.closed, { code: 4401, reason: 'Unauthorized' });
    assert.deepEqual(client.frames, ['{"type":"error","message":"Unauthorized"}']);
    assert.equal(h.terminal.activeSessions(), 0);
    assert.deepEqual(childPids(), [], 'no shell was started');
    assert.equal(h.audit.at(-1)?.type, 'terminal_refused');
  };

  it('without a ticket', async () => {
    const h = await startTerminal();
    await assertRefused(h, h.connect(''));
    await assertRefused(h, h.connect('?ticket='));
  });

  it('with a ticket that was never issued', async () => {
    const h = await startTerminal();
    await assertRefused(h, h.connect(`?ticket=${Buffer.alloc(32, 7).toString('base64url')}`));
  });

  it('with a ticket already used (single use)', async () => {
    const h = await startTerminal();
    const ticket = h.ticket();
    const first = h.connect(`?ticket=${ticket}`);
    await first.run('echo "first=[$((3))]"', 'first');
    first.close();
    await eventually(() => h.terminal.activeSessions() === 0 && childPids().length === 0, 'the first shell ending');
    await assertRefused(h, h.connect(`?ticket=${ticket}`));
  });

  it('with a ticket older than its 5 s', async () => {
    const h = await startTerminal();
    const ticket = h.ticket();
    h.clock.ms += 5_000;
    await assertRefused(h, h.connect(`?ticket=${ticket}`));
  });

  it('only on /ws/terminal: an upgrade on another path is refused and spends no ticket', async () => {
    const h = await startTerminal();
    const ticket = h.ticket();
    const other = h.connect(`?ticket=${ticket}`, '/ws/other');
    assert.equal((await other.closed).code, 1006, 'the route table answers 404 to an upgrade on a path that is no row');
    assert.equal(h.tickets.consume(ticket)?.username, 'alice');
  });
});

describe('max_sessions caps concurrent shells', () => {
  it('refuses one more with "Too many terminal sessions" (4429) and accepts again once a shell has ended', async () => {
    const h = await startTerminal({ max_sessions: 2 });
    const one = await openShell(h);
    await openShell(h);
    const third = h.connect(`?ticket=${h.ticket()}`);
    assert.deepEqual(await third.closed, { code: 4429, reason: 'Too many terminal sessions' });
    assert.deepEqual(third.frames, ['{"type":"error","message":"Too many terminal sessions"}']);
    assert.equal(h.terminal.activeSessions(), 2);
    assert.equal(childPids().length, 2);
    one.type('exit\r');
    await one.closed;
    await openShell(h);
    assert.equal(h.terminal.activeSessions(), 2);
  });
});

describe('the shell and the socket end together', () => {
  it('the shell exiting closes the socket with 1000', async () => {
    const h = await startTerminal();
    const client = await openShell(h);
    client.type('exit 3\r');
    assert.deepEqual(await client.closed, { code: 1000, reason: 'Shell exited' });
    assert.equal(h.terminal.activeSessions(), 0);
    const ended = h.audit.find((event) => event.type === 'terminal_ended');
    assert.equal(ended?.type === 'terminal_ended' ? ended.exit_code : null, 3);
  });

  it('the socket closing hangs up the shell', async () => {
    const h = await startTerminal();
    const client = await openShell(h);
    const pid = Number(await client.run('echo "pid=[$$]"', 'pid'));
    assert.ok(isAlive(pid));
    client.close();
    await eventually(() => !isAlive(pid), `shell ${pid} ending`);
    await eventually(() => h.terminal.activeSessions() === 0, 'the session ending');
  });

  it('a shell ignoring SIGHUP is killed after the grace period', async () => {
    const h = await startTerminal();
    const client = await openShell(h);
    const pid = Number(await client.run('trap "" HUP; echo "pid=[$$]"', 'pid'));
    client.close();
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.ok(isAlive(pid), 'still there during the grace period (it ignores SIGHUP)');
    await eventually(() => !isAlive(pid), `shell ${pid} being killed`);
    // the PTY reports the exit a moment after the process is gone
    await eventually(() => h.audit.some((event) => event.type === 'terminal_ended'), 'the end being audited');
    const ended = h.audit.find((event) => event.type === 'terminal_ended');
    assert.equal(ended?.type === 'terminal_ended' ? ended.signal : null, 9);
  });

  it('a client that stops answering WebSocket pings is dropped and its shell hung up', async () => {
    const h = await startTerminal({}, { heartbeatMs: 150 });
    // a bare handshake, then silence: nothing answers the server's pings
    const socket = connect(h.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.write(
      `GET /ws/terminal?ticket=${h.ticket()} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    await eventually(() => h.terminal.activeSessions() === 1, 'the session starting');
    const [pid] = childPids();
    assert.ok(pid !== undefined && isAlive(pid));
    await eventually(() => h.terminal.activeSessions() === 0 && !isAlive(pid), 'the silent client being dropped');
    socket.destroy();
  });

  it('close() ends every session with 1001 and waits for the shells', async () => {
    const h = await startTerminal();
    const client = await openShell(h);
    const pid = Number(await client.run('echo "pid=[$$]"', 'pid'));
    await h.terminal.close();
    assert.ok(!isAlive(pid));
    assert.equal(h.terminal.activeSessions(), 0);
    assert.deepEqual(await client.closed, { code: 1001, reason: 'Server shutting down' });
  });
});

describe('the shell gets a clean environment', () => {
  it("none of the monitor's variables, only the terminal's own", async () => {
    process.env['GATEHOUSE_SECRET_PROBE'] = 'probe-value-1234';
    try {
      const h = await startTerminal();
      const client = await openShell(h);
      assert.equal(await client.run('echo "probe=[${GATEHOUSE_SECRET_PROBE-unset}]"', 'probe'), 'unset');
      assert.equal(await client.run('echo "matches=[$(env | grep -c probe-value-1234)]"', 'matches'), '0');
      assert.equal(
        await client.run('echo "vars=[$GATEHOUSE_TERMINAL $TERM $COLORTERM $LANG]"', 'vars'),
        'monitor xterm-256color truecolor C.UTF-8',
      );
    } finally {
      delete process.env['GATEHOUSE_SECRET_PROBE'];
    }
  });
});

describe('the account the shell runs as (the monitor runs as root here)', () => {
  it('is terminal.user (nobody) when allow_root is off, a login shell in / when its home does not exist', { skip: NEEDS_ROOT }, async () => {
    const h = await startTerminal();
    const client = await openShell(h);
    assert.equal(await client.run('echo "uid=[$(id -u)]"', 'uid'), '65534');
    assert.equal(await client.run('echo "who=[$USER $HOME $(pwd)]"', 'who'), 'nobody /nonexistent /');
    assert.equal(await client.run('shopt -q login_shell && echo "login=[yes]"', 'login'), 'yes');
    assert.equal(h.records.find((r) => r.msg === 'terminal session started')?.['run_as'], 'nobody');
  });

  it("does not keep the monitor's supplementary groups", { skip: NEEDS_ROOT }, async () => {
    const groups = process.getgroups!();
    process.setgroups!([0, 4]);
    try {
      const h = await startTerminal();
      const client = await openShell(h);
      assert.equal(await client.run('echo "groups=[$(id -G)]"', 'groups'), '65534');
    } finally {
      process.setgroups!(groups);
    }
  });

  it('is refused, never root, when terminal.user does not exist', { skip: NEEDS_ROOT }, async () => {
    const h = await startTerminal({ user: 'gatehouse-no-such-user' });
    assert.ok(h.records.some((r) => r.level === 50 && r.msg.includes("'gatehouse-no-such-user' is not an account")), 'said at startup');
    const client = h.connect(`?ticket=${h.ticket()}`);
    const closed = await client.closed;
    assert.equal(closed.code, 1011);
    assert.equal(client.frames.length, 1);
    const frame = JSON.parse(client.frames[0]!) as { type: string; message: string };
    assert.equal(frame.type, 'error');
    assert.match(frame.message, /^Terminal unavailable: terminal: option 'user': 'gatehouse-no-such-user' is not an account/);
    assert.equal(h.terminal.activeSessions(), 0);
    assert.deepEqual(childPids(), []);
  });

  it('is refused when terminal.user is root under another name (uid 0)', { skip: NEEDS_ROOT }, async () => {
    const h = await startTerminal({ user: 'root' });
    const client = h.connect(`?ticket=${h.ticket()}`);
    assert.equal((await client.closed).code, 1011);
    assert.match(client.frames[0] ?? '', /has uid 0; set 'allow_root: true'/);
    assert.deepEqual(childPids(), []);
  });

  it('is root with allow_root, and the startup log says so', { skip: NEEDS_ROOT }, async () => {
    const h = await startTerminal({ allow_root: true, user: 'gatehouse-no-such-user' });
    assert.ok(h.records.some((r) => r.level === 40 && r.msg.includes("'allow_root' is on")));
    const client = await openShell(h);
    assert.equal(await client.run('echo "uid=[$(id -u)]"', 'uid'), '0');
  });
});
