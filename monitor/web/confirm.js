/** An accessible "are you sure?" question in a modal <dialog> (focus is kept inside, Escape cancels). */
import { byId } from './dom.js';

/** Resolves true when the user confirms, false on Cancel or Escape. */
export function confirmAction({ title, text, confirmLabel }) {
  const dialog = byId('confirm-dialog');
  byId('confirm-title').textContent = title;
  byId('confirm-text').textContent = text;
  byId('confirm-yes').textContent = confirmLabel;
  const opener = document.activeElement;
  return new Promise((resolve) => {
    dialog.returnValue = '';
    dialog.addEventListener(
      'close',
      () => {
        if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
        resolve(dialog.returnValue === 'confirm');
      },
      { once: true },
    );
    dialog.showModal();
  });
}
