/**
 * oidc-provider's Adapter over the storage repository (`storage.oidc`): codes, tokens, grants, sessions
 * and interactions live in the database, sealed, so they survive a restart and every instance sharing
 * the database sees them. Clients come from the configuration and are never stored.
 */
import type { OidcPayload, OidcRepository } from '../storage/oidc.ts';

/** The class oidc-provider instantiates once per model name. */
export interface AdapterInstance {
  upsert(id: string, payload: OidcPayload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<OidcPayload | undefined>;
  findByUserCode(userCode: string): Promise<OidcPayload | undefined>;
  findByUid(uid: string): Promise<OidcPayload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

export function storageAdapter(repo: OidcRepository, now: () => number): new (model: string) => AdapterInstance {
  return class StorageAdapter implements AdapterInstance {
    readonly model: string;
    constructor(model: string) {
      this.model = model;
    }
    upsert(id: string, payload: OidcPayload, expiresIn?: number) {
      return repo.upsert(this.model, id, payload, expiresIn, now());
    }
    find(id: string) {
      return repo.find(this.model, id, now());
    }
    findByUserCode(userCode: string) {
      return repo.findByUserCode(this.model, userCode, now());
    }
    findByUid(uid: string) {
      return repo.findByUid(this.model, uid, now());
    }
    consume(id: string) {
      return repo.consume(this.model, id, now());
    }
    destroy(id: string) {
      return repo.destroy(this.model, id);
    }
    async revokeByGrantId(grantId: string) {
      await repo.revokeByGrantId(grantId);
    }
  };
}
