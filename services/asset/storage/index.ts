/** Picks the storage backend from plain options (the service's configuration maps its settings onto these). */
import type { AssetStorage } from '../types.ts';
import { LocalStorage, type LocalStorageOptions } from './local.ts';
import { S3Storage, type S3StorageOptions } from './s3.ts';

export type StorageOptions = ({ type: 'local' } & LocalStorageOptions) | ({ type: 's3' } & S3StorageOptions);

export function createStorage(opts: StorageOptions): AssetStorage {
  if (opts.type === 's3') {
    const missing = (['bucket', 'accessKeyId', 'secretAccessKey'] as const).filter((k) => !opts[k]);
    if (missing.length) throw new Error(`S3 storage is missing: ${missing.join(', ')}`);
    return new S3Storage(opts);
  }
  return new LocalStorage(opts);
}

export { assertKey } from './keys.ts';
export { LocalStorage, type LocalStorageOptions } from './local.ts';
export { S3Storage, type S3StorageOptions } from './s3.ts';
