// The lockout answer in each language: minutes rounded up, one minute said as such, an open-ended ban
// without a number. English stays the words the integration tests and operators know.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lockoutMessage } from '../../../gateway/portal/pages.ts';
import { translator } from '../../../gateway/portal/i18n.ts';

describe('lockoutMessage', () => {
  it('English by default', () => {
    assert.equal(lockoutMessage(300), 'Too many attempts: try again in 5 minutes.');
    assert.equal(lockoutMessage(30), 'Too many attempts: try again in 1 minute.');
    assert.equal(lockoutMessage(undefined), 'Too many attempts: try again later.');
  });

  it('Spanish with the Spanish catalogue', () => {
    const es = translator('es');
    assert.equal(lockoutMessage(241, es), 'Demasiados intentos: inténtelo de nuevo dentro de 5 minutos.');
    assert.equal(lockoutMessage(1, es), 'Demasiados intentos: inténtelo de nuevo dentro de 1 minuto.');
    assert.equal(lockoutMessage(undefined, es), 'Demasiados intentos: inténtelo de nuevo más tarde.');
  });
});
