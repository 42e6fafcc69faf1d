import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { contentTypeFor, parseRange, serveObject } from '../../services/asset/downloads/serve.ts';
import { linkFor, signLink, verifyLink } from '../../services/asset/downloads/signing.ts';
import { LocalStorage } from '../../services/asset/storage/local.ts';
import { S3Storage } from '../../services/asset/storage/s3.ts';
import type { AssetStorage } from '../../services/asset/types.ts';
import { type FakeS3, startFakeS3 } from '../fakes/s3.ts';

const SECRET = 'test-link-secret';
const ID = '5d0c6f4e-8a7b-4d8e-9a55-2b3c1f0e9d11';
const OTHER = '0c4e1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b';

describe('signed links', () => {
  const now = Date.UTC(2026, 0, 1, 12, 0, 0);

  test('linkFor builds a Gaia URL whose exp and sig verify', () => {
    const url = new URL(linkFor('http://localhost:8666/', 'file', ID, 3600, SECRET, now));
    expect(url.origin + url.pathname).toBe(`http://localhost:8666/api/v1/assets/${ID}/file`);
    const exp = url.searchParams.get('exp')!;
    expect(Number(exp)).toBe(now / 1000 + 3600);
    const sig = url.searchParams.get('sig')!;
    expect(sig).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(verifyLink('file', ID, exp, sig, SECRET, now)).toBe(true);
  });

  test('the signature is base64url HMAC-SHA256 of kind:id:exp', async () => {
    const { createHmac } = await import('node:crypto');
    const expected = createHmac('sha256', SECRET).update(`preview:${ID}:1765540800`).digest('base64url');
    expect(signLink('preview', ID, 1765540800, SECRET)).toBe(expected);
  });

  test('tampering is refused: changed exp, changed sig, past exp, other asset, other kind, other secret', () => {
    const url = new URL(linkFor('http://gaia.test', 'file', ID, 600, SECRET, now));
    const exp = url.searchParams.get('exp')!;
    const sig = url.searchParams.get('sig')!;
    expect(verifyLink('file', ID, String(Number(exp) + 1), sig, SECRET, now)).toBe(false);
    const flipped = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
    expect(verifyLink('file', ID, exp, flipped, SECRET, now)).toBe(false);
    expect(verifyLink('file', ID, exp, sig, SECRET, now + 601_000)).toBe(false);
    const otherSig = signLink('file', OTHER, Number(exp), SECRET);
    expect(verifyLink('file', ID, exp, otherSig, SECRET, now)).toBe(false);
    expect(verifyLink('preview', ID, exp, sig, SECRET, now)).toBe(false);
    expect(verifyLink('file', ID, exp, sig, 'another-secret', now)).toBe(false);
  });

  test('a validly signed but already expired link is refused', () => {
    const past = Math.floor(now / 1000) - 10;
    expect(verifyLink('file', ID, String(past), signLink('file', ID, past, SECRET), SECRET, now)).toBe(false);
  });

  test('odd exp spellings and missing values are refused without throwing', () => {
    const exp = Math.floor(now / 1000) + 100;
    const sig = signLink('file', ID, exp, SECRET);
    for (const bad of [`+${exp}`, `${exp}.0`, ` ${exp}`, `${exp / 1000}e3`, '', 'abc']) {
      expect(verifyLink('file', ID, bad, sig, SECRET, now)).toBe(false);
    }
    expect(verifyLink('file', ID, null, sig, SECRET, now)).toBe(false);
    expect(verifyLink('file', ID, String(exp), null, SECRET, now)).toBe(false);
    expect(verifyLink('file', ID, String(exp), `${sig}x`, SECRET, now)).toBe(false);
  });
});

describe('parseRange', () => {
  test('forms', () => {
    expect(parseRange(null, 1000)).toEqual({ kind: 'none' });
    expect(parseRange('bytes=0-99', 1000)).toEqual({ kind: 'range', start: 0, end: 99 });
    expect(parseRange('bytes=900-', 1000)).toEqual({ kind: 'range', start: 900, end: 999 });
    expect(parseRange('bytes=-10', 1000)).toEqual({ kind: 'range', start: 990, end: 999 });
    expect(parseRange('bytes=-5000', 1000)).toEqual({ kind: 'range', start: 0, end: 999 });
    expect(parseRange('bytes=990-5000', 1000)).toEqual({ kind: 'range', start: 990, end: 999 });
    expect(parseRange('bytes=999999999-', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=1000-1000', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=-0', 1000)).toEqual({ kind: 'unsatisfiable' });
    expect(parseRange('bytes=0-0', 0)).toEqual({ kind: 'unsatisfiable' });
    // Ignored (whole file): malformed, multi-range, reversed.
    expect(parseRange('items=0-5', 1000)).toEqual({ kind: 'none' });
    expect(parseRange('bytes=0-5,10-20', 1000)).toEqual({ kind: 'none' });
    expect(parseRange('bytes=50-10', 1000)).toEqual({ kind: 'none' });
  });

  test('content types by format', () => {
    expect(contentTypeFor('png')).toBe('image/png');
    expect(contentTypeFor('glb')).toBe('model/gltf-binary');
    expect(contentTypeFor('usdz')).toBe('model/vnd.usdz+zip');
    expect(contentTypeFor('fbx')).toBe('application/octet-stream');
    expect(contentTypeFor('mp3')).toBe('audio/mpeg');
    expect(contentTypeFor('OGG')).toBe('audio/ogg');
  });
});

const BYTES = new Uint8Array(5000).map((_, i) => (i * 7 + 3) % 256);
const SHA = createHash('sha256').update(BYTES).digest('hex');
const KEY = `generated/prop/${ID}.glb`;

let dir: string;
let fakeS3: FakeS3;
const backends: Record<string, () => AssetStorage> = {};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'asset-dl-'));
  fakeS3 = startFakeS3();
  const local = new LocalStorage({ root: dir });
  const s3 = new S3Storage({
    bucket: 'gaia-assets',
    endpoint: fakeS3.url,
    region: fakeS3.region,
    accessKeyId: fakeS3.accessKeyId,
    secretAccessKey: fakeS3.secretAccessKey,
    prefix: 'gaia',
    forcePathStyle: true,
  });
  backends.local = () => local;
  backends.s3 = () => s3;
});

afterAll(async () => {
  await fakeS3.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** The responses go through a real HTTP server so header handling (HEAD, lengths, streaming) is what clients see. */
async function withServer<T>(storage: AssetStorage, fn: (base: string) => Promise<T>): Promise<T> {
  const meta = {
    key: KEY,
    size: BYTES.byteLength,
    sha256: SHA,
    contentType: 'model/gltf-binary',
    fileName: `${ID}.glb`,
  };
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    fetch: (req) => serveObject(req, storage, meta),
  });
  try {
    return await fn(`http://127.0.0.1:${server.port}/file`);
  } finally {
    server.stop(true);
  }
}

for (const name of ['local', 's3']) {
  describe(`serveObject over ${name} storage`, () => {
    test('200 with the exact headers and the bytes', async () => {
      const storage = backends[name]!();
      await storage.put(KEY, BYTES, 'model/gltf-binary');
      await withServer(storage, async (url) => {
        const res = await fetch(url);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toBe('model/gltf-binary');
        expect(res.headers.get('content-length')).toBe('5000');
        expect(res.headers.get('etag')).toBe(`"${SHA}"`);
        expect(res.headers.get('cache-control')).toBe('private, max-age=3600');
        expect(res.headers.get('content-disposition')).toBe(`inline; filename="${ID}.glb"`);
        expect(res.headers.get('x-content-type-options')).toBe('nosniff');
        expect(res.headers.get('accept-ranges')).toBe('bytes');
        expect(new Uint8Array(await res.arrayBuffer())).toEqual(BYTES);
      });
    });

    test('Range bytes=0-99 → 206 with 100 bytes; suffix and open ranges', async () => {
      const storage = backends[name]!();
      await storage.put(KEY, BYTES, 'model/gltf-binary');
      await withServer(storage, async (url) => {
        let res = await fetch(url, { headers: { range: 'bytes=0-99' } });
        expect(res.status).toBe(206);
        expect(res.headers.get('content-range')).toBe('bytes 0-99/5000');
        expect(res.headers.get('content-length')).toBe('100');
        expect(new Uint8Array(await res.arrayBuffer())).toEqual(BYTES.subarray(0, 100));

        res = await fetch(url, { headers: { range: 'bytes=4990-' } });
        expect(res.status).toBe(206);
        expect(res.headers.get('content-range')).toBe('bytes 4990-4999/5000');
        expect(new Uint8Array(await res.arrayBuffer())).toEqual(BYTES.subarray(4990));

        res = await fetch(url, { headers: { range: 'bytes=-3' } });
        expect(new Uint8Array(await res.arrayBuffer())).toEqual(BYTES.subarray(4997));

        // If-Range with a stale validator gets the whole file instead of a mismatched piece.
        res = await fetch(url, { headers: { range: 'bytes=0-9', 'if-range': '"old"' } });
        expect(res.status).toBe(200);
        expect((await res.arrayBuffer()).byteLength).toBe(5000);
      });
    });

    test('Range bytes=999999999- → 416 with Content-Range */size', async () => {
      const storage = backends[name]!();
      await storage.put(KEY, BYTES, 'model/gltf-binary');
      await withServer(storage, async (url) => {
        const res = await fetch(url, { headers: { range: 'bytes=999999999-' } });
        expect(res.status).toBe(416);
        expect(res.headers.get('content-range')).toBe('bytes */5000');
      });
    });

    test('If-None-Match with the ETag → 304 without a body; another tag → 200', async () => {
      const storage = backends[name]!();
      await storage.put(KEY, BYTES, 'model/gltf-binary');
      await withServer(storage, async (url) => {
        let res = await fetch(url, { headers: { 'if-none-match': `"${SHA}"` } });
        expect(res.status).toBe(304);
        expect(res.headers.get('etag')).toBe(`"${SHA}"`);
        expect((await res.arrayBuffer()).byteLength).toBe(0);
        res = await fetch(url, { headers: { 'if-none-match': `"nope", W/"${SHA}"` } });
        expect(res.status).toBe(304);
        res = await fetch(url, { headers: { 'if-none-match': '"nope"' } });
        expect(res.status).toBe(200);
        await res.arrayBuffer();
      });
    });

    test('HEAD gives the headers and no body', async () => {
      const storage = backends[name]!();
      await storage.put(KEY, BYTES, 'model/gltf-binary');
      await withServer(storage, async (url) => {
        const res = await fetch(url, { method: 'HEAD' });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-length')).toBe('5000');
        expect(res.headers.get('etag')).toBe(`"${SHA}"`);
        expect(res.headers.get('content-type')).toBe('model/gltf-binary');
        expect((await res.arrayBuffer()).byteLength).toBe(0);
        const ranged = await fetch(url, { method: 'HEAD', headers: { range: 'bytes=0-99' } });
        expect(ranged.status).toBe(206);
        expect(ranged.headers.get('content-length')).toBe('100');
      });
    });

    test('a file that disappeared → 410 for GET, HEAD, ranges and conditional requests', async () => {
      const storage = backends[name]!();
      await storage.put(KEY, BYTES, 'model/gltf-binary');
      if (name === 'local') unlinkSync(join(dir, KEY));
      else fakeS3.objects.delete(`gaia-assets/gaia/${KEY}`);
      await withServer(storage, async (url) => {
        const res = await fetch(url);
        expect(res.status).toBe(410);
        expect(await res.text()).toBe('{"detail":"Asset file is no longer available"}');
        expect((await fetch(url, { method: 'HEAD' })).status).toBe(410);
        expect((await fetch(url, { headers: { range: 'bytes=0-99' } })).status).toBe(410);
        expect((await fetch(url, { headers: { range: 'bytes=999999999-' } })).status).toBe(410);
        expect((await fetch(url, { headers: { 'if-none-match': `"${SHA}"` } })).status).toBe(410);
      });
    });
  });
}

describe('large remote objects', () => {
  test('above the buffering limit the S3 body is streamed (and still byte-exact)', async () => {
    const storage = backends.s3!();
    await storage.put(KEY, BYTES, 'model/gltf-binary');
    const meta = {
      key: KEY,
      size: 5000,
      sha256: SHA,
      contentType: 'model/gltf-binary',
      fileName: `${ID}.glb`,
    };
    const server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch: (req) => serveObject(req, storage, meta, { bufferUpToBytes: 1000 }),
    });
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/`, { headers: { range: 'bytes=10-4009' } });
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe('bytes 10-4009/5000');
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(BYTES.subarray(10, 4010));
      // The fake saw a ranged GET, so only the asked bytes travelled from the bucket.
      expect(fakeS3.requests.at(-1)).toMatchObject({
        method: 'GET',
        range: 'bytes=10-4009',
        authorized: true,
      });
    } finally {
      server.stop(true);
    }
  });
});

test('linkFor accepts a Date as well as epoch milliseconds', () => {
  const at = new Date(Date.UTC(2026, 5, 1));
  expect(linkFor('http://g', 'preview', ID, 60, SECRET, at)).toBe(
    linkFor('http://g', 'preview', ID, 60, SECRET, at.getTime()),
  );
});
