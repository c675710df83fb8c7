/**
 * The Terminal tab: xterm.js (served from /vendor, never a CDN) bridged to WS /ws/terminal.
 * A WebSocket cannot carry the Bearer header, so POST /api/terminal/ticket first hands out a
 * single-use ticket that lives 5 seconds; that ticket is the only thing in the socket's URL.
 * While the socket is open, the page re-confirms the sign-in every `renew_seconds` with
 * POST /api/terminal/renew: through the gateway, that request only arrives while the gateway still
 * vouches for the user, and the monitor closes a terminal whose sign-in stops being confirmed.
 *
 * Wire protocol (monitor/terminal/protocol.ts): keystrokes go as binary frames, so a pasted
 * '{"type":…}' is typed, never taken for a control message; control messages are JSON text frames
 * (resize, ping); output comes back as text (or binary) frames, and JSON text frames starting
 * with {"type": are control answers (pong, error).
 */
import { api } from './api.js';
import { byId, showMessage } from './dom.js';
import { allowGeneratedStyles } from './strict-styles.js';

const PING_MS = 30_000;

const CLOSE_REASONS = {
  1000: 'The shell exited.',
  1001: 'The monitor is shutting down.',
  1006: 'The connection was lost.',
  1011: 'The terminal cannot be started on this host.',
  4401: 'The terminal refused the ticket, or your sign-in ended. Reconnect to try again.',
  4429: 'Too many terminals are open. Close one, then reconnect.',
};

const THEME = {
  background: '#0d1117',
  foreground: '#e6edf3',
  cursor: '#e6edf3',
  selectionBackground: '#264f78',
  black: '#484f58',
  red: '#ff7b72',
  green: '#3fb950',
  yellow: '#d29922',
  blue: '#58a6ff',
  magenta: '#bc8cff',
  cyan: '#39c5cf',
  white: '#b1bac4',
  brightBlack: '#6e7681',
  brightRed: '#ffa198',
  brightGreen: '#56d364',
  brightYellow: '#e3b341',
  brightBlue: '#79c0ff',
  brightMagenta: '#d2a8ff',
  brightCyan: '#56d4dd',
  brightWhite: '#ffffff',
};

function isControlFrame(text) {
  return text.startsWith('{"type":');
}

export function createTerminal() {
  const container = byId('terminal-container');
  const statusText = byId('terminal-status');
  const dot = byId('terminal-dot');
  const errorBox = byId('terminal-error');
  const accountLabel = byId('terminal-account');
  const reconnectButton = byId('terminal-reconnect');
  const encoder = new TextEncoder();

  let terminal = null;
  let fitAddon = null;
  let socket = null;
  let pingTimer = null;
  let renewTimer = null;
  let connecting = false;
  /** idle (never opened since sign-in), connecting, connected or disconnected. */
  let state = 'idle';

  function setStatus(text, next) {
    state = next;
    statusText.textContent = text;
    dot.dataset.state = next;
  }

  function send(frame) {
    if (socket !== null && socket.readyState === WebSocket.OPEN) socket.send(frame);
  }

  function sendResize() {
    if (terminal !== null) send(JSON.stringify({ type: 'resize', cols: terminal.cols, rows: terminal.rows }));
  }

  /** Fits the terminal to its box, unless the box is hidden (it would measure 0 × 0). */
  function fit() {
    if (fitAddon === null || container.clientWidth === 0 || container.clientHeight === 0) return;
    try {
      fitAddon.fit();
    } catch {
      // not rendered yet; the next resize fits it
    }
  }

  async function loadXterm() {
    if (terminal !== null) return;
    const [{ Terminal }, { FitAddon }] = await Promise.all([
      import('/vendor/xterm/lib/xterm.mjs'),
      import('/vendor/xterm-addon-fit/addon-fit.mjs'),
    ]);
    allowGeneratedStyles();
    terminal = new Terminal({
      cursorBlink: true,
      fontFamily: 'ui-monospace, "Cascadia Mono", "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      scrollback: 5000,
      theme: THEME,
    });
    fitAddon = new FitAddon();
    terminal.loadAddon(fitAddon);
    terminal.open(container);
    terminal.onData((data) => send(encoder.encode(data)));
    terminal.onBinary((data) => send(Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff)));
    terminal.onResize(() => sendResize());
    let pending = false;
    new ResizeObserver(() => {
      if (pending) return;
      pending = true;
      requestAnimationFrame(() => {
        pending = false;
        fit();
      });
    }).observe(container);
    fit();
  }

  function stopPing() {
    clearInterval(pingTimer);
    pingTimer = null;
    clearInterval(renewTimer);
    renewTimer = null;
  }

  /** Re-confirms the sign-in that opened the terminal; a refusal is answered by the monitor closing the socket. */
  function startRenewing(session, seconds) {
    if (typeof session !== 'string' || !(seconds > 0)) return;
    renewTimer = setInterval(() => {
      api('POST', '/api/terminal/renew', { json: { session } }).catch(() => {});
    }, seconds * 1000);
  }

  function disconnect() {
    stopPing();
    if (socket !== null) {
      const old = socket;
      socket = null;
      old.onclose = null;
      old.onmessage = null;
      old.onerror = null;
      old.close(1000);
    }
  }

  function onMessage(event) {
    if (typeof event.data !== 'string') {
      terminal.write(new Uint8Array(event.data));
      return;
    }
    if (isControlFrame(event.data)) {
      let message = null;
      try {
        message = JSON.parse(event.data);
      } catch {
        message = null; // output that only looks like a control message
      }
      if (message !== null && typeof message === 'object') {
        if (message.type === 'pong') return;
        if (message.type === 'error') {
          showMessage(errorBox, typeof message.message === 'string' ? `Terminal: ${message.message}` : 'The terminal reported an error.');
          return;
        }
      }
    }
    terminal.write(event.data);
  }

  async function connect() {
    if (connecting) return;
    connecting = true;
    disconnect();
    showMessage(errorBox, '');
    setStatus('Connecting…', 'connecting');
    try {
      await loadXterm();
      // JSON like every other POST: the monitor refuses anything a cross-site form could send
      const { ticket, session, renew_seconds: renewSeconds, run_as: runAs } = await api('POST', '/api/terminal/ticket', { json: {} });
      // the OS account the shell runs as, so nobody takes it for their own or for root
      accountLabel.textContent = typeof runAs === 'string' ? `Shell as ${runAs}` : '';
      accountLabel.hidden = typeof runAs !== 'string';
      const url = new URL('/ws/terminal', location.href);
      url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
      url.search = new URLSearchParams({ ticket }).toString();
      const ws = new WebSocket(url);
      ws.binaryType = 'arraybuffer';
      socket = ws;
      ws.onopen = () => {
        setStatus('Connected', 'connected');
        fit();
        sendResize();
        pingTimer = setInterval(() => send(JSON.stringify({ type: 'ping' })), PING_MS);
        startRenewing(session, renewSeconds);
        terminal.focus();
      };
      ws.onmessage = onMessage;
      ws.onclose = (event) => {
        if (socket !== ws) return;
        socket = null;
        stopPing();
        // the monitor's own reason when it gives one ("Your sign-in ended: …")
        const told = event.code === 4401 && event.reason ? `${event.reason}.` : null;
        const reason = told ?? CLOSE_REASONS[event.code] ?? `The connection closed (code ${event.code}).`;
        setStatus('Disconnected', 'disconnected');
        if (event.code !== 1000) showMessage(errorBox, errorBox.hidden ? reason : `${errorBox.textContent} ${reason}`);
        else showMessage(errorBox, '');
        terminal.write(`\r\n\x1b[2m[${reason} Use Reconnect to start a new session.]\x1b[0m\r\n`);
      };
    } catch (error) {
      setStatus('Not connected', 'disconnected');
      showMessage(errorBox, `Could not open the terminal: ${error?.message ?? 'unknown error'}`);
    } finally {
      connecting = false;
    }
  }

  reconnectButton.addEventListener('click', () => connect());

  return {
    /** The tab opened: connect the first time, refit afterwards. */
    show() {
      if (state === 'idle') connect();
      else {
        requestAnimationFrame(() => {
          fit();
          terminal?.focus();
        });
      }
    },
    /** Signed out: end the session and wipe the screen. */
    reset() {
      disconnect();
      terminal?.reset();
      setStatus('Not connected', 'idle');
      showMessage(errorBox, '');
    },
  };
}
