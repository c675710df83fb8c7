/** The Overview tab: /api/system, /api/storage and /api/network, refreshed every 5 seconds while visible. */
import { api } from './api.js';
import { byId, element, setBar, showMessage } from './dom.js';
import { formatBytes, formatClock, formatLoad, formatPercent, formatRate, formatUptime } from './format.js';

export const REFRESH_MS = 5000;

function percentOf(part, whole) {
  return whole > 0 ? (part / whole) * 100 : 0;
}

function usageCell(percent) {
  const fill = element('span', { className: 'bar-fill' });
  setBar(fill, percent);
  return element(
    'td',
    { className: 'usage-col', 'data-label': 'Use' },
    element('div', { className: 'usage' }, element('div', { className: 'bar', 'aria-hidden': 'true' }, fill), element('span', {}, formatPercent(percent))),
  );
}

function showSystem(system, onHostname) {
  byId('ov-hostname').textContent = system.hostname ?? '–';
  byId('ov-uptime').textContent = formatUptime(system.uptime_seconds);
  byId('ov-kernel').textContent = system.kernel ?? '–';
  onHostname(system.hostname ?? '');

  const cpu = system.cpu?.usage_percent;
  byId('ov-cpu').textContent = formatPercent(cpu);
  setBar(byId('ov-cpu-bar'), cpu);
  const cores = system.cpu?.cores;
  byId('ov-cpu-detail').textContent = [system.cpu?.model, Number.isFinite(cores) ? `${cores} ${cores === 1 ? 'core' : 'cores'}` : null]
    .filter(Boolean)
    .join(' · ');
  byId('ov-load').textContent = `Load ${formatLoad(system.load)} (1, 5, 15 min)`;

  const memory = system.memory ?? {};
  const memoryPercent = Number.isFinite(memory.usage_percent) ? memory.usage_percent : percentOf(memory.used, memory.total);
  byId('ov-memory').textContent = formatPercent(memoryPercent);
  setBar(byId('ov-memory-bar'), memoryPercent);
  byId('ov-memory-detail').textContent = `${formatBytes(memory.used)} of ${formatBytes(memory.total)} · ${formatBytes(memory.available)} available`;

  const swap = system.swap ?? {};
  if (swap.total > 0) {
    const swapPercent = percentOf(swap.used, swap.total);
    byId('ov-swap').textContent = formatPercent(swapPercent);
    setBar(byId('ov-swap-bar'), swapPercent);
    byId('ov-swap-detail').textContent = `${formatBytes(swap.used)} of ${formatBytes(swap.total)}`;
  } else {
    byId('ov-swap').textContent = 'None';
    setBar(byId('ov-swap-bar'), 0);
    byId('ov-swap-detail').textContent = 'No swap space is configured.';
  }
}

function showStorage(storage) {
  const rows = (storage.filesystems ?? []).map((fs) =>
    element(
      'tr',
      {},
      element('th', { scope: 'row', className: 'mono' }, fs.mountpoint ?? '–'),
      element('td', { className: 'mono wrap', 'data-label': 'Device' }, fs.device ?? '–'),
      element('td', { 'data-label': 'Type' }, fs.fstype ?? '–'),
      element('td', { className: 'num', 'data-label': 'Size' }, formatBytes(fs.total)),
      element('td', { className: 'num', 'data-label': 'Used' }, formatBytes(fs.used)),
      element('td', { className: 'num', 'data-label': 'Free' }, formatBytes(fs.available)),
      usageCell(Number.isFinite(fs.usage_percent) ? fs.usage_percent : percentOf(fs.used, fs.used + fs.available)),
    ),
  );
  if (rows.length === 0) rows.push(element('tr', {}, element('td', { colSpan: 7, className: 'muted' }, 'No filesystems reported.')));
  byId('mounts-body').replaceChildren(...rows);
}

function addressList(addresses) {
  if (!Array.isArray(addresses) || addresses.length === 0) return element('span', { className: 'muted' }, 'none');
  const sorted = [...addresses].sort((a, b) => (a.family === b.family ? 0 : a.family === 'IPv4' ? -1 : 1));
  return element('ul', { className: 'plain-list' }, ...sorted.map((a) => element('li', { className: 'mono' }, a.cidr ?? a.address)));
}

function showNetwork(network) {
  const rows = (network.interfaces ?? []).map((nic) =>
    element(
      'tr',
      {},
      element('th', { scope: 'row', className: 'mono' }, nic.name ?? '–'),
      element('td', { 'data-label': 'Addresses' }, addressList(nic.addresses)),
      element('td', { className: 'num', 'data-label': 'Received' }, formatBytes(nic.rx?.bytes)),
      element('td', { className: 'num', 'data-label': 'Sent' }, formatBytes(nic.tx?.bytes)),
      element('td', { className: 'num', 'data-label': 'Receiving' }, formatRate(nic.rx?.bytes_per_second)),
      element('td', { className: 'num', 'data-label': 'Sending' }, formatRate(nic.tx?.bytes_per_second)),
    ),
  );
  if (rows.length === 0) rows.push(element('tr', {}, element('td', { colSpan: 6, className: 'muted' }, 'No interfaces reported.')));
  byId('network-body').replaceChildren(...rows);
}

/**
 * `onHostname(name)` lets the header show the host. Returns `{ start(), stop() }`: start refreshes
 * at once and then every REFRESH_MS until stop.
 */
export function createOverview({ onHostname }) {
  let timer = null;
  let running = false;
  let lastSuccess = null;
  const updated = byId('overview-updated');
  const errorBox = byId('overview-error');

  let inFlight = false;

  async function refresh() {
    timer = null;
    if (inFlight) return;
    inFlight = true;
    const [system, storage, network] = await Promise.allSettled([api('GET', '/api/system'), api('GET', '/api/storage'), api('GET', '/api/network')]).finally(() => {
      inFlight = false;
    });
    if (!running) return;
    const failures = [];
    if (system.status === 'fulfilled') showSystem(system.value ?? {}, onHostname);
    else failures.push(['system', system.reason]);
    if (storage.status === 'fulfilled') showStorage(storage.value ?? {});
    else failures.push(['storage', storage.reason]);
    if (network.status === 'fulfilled') showNetwork(network.value ?? {});
    else failures.push(['network', network.reason]);

    if (failures.length < 3) lastSuccess = new Date();
    if (failures.length === 0) {
      showMessage(errorBox, '');
    } else {
      const reasons = [...new Set(failures.map(([, error]) => error?.message ?? 'unknown error'))].join(' ');
      const stale = lastSuccess ? ` Showing data from ${formatClock(lastSuccess)}.` : '';
      const parts = failures.length === 3 ? 'Could not refresh.' : `Could not refresh ${failures.map(([name]) => name).join(' and ')}.`;
      showMessage(errorBox, `${parts} ${reasons}${stale}`);
    }
    updated.textContent = lastSuccess ? `Updated ${formatClock(lastSuccess)}` : 'Not updated yet';
    schedule();
  }

  function schedule() {
    if (running && timer === null && !document.hidden) timer = setTimeout(refresh, REFRESH_MS);
  }

  document.addEventListener('visibilitychange', () => {
    if (!running) return;
    if (document.hidden) {
      clearTimeout(timer);
      timer = null;
    } else if (timer === null) {
      refresh();
    }
  });

  return {
    start() {
      if (running) return;
      running = true;
      refresh();
    },
    stop() {
      running = false;
      clearTimeout(timer);
      timer = null;
    },
  };
}
