import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { repoPath } from '../helpers/repo.ts';

const remoteHeaders = ['Remote-User', 'Remote-Groups', 'Remote-Name', 'Remote-Email'];

interface ForwardAuth {
  address?: unknown;
  trustForwardHeader?: unknown;
  authResponseHeaders?: unknown;
}

async function loadYaml(file: string): Promise<unknown> {
  return parse(await readFile(repoPath('traefik', file), 'utf8'));
}

/** The dynamic-config middleware `http.middlewares.gatehouse.forwardAuth` of traefik/gatehouse.yml. */
async function fileProviderMiddleware(): Promise<{ forwardAuth: ForwardAuth; routers: Record<string, { middlewares?: string[]; rule?: string }> }> {
  const config = (await loadYaml('gatehouse.yml')) as {
    http: { middlewares: { gatehouse: { forwardAuth: ForwardAuth } }; routers: Record<string, { middlewares?: string[]; rule?: string }> };
  };
  return { forwardAuth: config.http.middlewares.gatehouse.forwardAuth, routers: config.http.routers };
}

/** Every `traefik.*` label of every service in traefik/labels.example.yml, keys lower-cased (Traefik's labels are case-insensitive). */
async function dockerLabels(): Promise<Map<string, string>> {
  const compose = (await loadYaml('labels.example.yml')) as { services: Record<string, { labels?: string[] | Record<string, string> }> };
  const labels = new Map<string, string>();
  for (const service of Object.values(compose.services)) {
    const entries = Array.isArray(service.labels)
      ? service.labels.map((label) => {
          const equals = label.indexOf('=');
          return [label.slice(0, equals), label.slice(equals + 1)] as const;
        })
      : Object.entries(service.labels ?? {});
    for (const [key, value] of entries) labels.set(key.toLowerCase(), String(value));
  }
  return labels;
}

describe('traefik/gatehouse.yml forwardAuth middleware', () => {
  it('asks the forward-auth endpoint (Traefik dialect: X-Forwarded-*)', async () => {
    const { forwardAuth } = await fileProviderMiddleware();
    assert.equal(typeof forwardAuth.address, 'string');
    assert.equal(new URL(forwardAuth.address as string).pathname, '/api/authz/forward-auth');
  });

  it('passes the entry point’s X-Forwarded-* headers on (Gatehouse builds the target URL from them)', async () => {
    const { forwardAuth } = await fileProviderMiddleware();
    assert.equal(forwardAuth.trustForwardHeader, true);
  });

  it('copies exactly the four Remote-* headers to the app', async () => {
    const { forwardAuth } = await fileProviderMiddleware();
    assert.deepEqual(forwardAuth.authResponseHeaders, remoteHeaders);
  });

  it('protects the example app but not the portal (which would redirect to itself)', async () => {
    const { routers } = await fileProviderMiddleware();
    assert.deepEqual(routers['app']?.middlewares, ['gatehouse']);
    assert.equal(routers['gatehouse-portal']?.middlewares, undefined);
  });
});

describe('traefik/labels.example.yml declares the same middleware as gatehouse.yml', () => {
  const prefix = 'traefik.http.middlewares.gatehouse.forwardauth.';

  it('has the same address', async () => {
    const [{ forwardAuth }, labels] = await Promise.all([fileProviderMiddleware(), dockerLabels()]);
    assert.equal(labels.get(`${prefix}address`), forwardAuth.address);
  });

  it('trusts forwarded headers', async () => {
    const labels = await dockerLabels();
    assert.equal(labels.get(`${prefix}trustforwardheader`), 'true');
  });

  it('copies exactly the four Remote-* headers', async () => {
    const labels = await dockerLabels();
    assert.deepEqual(labels.get(`${prefix}authresponseheaders`)?.split(',').map((name) => name.trim()), remoteHeaders);
  });

  it('protects the example app but not the portal', async () => {
    const labels = await dockerLabels();
    assert.equal(labels.get('traefik.http.routers.app.middlewares'), 'gatehouse@docker');
    assert.equal(labels.get('traefik.http.routers.gatehouse-portal.middlewares'), undefined);
  });
});
