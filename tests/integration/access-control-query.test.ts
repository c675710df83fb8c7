/**
 * Through forward auth: a rule with a `query` criterion (and an RE2-only `resources` pattern, as
 * Authelia configurations write them) opens or keeps closed a target by its query string.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { askAuthz, startInProcessGateway, type InProcessGateway } from '../helpers/inprocess-gateway.ts';

describe('access_control query criterion via forward auth', () => {
  let gw: InProcessGateway;
  before(async () => {
    gw = await startInProcessGateway({
      config: {
        access_control: {
          default_policy: 'deny',
          rules: [
            {
              domain: ['share.example.test'],
              resources: ['^/files\\-v1/[[:alnum:]]+(\\?|\\z)'], // resources see path and ?query, as in Authelia
              query: [
                [{ key: 'share', operator: 'present' }, { key: 'token', value: '^[a-f0-9]{8}$', operator: 'pattern' }],
                [{ key: 'public', value: 'yes' }],
              ],
              policy: 'bypass',
            },
          ],
        },
      },
    });
  });
  after(() => gw.close());

  const cases: [string, number][] = [
    ['https://share.example.test/files-v1/report?share&token=deadbeef', 200],
    ['https://share.example.test/files-v1/report?public=yes', 200],
    ['https://share.example.test/files-v1/report?public=yes&public=no', 200],
    ['https://share.example.test/files-v1/report?public=no&public=yes', 403],
    ['https://share.example.test/files-v1/report?share&token=DEADBEEF', 403],
    ['https://share.example.test/files-v1/report?token=deadbeef', 403],
    ['https://share.example.test/files-v1/report', 403],
    ['https://share.example.test/files-v1/a/b?public=yes', 403],
  ];
  for (const [target, status] of cases) {
    it(`${target} → ${status}`, async () => {
      const answer = await askAuthz(gw, 'auth-request', target);
      assert.equal(answer.status, status);
    });
  }
});
