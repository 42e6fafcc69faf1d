import { describe, expect, test } from 'bun:test';
import { inflateSync } from 'node:zlib';
import { PNG } from 'pngjs';
import {
  LocalImageAdapter,
  localImageAdapterFrom,
  renderLocalPng,
} from '../../services/asset/providers/local.ts';
import type { AssetRequest, Category, ImageSize, ProviderJob } from '../../services/asset/types.ts';

function job(category: Category, size: ImageSize | null, hash: string): ProviderJob {
  const request: AssetRequest = {
    category,
    style: 'fantasy',
    description: 'A mossy stone wall',
    requirements: {
      platform: null,
      quality: 'medium',
      polygonCountMax: null,
      fileSizeMaxMb: null,
      format: 'png',
      size,
      durationSeconds: null,
    },
    preferences: {
      allowDatabase: true,
      allowGeneration: true,
      maxCost: 0,
      maxWaitMs: 25_000,
      provider: 'local',
    },
    sessionId: 's',
    requestHash: hash,
    soundtrack: false,
  };
  return { request, prompt: 'A mossy stone wall', warnings: [] };
}

const ctx = () => ({ signal: new AbortController().signal, onProgress: () => {}, onTask: () => {} });
const HASH_A = 'a1'.repeat(32);
const HASH_B = '5e'.repeat(32);

async function bytesOf(category: Category, size: ImageSize | null, hash: string): Promise<Uint8Array> {
  const r = await new LocalImageAdapter().generate(job(category, size, hash), ctx());
  if (r.file.kind !== 'bytes') throw new Error('expected bytes');
  return r.file.bytes;
}

/** Walks the chunk list, checking each CRC-32 by hand, and returns the chunk types in order. */
function chunks(bytes: Uint8Array): { type: string; data: Buffer }[] {
  const buf = Buffer.from(bytes);
  const table = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Buffer) => {
    let c = 0xffffffff;
    for (const x of b) c = (table[(c ^ x) & 0xff] as number) ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const out: { type: string; data: Buffer }[] = [];
  let at = 8;
  while (at < buf.length) {
    const len = buf.readUInt32BE(at);
    const typeAndData = buf.subarray(at + 4, at + 8 + len);
    expect(buf.readUInt32BE(at + 8 + len)).toBe(crc(typeAndData));
    out.push({ type: typeAndData.subarray(0, 4).toString('latin1'), data: typeAndData.subarray(4) });
    at += 12 + len;
  }
  return out;
}

describe('local image provider', () => {
  test('labelled, offline, image and texture only', async () => {
    const a = new LocalImageAdapter();
    expect(a.configured()).toBe(true);
    expect(new LocalImageAdapter({ enabled: false }).configured()).toBe(false);
    expect(localImageAdapterFrom({ localProvider: false }).configured()).toBe(false);
    expect([a.supports('image'), a.supports('texture'), a.supports('prop'), a.supports('audio')]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    const r = await a.generate(job('image', '1024x1024', HASH_A), ctx());
    expect([r.model, r.qualityScore, r.license, r.format]).toEqual([
      'gaia-local-image',
      0.5,
      'public_domain',
      'png',
    ]);
    expect(r.metadata).toMatchObject({ model: 'gaia-local-image', size: '512x512', offline: true });
  });

  test('a real 8-bit RGB PNG: signature, IHDR, zlib IDAT, IEND, valid CRCs, decodes with pngjs', async () => {
    const bytes = await bytesOf('image', '1024x1024', HASH_A);
    expect([...bytes.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    const list = chunks(bytes);
    expect(list[0]!.type).toBe('IHDR');
    expect(list.at(-1)!.type).toBe('IEND');
    const ihdr = list[0]!.data;
    expect([ihdr.readUInt32BE(0), ihdr.readUInt32BE(4), ihdr[8], ihdr[9]]).toEqual([512, 512, 8, 2]);
    const idat = Buffer.concat(list.filter((c) => c.type === 'IDAT').map((c) => c.data));
    expect(inflateSync(idat).length).toBe(512 * (1 + 512 * 3));
    const png = PNG.sync.read(Buffer.from(bytes));
    expect([png.width, png.height]).toEqual([512, 512]);
  });

  test('wide and tall sizes', async () => {
    for (const [size, w, h] of [
      ['1792x1024', 896, 512],
      ['1024x1792', 512, 896],
    ] as const) {
      const png = PNG.sync.read(Buffer.from(await bytesOf('image', size, HASH_A)));
      expect([png.width, png.height]).toEqual([w, h]);
    }
    const dflt = PNG.sync.read(Buffer.from(await bytesOf('image', null, HASH_A)));
    expect([dflt.width, dflt.height]).toEqual([512, 512]);
  });

  test('byte-identical for the same request, different for another hash, not flat', async () => {
    const a1 = await bytesOf('image', '1024x1024', HASH_A);
    const a2 = await bytesOf('image', '1024x1024', HASH_A);
    const b = await bytesOf('image', '1024x1024', HASH_B);
    expect(Buffer.from(a1).equals(Buffer.from(a2))).toBe(true);
    expect(Buffer.from(a1).equals(Buffer.from(b))).toBe(false);
    const png = PNG.sync.read(Buffer.from(a1));
    const colours = new Set<number>();
    for (let i = 0; i < png.data.length; i += 4 * 97) colours.add(png.data.readUInt32BE(i));
    expect(colours.size).toBeGreaterThan(50);
  });

  test('texture edges wrap: the seam is no sharper than the image interior; plain images do not wrap', async () => {
    const seam = (bytes: Uint8Array) => {
      const png = PNG.sync.read(Buffer.from(bytes));
      const { width: w, height: h, data } = png;
      const px = (x: number, y: number, c: number) => data[(y * w + x) * 4 + c] as number;
      let across = 0; // left column vs right column, top row vs bottom row
      let inside = 0; // neighbouring columns/rows in the middle
      for (let y = 0; y < h; y++)
        for (let c = 0; c < 3; c++) {
          across = Math.max(across, Math.abs(px(0, y, c) - px(w - 1, y, c)));
          inside = Math.max(inside, Math.abs(px(w / 2, y, c) - px(w / 2 - 1, y, c)));
        }
      for (let x = 0; x < w; x++)
        for (let c = 0; c < 3; c++) {
          across = Math.max(across, Math.abs(px(x, 0, c) - px(x, h - 1, c)));
          inside = Math.max(inside, Math.abs(px(x, h / 2, c) - px(x, h / 2 - 1, c)));
        }
      return { across, inside };
    };
    for (const hash of [HASH_A, HASH_B, 'c3'.repeat(32)]) {
      for (const size of ['1024x1024', '1792x1024'] as const) {
        const t = seam(await bytesOf('texture', size, hash));
        expect(t.across).toBeLessThanOrEqual(Math.max(8, t.inside + 2));
      }
    }
    // A plain image's gradient runs edge to edge, so its opposite edges differ clearly.
    const plain = seam(renderLocalPng(HASH_A, 512, 512, false));
    expect(plain.across).toBeGreaterThan(20);
  });
});
