/** How numbers from the API are written for people. Binary units, as `free -h` and `df -h` use. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

export function formatBytes(bytes) {
  if (!Number.isFinite(bytes) || bytes < 0) return '–';
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

export function formatRate(bytesPerSecond) {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) return '–';
  return `${formatBytes(bytesPerSecond)}/s`;
}

export function formatPercent(percent) {
  if (!Number.isFinite(percent)) return '–';
  return `${percent.toFixed(percent < 10 ? 1 : 0)} %`;
}

export function formatUptime(seconds) {
  if (!Number.isFinite(seconds) || seconds < 0) return '–';
  const minutes = Math.floor(seconds / 60);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const parts = [];
  if (days > 0) parts.push(`${days} d`);
  if (days > 0 || hours > 0) parts.push(`${hours} h`);
  parts.push(`${minutes % 60} min`);
  return parts.join(' ');
}

export function formatLoad(load) {
  if (!Array.isArray(load)) return '–';
  return load.map((value) => (Number.isFinite(value) ? value.toFixed(2) : '–')).join(' · ');
}

/** hh:mm:ss in the browser's time zone. */
export function formatClock(date) {
  return date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
}

/** An ISO date from the API as a short local date, or the dash for none. */
export function formatDate(iso) {
  if (typeof iso !== 'string' || iso === '') return '–';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '–';
  return date.toLocaleDateString(undefined, { year: 'numeric', month: 'short', day: 'numeric' });
}
