export { openStorage, migrateStorage } from './open.ts';
export type { OpenStorageContext } from './open.ts';
export { Storage } from './storage.ts';
export { StorageError } from './errors.ts';
export type { StorageErrorCode } from './errors.ts';
export { deriveKeys, MIN_ENCRYPTION_KEY_LENGTH } from './encryption.ts';
export type { StorageKeys } from './encryption.ts';
export type { StorageOptions, LocalStorageOptions, PostgresStorageOptions } from './options.ts';
export type * from './types.ts';
