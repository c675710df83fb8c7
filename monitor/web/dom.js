/** Small DOM helpers. Server text only ever goes in through textContent, never innerHTML. */

/** The element with this id; a missing one is a bug in index.html, so fail loudly. */
export function byId(id) {
  const found = document.getElementById(id);
  if (found === null) throw new Error(`index.html has no element #${id}`);
  return found;
}

/** `element('td', { className: 'num' }, '42 GiB')`: properties are set as DOM properties, children as nodes or text. */
export function element(tag, properties = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(properties)) {
    if (name.startsWith('aria-') || name === 'role' || name.startsWith('data-')) node.setAttribute(name, String(value));
    else node[name] = value;
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    node.append(typeof child === 'string' ? document.createTextNode(child) : child);
  }
  return node;
}

/** Shows `text` in a message element (role=alert or status), or hides it when text is empty. */
export function showMessage(node, text) {
  node.textContent = text ?? '';
  node.hidden = !text;
}

/** Disables a form's controls while its request runs, so it is not sent twice. */
export async function whileBusy(form, work) {
  const controls = [...form.querySelectorAll('button, input, select, textarea')].filter((c) => !c.disabled);
  form.setAttribute('aria-busy', 'true');
  for (const control of controls) control.disabled = true;
  try {
    return await work();
  } finally {
    for (const control of controls) control.disabled = false;
    form.removeAttribute('aria-busy');
  }
}

/** Copies text to the clipboard; falls back to a selected textarea where the Clipboard API is missing (plain http). */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // permission refused: try the old way
    }
  }
  const area = element('textarea', { value: text, readOnly: true, className: 'offscreen' });
  document.body.append(area);
  area.select();
  let copied = false;
  try {
    copied = document.execCommand('copy');
  } catch {
    copied = false;
  }
  area.remove();
  return copied;
}

/** Offers text as a file download (the browser saves it; nothing goes to the server). */
export function downloadText(filename, text) {
  const url = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  const link = element('a', { href: url, download: filename, className: 'offscreen' });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Sets a usage bar's width (CSSOM, which a strict CSP allows) and its warning level. */
export function setBar(bar, percent) {
  const value = Number.isFinite(percent) ? Math.min(Math.max(percent, 0), 100) : 0;
  bar.style.width = `${value}%`;
  bar.classList.toggle('warning', value >= 80 && value < 95);
  bar.classList.toggle('critical', value >= 95);
}
