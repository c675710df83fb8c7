/**
 * xterm.js writes part of its look (cell sizes, colours) into <style> elements it creates. A strict
 * Content-Security-Policy (style-src 'self', no 'unsafe-inline') blocks those, and reports each one.
 * So, for this page (whose own code never creates <style>), document.createElement('style') makes
 * an inert <gatehouse-style> element instead; its text is copied into a constructed stylesheet
 * adopted by the document, which the policy allows. xterm only sets textContent and removes them.
 */

const INERT_TAG = 'gatehouse-style';
let installed = false;

export function allowGeneratedStyles() {
  if (installed) return;
  installed = true;

  const createElement = Document.prototype.createElement;
  Document.prototype.createElement = function createElementWithoutInlineStyles(tagName, options) {
    const tag = String(tagName).toLowerCase() === 'style' ? INERT_TAG : tagName;
    return createElement.call(this, tag, options);
  };

  const sheets = new Map();

  function sync(holder) {
    let sheet = sheets.get(holder);
    if (sheet === undefined) {
      sheet = new CSSStyleSheet();
      sheets.set(holder, sheet);
      document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
    }
    try {
      sheet.replaceSync(holder.textContent ?? '');
    } catch {
      // a rule the browser cannot parse: keep the previous text
    }
  }

  function forget(holder) {
    const sheet = sheets.get(holder);
    if (sheet === undefined) return;
    sheets.delete(holder);
    document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== sheet);
  }

  function visit(node, action) {
    if (!(node instanceof Element)) return;
    if (node.localName === INERT_TAG) action(node);
    for (const holder of node.querySelectorAll(INERT_TAG)) action(holder);
  }

  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.removedNodes) visit(node, forget);
      for (const node of record.addedNodes) visit(node, (holder) => holder.isConnected && sync(holder));
      const owner = record.target.nodeType === Node.TEXT_NODE ? record.target.parentElement : record.target;
      if (owner?.localName === INERT_TAG && owner.isConnected) sync(owner);
    }
  }).observe(document.documentElement, { subtree: true, childList: true, characterData: true });
}
