/**
 * The first-run setup form says why the administrator was not created in words written for the
 * person at the form: a bad name as its check wrote it, a known code as its sentence, and anything
 * else as one generic sentence, its text kept for the log.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Request, Response } from 'express';
import { Eta } from 'eta';
import { setupForm } from '../../../gateway/portal/pages.ts';
import type { PortalDeps } from '../../../gateway/portal/deps.ts';
import { InvalidUserInputError, UserExistsError, UsersFileError } from '../../../gateway/users/errors.ts';
import { captureLogs, LEVEL } from '../../helpers/logs.ts';
import { repoPath } from '../../helpers/repo.ts';

const PASSWORD = 'long enough password';

/** POSTs the setup form with a valid link to a portal whose createAdmin throws `error`. */
async function submitWith(error: unknown): Promise<{ status: number; body: string; logs: ReturnType<typeof captureLogs> }> {
  const logs = captureLogs();
  const deps = {
    eta: new Eta({ views: repoPath('templates', 'portal'), cache: true, autoEscape: true }),
    logger: logs.logger,
    setup: { check: async () => true, createAdmin: async () => Promise.reject(error) },
  } as unknown as PortalDeps;
  const req = { baseUrl: '', body: { token: 't', username: 'root', displayName: '', email: '', password: PASSWORD, confirm: PASSWORD } } as unknown as Request;
  const answer = { status: 0, body: '' };
  const res = {
    req,
    status(code: number) {
      answer.status = code;
      return res;
    },
    type: () => res,
    send(body: string) {
      answer.body = body;
      return res;
    },
  } as unknown as Response;
  await setupForm(deps)(req, res);
  return { ...answer, logs };
}

/** The text of the form's alert. */
function alertOf(body: string): string {
  const match = /role="alert"[^>]*>([^<]*)</.exec(body);
  assert.ok(match, 'the form shows an alert');
  return match[1]!;
}

describe('setup form: why the administrator was not created, in words for people', () => {
  it('an unexpected exception shows the generic sentence, never its text; the text goes to the log', async () => {
    const { status, body, logs } = await submitWith(new TypeError("Cannot read properties of undefined (reading 'users') at /srv/gatehouse/internal.ts"));
    assert.equal(status, 400);
    assert.equal(alertOf(body), 'The administrator could not be created; the Gatehouse log says why.');
    assert.doesNotMatch(body, /Cannot read properties|internal\.ts/);
    const logged = logs.records.find((record) => record.level === LEVEL.error);
    assert.match(JSON.stringify(logged?.['err']), /Cannot read properties/);
  });

  it("an operating-system error (an unwritable users file) shows the generic sentence, not the errno or the path", async () => {
    const denied = Object.assign(new Error("EACCES: permission denied, open '/etc/gatehouse/users.yml.tmp'"), { code: 'EACCES' });
    const { body } = await submitWith(denied);
    assert.equal(alertOf(body), 'The administrator could not be created; the Gatehouse log says why.');
    assert.doesNotMatch(body, /EACCES|\/etc\/gatehouse/);
  });

  it('a bad username shows the sentence its check wrote for people, and is not logged as an error', async () => {
    const { body, logs } = await submitWith(new InvalidUserInputError("invalid username 'a b': use 1–64 letters, digits, '.', '_', '@' or '-'"));
    assert.equal(alertOf(body), "invalid username &#39;a b&#39;: use 1–64 letters, digits, &#39;.&#39;, &#39;_&#39;, &#39;@&#39; or &#39;-&#39;");
    assert.equal(logs.records.filter((record) => record.level >= LEVEL.error).length, 0);
  });

  it("a known code shows its sentence: a taken name, an unusable users file (whose path stays in the log)", async () => {
    assert.equal(alertOf((await submitWith(new UserExistsError('root'))).body), 'That username is taken; choose another.');
    const unusable = await submitWith(new UsersFileError('/etc/gatehouse/users.yml', ['users.bob.password: malformed']));
    assert.equal(alertOf(unusable.body), 'The users file cannot be used, so the administrator was not created; the Gatehouse log says why.');
    assert.doesNotMatch(unusable.body, /\/etc\/gatehouse/);
  });
});
