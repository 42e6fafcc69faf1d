import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createStorage, LocalStorage, S3Storage } from '../../services/asset/storage/index.ts';
import type { AssetStorage } from '../../services/asset/types.ts';
import { type FakeS3, startFakeS3, verifySigV4 } from '../fakes/s3.ts';

const ID = '5d0c6f4e-8a7b-4d8e-9a55-2b3c1f0e9d11';
const KEY = `generated/image/${ID}.png`;
const PREVIEW = `previews/${ID}.png`;
const BYTES = new Uint8Array(70_000).map((_, i) => (i * 31 + 7) % 256);
const SHA = createHash('sha256').update(BYTES).digest('hex');

async function readAll(body: ReadableStream<Uint8Array> | Uint8Array): Promise<Uint8Array> {
  return body instanceof Uint8Array ? body : new Uint8Array(await new Response(body).arrayBuffer());
}

let dir: string;
let fake: FakeS3;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'asset-storage-'));
  fake = startFakeS3({ buckets: ['gaia-assets', 'other'] });
});
afterAll(async () => {
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
});

const s3 = (over: Partial<ConstructorParameters<typeof S3Storage>[0]> = {}) =>
  new S3Storage({
    bucket: 'gaia-assets',
    endpoint: fake.url,
    region: fake.region,
    accessKeyId: fake.accessKeyId,
    secretAccessKey: fake.secretAccessKey,
    prefix: '/tenant-a/',
    forcePathStyle: true,
    ...over,
  });

const makers: Record<string, () => AssetStorage> = {
  local: () => new LocalStorage({ root: join(dir, 'root') }),
  s3: () => s3(),
};

for (const [name, make] of Object.entries(makers)) {
  describe(`${name} storage`, () => {
    test('put returns size, sha256 and content type; get returns the same bytes', async () => {
      const storage = make();
      const stored = await storage.put(KEY, BYTES, 'image/png');
      expect(stored).toEqual({ key: KEY, size: 70_000, sha256: SHA, contentType: 'image/png' });
      const got = await storage.get(KEY);
      expect(got?.size).toBe(70_000);
      expect(await readAll(got!.body)).toEqual(BYTES);
    });

    test('ranged reads are inclusive and report the full size', async () => {
      const storage = make();
      await storage.put(KEY, BYTES, 'image/png');
      const got = await storage.get(KEY, { start: 100, end: 199 });
      expect(got?.size).toBe(70_000);
      expect(await readAll(got!.body)).toEqual(BYTES.subarray(100, 200));
      const last = await storage.get(KEY, { start: 69_999, end: 69_999 });
      expect(await readAll(last!.body)).toEqual(BYTES.subarray(69_999));
    });

    test('exists, overwrite, delete; a missing object reads as null and deletes quietly', async () => {
      const storage = make();
      expect(await storage.exists(PREVIEW)).toBe(false);
      expect(await storage.get(PREVIEW)).toBeNull();
      await storage.put(PREVIEW, new Uint8Array([1, 2, 3]), 'image/png');
      expect(await storage.exists(PREVIEW)).toBe(true);
      await storage.put(PREVIEW, new Uint8Array([9]), 'image/png');
      expect(await readAll((await storage.get(PREVIEW))!.body)).toEqual(new Uint8Array([9]));
      await storage.delete(PREVIEW);
      expect(await storage.exists(PREVIEW)).toBe(false);
      expect(await storage.get(PREVIEW)).toBeNull();
      await storage.delete(PREVIEW);
    });

    test('keys that could escape the root or the prefix are refused', async () => {
      const storage = make();
      for (const bad of [
        '../x.png',
        'generated/../../x.png',
        '/abs.png',
        'a//b.png',
        'a\\b.png',
        '',
        'a/./b',
        'x\0.png',
      ]) {
        await expect(storage.put(bad, BYTES, 'image/png')).rejects.toThrow('Invalid storage key');
        await expect(storage.exists(bad)).rejects.toThrow('Invalid storage key');
      }
    });
  });
}

describe('local storage specifics', () => {
  test('files land under the root at the key, with no temp files left behind', async () => {
    const root = join(dir, 'specific');
    const storage = new LocalStorage({ root });
    await storage.put(KEY, BYTES, 'image/png');
    expect(new Uint8Array(readFileSync(join(root, KEY)))).toEqual(BYTES);
    expect(readdirSync(join(root, 'generated/image'))).toEqual([`${ID}.png`]);
    expect(storage.type).toBe('local');
    expect(storage.bucket).toBeNull();
  });

  test('a failed write leaves neither the target nor a temp file', async () => {
    const root = join(dir, 'failing');
    const storage = new LocalStorage({ root });
    // A directory where the file should go makes the rename fail after the temp file was written.
    await storage.put(`generated/image/${ID}.png/inner.png`, BYTES, 'image/png');
    await expect(storage.put(KEY, BYTES, 'image/png')).rejects.toThrow();
    expect(readdirSync(join(root, 'generated/image'))).toEqual([`${ID}.png`]);
    expect(await storage.exists(KEY)).toBe(false);
  });
});

describe('leftovers of interrupted writes', () => {
  test('sweepTemps removes temp files older than the cut-off, and nothing else', async () => {
    const root = join(dir, 'sweep');
    const storage = new LocalStorage({ root });
    await storage.put(KEY, BYTES, 'image/png');
    const uuid = () => crypto.randomUUID();
    const old = new Date(Date.now() - 2 * 3600_000);
    const stale = [`generated/image/${ID}.png.tmp-${uuid()}`, `previews/x.png.tmp-${uuid()}`];
    const recent = `generated/image/y.png.tmp-${uuid()}`;
    const lookalike = 'generated/image/z.png.tmp-not-a-uuid';
    for (const p of [...stale, recent, lookalike]) {
      mkdirSync(dirname(join(root, p)), { recursive: true });
      writeFileSync(join(root, p), 'half');
    }
    for (const p of [...stale, lookalike]) utimesSync(join(root, p), old, old);
    expect(await storage.sweepTemps(Date.now() - 3600_000)).toBe(2);
    for (const p of stale) expect(existsSync(join(root, p))).toBe(false);
    for (const p of [recent, lookalike, KEY]) expect(existsSync(join(root, p))).toBe(true);
    expect(new Uint8Array(readFileSync(join(root, KEY)))).toEqual(BYTES);
    // A root that does not exist yet has nothing to sweep.
    expect(await new LocalStorage({ root: join(dir, 'never') }).sweepTemps(Date.now())).toBe(0);
  });
});

describe('S3 storage specifics', () => {
  test('objects live under the prefix in the bucket, with their content type, signed requests only', async () => {
    const storage = s3();
    expect(storage.type).toBe('s3');
    expect(storage.bucket).toBe('gaia-assets');
    await storage.put(KEY, BYTES, 'image/png');
    const obj = fake.objects.get(`gaia-assets/tenant-a/${KEY}`);
    expect(obj?.contentType).toBe('image/png');
    expect(obj?.bytes).toEqual(BYTES);
    expect(fake.requests.every((r) => r.authorized)).toBe(true);
  });

  test('a ranged read sends a Range header to the bucket', async () => {
    const storage = s3();
    await storage.put(KEY, BYTES, 'image/png');
    const before = fake.requests.length;
    await readAll((await storage.get(KEY, { start: 0, end: 99 }))!.body);
    const sent = fake.requests.slice(before);
    expect(sent.map((r) => r.method)).toEqual(['HEAD', 'GET']);
    expect(sent[1]!.range).toBe('bytes=0-99');
  });

  test('keys with characters that need encoding still sign correctly', async () => {
    const storage = s3({ prefix: 'a b+c/ü' });
    await storage.put('generated/audio/x_y-1.2.mp3', BYTES.subarray(0, 10), 'audio/mpeg');
    expect(fake.objects.has('gaia-assets/a b+c/ü/generated/audio/x_y-1.2.mp3')).toBe(true);
    expect(await storage.exists('generated/audio/x_y-1.2.mp3')).toBe(true);
  });

  test('a wrong secret is rejected by the fake with SignatureDoesNotMatch and surfaces as an error', async () => {
    const storage = s3({ secretAccessKey: 'not-the-secret' });
    const err = await storage.put(KEY, BYTES, 'image/png').catch((e) => e);
    expect((err as { code?: string }).code).toBe('SignatureDoesNotMatch');
    expect(fake.requests.at(-1)).toMatchObject({ authorized: false, error: 'SignatureDoesNotMatch' });
    // A missing-object check must not be mistaken for "gone" when the credentials are wrong.
    await expect(storage.get(KEY)).rejects.toBeDefined();
  });

  test('an unknown access key and a missing bucket are S3 errors', async () => {
    const badKey = s3({ accessKeyId: 'AKIANOPE' });
    expect(((await badKey.put(KEY, BYTES, 'image/png').catch((e) => e)) as { code?: string }).code).toBe(
      'InvalidAccessKeyId',
    );
    const noBucket = s3({ bucket: 'missing' });
    expect(((await noBucket.put(KEY, BYTES, 'image/png').catch((e) => e)) as { code?: string }).code).toBe(
      'NoSuchBucket',
    );
  });

  test('the fake verifies SigV4 itself: a replayed request with a changed path or date fails', async () => {
    // Capture one genuine request from Bun's client, then tamper with it.
    let captured: { method: string; url: string; headers: Headers } | null = null;
    const spy = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch(req) {
        captured = { method: req.method, url: req.url, headers: req.headers };
        return new Response(null, { status: 200, headers: { etag: '"x"' } });
      },
    });
    try {
      const client = new Bun.S3Client({
        bucket: 'gaia-assets',
        endpoint: `http://127.0.0.1:${spy.port}`,
        region: fake.region,
        accessKeyId: fake.accessKeyId,
        secretAccessKey: fake.secretAccessKey,
        virtualHostedStyle: false,
      });
      await client.write('k/x.png', new Uint8Array([1]));
    } finally {
      spy.stop(true);
    }
    const c = captured!;
    const url = new URL(c.url);
    const base = { method: c.method, rawQuery: '', headers: c.headers, body: new Uint8Array([1]) };
    expect(verifySigV4({ ...base, rawPath: url.pathname }, fake)).toEqual({ ok: true });
    expect(verifySigV4({ ...base, rawPath: `${url.pathname}x` }, fake).code).toBe('SignatureDoesNotMatch');
    expect(verifySigV4({ ...base, method: 'DELETE', rawPath: url.pathname }, fake).code).toBe(
      'SignatureDoesNotMatch',
    );
    const later = new Date(Date.now() + 20 * 60_000);
    expect(verifySigV4({ ...base, rawPath: url.pathname }, fake, later).code).toBe('RequestTimeTooSkewed');
    const h = new Headers(c.headers);
    h.set(
      'x-amz-date',
      h
        .get('x-amz-date')!
        .replace(/\d\dZ$/, (s) => `${(Number(s.slice(0, 2)) + 1) % 60}`.padStart(2, '0') + 'Z'),
    );
    expect(verifySigV4({ ...base, headers: h, rawPath: url.pathname }, fake).code).toBe(
      'SignatureDoesNotMatch',
    );
  });
});

describe('createStorage', () => {
  test('builds the requested backend and refuses incomplete S3 settings', () => {
    const local = createStorage({ type: 'local', root: join(dir, 'cs') });
    expect(local.type).toBe('local');
    const remote = createStorage({
      type: 's3',
      bucket: 'gaia-assets',
      endpoint: fake.url,
      accessKeyId: 'a',
      secretAccessKey: 'b',
    });
    expect(remote).toBeInstanceOf(S3Storage);
    expect(remote.bucket).toBe('gaia-assets');
    expect(() => createStorage({ type: 's3', bucket: '', accessKeyId: 'a', secretAccessKey: '' })).toThrow(
      'bucket, secretAccessKey',
    );
    expect(existsSync(join(dir, 'cs'))).toBe(false);
  });
});
