/**
 * The dashboard's tabs, following the WAI-ARIA tabs pattern: one tab in the tab order, arrow keys,
 * Home and End move between tabs and activate them. The open tab is kept in the URL fragment
 * (#security) so a reload returns to it.
 */

/**
 * `onChange(name, previous)` runs after a tab opens; tabs are named by their id without "tab-".
 * Returns `{ select(name), current() }`.
 */
export function setUpTabs(tablist, onChange) {
  const tabs = [...tablist.querySelectorAll('[role="tab"]')];
  const nameOf = (tab) => tab.id.replace(/^tab-/, '');
  let current = null;

  /** Opens a tab; `reopen` runs onChange even when it is already open (a new sign-in). */
  function select(name, { focus = false, reopen = false } = {}) {
    const target = tabs.find((tab) => nameOf(tab) === name) ?? tabs[0];
    const previous = current;
    for (const tab of tabs) {
      const selected = tab === target;
      tab.setAttribute('aria-selected', String(selected));
      tab.tabIndex = selected ? 0 : -1;
      const panel = document.getElementById(tab.getAttribute('aria-controls'));
      if (panel) panel.hidden = !selected;
    }
    if (focus) target.focus();
    current = nameOf(target);
    if (location.hash !== `#${current}`) history.replaceState(null, '', `#${current}`);
    if (previous !== current || reopen) onChange(current, previous);
  }

  tablist.addEventListener('click', (event) => {
    const tab = event.target.closest('[role="tab"]');
    if (tab) select(nameOf(tab));
  });

  tablist.addEventListener('keydown', (event) => {
    const index = tabs.indexOf(document.activeElement);
    if (index === -1) return;
    let next = null;
    if (event.key === 'ArrowRight') next = (index + 1) % tabs.length;
    else if (event.key === 'ArrowLeft') next = (index - 1 + tabs.length) % tabs.length;
    else if (event.key === 'Home') next = 0;
    else if (event.key === 'End') next = tabs.length - 1;
    if (next === null) return;
    event.preventDefault();
    select(nameOf(tabs[next]), { focus: true });
  });

  return {
    select,
    current: () => current,
    /** The tab named in the URL fragment, if it is one of ours. */
    fromLocation: () => {
      const name = location.hash.slice(1);
      return tabs.some((tab) => nameOf(tab) === name) ? name : nameOf(tabs[0]);
    },
  };
}
