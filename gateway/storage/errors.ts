import { GatehouseError } from '../../lib/errors.ts';

export type StorageErrorCode =
  | 'invalid_options'
  | 'encryption_key_too_short'
  | 'encryption_key_mismatch'
  | 'open_failed'
  | 'unreachable'
  | 'migrations_pending'
  | 'migration_failed'
  | 'schema_too_new'
  | 'query_failed'
  | 'decryption_failed'
  | 'closed';

/**
 * Anything the storage layer refuses or fails to do. The message is fit for the operator and never
 * carries SQL; the driver's error (with the statement) stays in `cause` for the logs.
 */
export class StorageError extends GatehouseError {
  declare readonly code: StorageErrorCode;
  constructor(code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
