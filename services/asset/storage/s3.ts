/**
 * Objects in an S3-compatible bucket (AWS S3, R2, MinIO, Supabase S3) through Bun's built-in client. Files are
 * uploaded whole, so an object either exists complete or not at all, and downloads stream through Gaia.
 */
import { createHash } from 'node:crypto';
import type { AssetStorage, StoredObject } from '../types.ts';
import { assertKey } from './keys.ts';

export interface S3StorageOptions {
  bucket: string;
  /** e.g. `https://<account>.r2.cloudflarestorage.com` or a MinIO URL; AWS when unset. */
  endpoint?: string;
  region?: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Prepended to every key (`prefix/` + key); slashes at either end are tidied. */
  prefix?: string;
  /** Path-style addressing (`endpoint/bucket/key`), which MinIO and most self-hosted stores need. */
  forcePathStyle?: boolean;
}

function s3Code(err: unknown): string | undefined {
  return (err as { code?: string } | null)?.code;
}

const isMissing = (err: unknown): boolean => {
  const code = s3Code(err);
  return code === 'NoSuchKey' || code === 'NotFound' || code === 'ERR_S3_FILE_NOT_FOUND';
};

export class S3Storage implements AssetStorage {
  readonly type = 's3' as const;
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: Bun.S3Client;

  constructor(opts: S3StorageOptions) {
    if (!opts.bucket) throw new Error('S3 storage needs a bucket');
    this.bucket = opts.bucket;
    const prefix = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.prefix = prefix ? `${prefix}/` : '';
    this.client = new Bun.S3Client({
      bucket: opts.bucket,
      endpoint: opts.endpoint || undefined,
      region: opts.region || undefined,
      accessKeyId: opts.accessKeyId,
      secretAccessKey: opts.secretAccessKey,
      virtualHostedStyle: !opts.forcePathStyle,
    });
  }

  /** The object name in the bucket for a storage key. */
  objectKey(key: string): string {
    return this.prefix + assertKey(key);
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<StoredObject> {
    await this.client.write(this.objectKey(key), bytes, { type: contentType });
    return {
      key,
      size: bytes.byteLength,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      contentType,
    };
  }

  /**
   * A HEAD first tells a missing object apart before any byte is promised to the client (the caller answers 410),
   * and gives the full size; the body is then streamed with a ranged GET when a range is asked for.
   */
  async get(
    key: string,
    range?: { start: number; end: number },
  ): Promise<{ body: ReadableStream<Uint8Array>; size: number } | null> {
    const file = this.client.file(this.objectKey(key));
    let size: number;
    try {
      size = (await file.stat()).size;
    } catch (err) {
      if (isMissing(err)) return null;
      throw err;
    }
    const body = range ? file.slice(range.start, range.end + 1).stream() : file.stream();
    return { body, size };
  }

  async exists(key: string): Promise<boolean> {
    return this.client.exists(this.objectKey(key));
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.delete(this.objectKey(key));
    } catch (err) {
      if (!isMissing(err)) throw err;
    }
  }
}
