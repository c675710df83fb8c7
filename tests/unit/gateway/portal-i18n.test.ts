// The portal's two catalogues say the same things, and the language is chosen as a visitor expects:
// ?lang= (remembered), then the cookie, then Accept-Language, then English.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Request, Response } from 'express';
import { fromAcceptLanguage, LANGUAGE_COOKIE, portalCatalogue, portalLanguage, translator } from '../../../gateway/portal/i18n.ts';

describe('portal catalogues', () => {
  it('English and Spanish have the same keys, each a non-empty string with the same placeholders', () => {
    const en = portalCatalogue('en');
    const es = portalCatalogue('es');
    assert.deepEqual(Object.keys(es).sort(), Object.keys(en).sort());
    const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    for (const key of Object.keys(en)) {
      assert.ok(en[key]!.trim() && es[key]!.trim(), key);
      assert.deepEqual(placeholders(es[key]!), placeholders(en[key]!), `placeholders of ${key}`);
    }
  });

  it('t() fills placeholders and refuses a key that is not in the catalogue', () => {
    const t = translator('es');
    assert.equal(t('language_name'), 'Español');
    assert.throws(() => t('no_such_key'), /no string 'no_such_key'/);
  });
});

describe('portal language', () => {
  it('Accept-Language: the first of ours by weight; none of ours → null', () => {
    assert.equal(fromAcceptLanguage('es-ES,es;q=0.9,en;q=0.8'), 'es');
    assert.equal(fromAcceptLanguage('fr-FR,fr;q=0.9,en;q=0.5,es;q=0.4'), 'en');
    assert.equal(fromAcceptLanguage('en;q=0.2, es;q=0.9'), 'es');
    assert.equal(fromAcceptLanguage('de, fr'), null);
    assert.equal(fromAcceptLanguage('es;q=0'), null);
    assert.equal(fromAcceptLanguage(undefined), null);
  });

  const request = (query: Record<string, string>, headers: Record<string, string>) => ({ query, headers }) as unknown as Request;
  const response = () => {
    const set: unknown[][] = [];
    return { set, res: { cookie: (...args: unknown[]) => void set.push(args) } as unknown as Response };
  };

  it('?lang= wins and is remembered in a cookie; an unknown ?lang= is ignored', () => {
    const { set, res } = response();
    assert.equal(portalLanguage(request({ lang: 'es' }, { 'accept-language': 'en' }), res), 'es');
    assert.equal(set[0]?.[0], LANGUAGE_COOKIE);
    assert.equal(set[0]?.[1], 'es');
    const other = response();
    assert.equal(portalLanguage(request({ lang: 'xx' }, { 'accept-language': 'es' }), other.res), 'es');
    assert.equal(other.set.length, 0);
  });

  it('the cookie before Accept-Language, English when neither names one of ours', () => {
    assert.equal(portalLanguage(request({}, { cookie: `a=b; ${LANGUAGE_COOKIE}=es`, 'accept-language': 'en' }), response().res), 'es');
    assert.equal(portalLanguage(request({}, { cookie: `${LANGUAGE_COOKIE}=zz`, 'accept-language': 'de' }), response().res), 'en');
  });
});
