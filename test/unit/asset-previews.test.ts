import { describe, expect, test } from 'bun:test';
import { PNG } from 'pngjs';
import { fitWithin, imagePreview, previewColour, solidPreview } from '../../services/asset/previews.ts';

function png(
  width: number,
  height: number,
  paint: (x: number, y: number) => [number, number, number, number],
) {
  const p = new PNG({ width, height });
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++) {
      const [r, g, b, a] = paint(x, y);
      p.data.set([r, g, b, a], (y * width + x) * 4);
    }
  return Uint8Array.from(PNG.sync.write(p));
}
const read = (bytes: Uint8Array) => PNG.sync.read(Buffer.from(bytes));

describe('previews', () => {
  test('solid previews are 512x512 in the category colour', () => {
    const cases: [string, [number, number, number]][] = [
      ['audio', [0xff, 0x6b, 0x6b]],
      ['character', [0xdd, 0xa0, 0xdd]],
      ['prop', [0x98, 0xd8, 0xc8]],
      ['environment', [0xff, 0xea, 0xa7]],
      ['image', [0xcc, 0xcc, 0xcc]],
      ['animation', [0xcc, 0xcc, 0xcc]],
    ];
    for (const [category, rgb] of cases) {
      const p = read(solidPreview(category));
      expect([p.width, p.height]).toEqual([512, 512]);
      for (const i of [0, 512 * 4 * 300 + 4 * 17, p.data.length - 4])
        expect([...p.data.subarray(i, i + 4)]).toEqual([...rgb, 255]);
    }
    expect(previewColour('audio')).toBe('#FF6B6B');
    expect(Buffer.from(solidPreview('audio')).equals(Buffer.from(solidPreview('audio')))).toBe(true);
  });

  test('large images are scaled to fit 512x512, keeping the aspect ratio', () => {
    expect(fitWithin(1024, 1024)).toEqual({ width: 512, height: 512 });
    expect(fitWithin(1536, 1024)).toEqual({ width: 512, height: 341 });
    expect(fitWithin(768, 1344)).toEqual({ width: 293, height: 512 });
    expect(fitWithin(300, 200)).toEqual({ width: 300, height: 200 });

    // Left half red, right half blue: the halves survive the box filter.
    const wide = png(1536, 1024, (x) => (x < 768 ? [255, 0, 0, 255] : [0, 0, 255, 255]));
    const p = read(imagePreview(wide));
    expect([p.width, p.height]).toEqual([512, 341]);
    const at = (x: number, y: number) => [
      ...p.data.subarray((y * p.width + x) * 4, (y * p.width + x) * 4 + 4),
    ];
    expect(at(10, 100)).toEqual([255, 0, 0, 255]);
    expect(at(500, 300)).toEqual([0, 0, 255, 255]);
  });

  test('a fine checkerboard averages to grey instead of aliasing', () => {
    const checker = png(1024, 1024, (x, y) => ((x + y) % 2 ? [255, 255, 255, 255] : [0, 0, 0, 255]));
    const p = read(imagePreview(checker));
    expect([p.width, p.height]).toEqual([512, 512]);
    for (const i of [0, 4 * 1000, p.data.length - 4])
      expect(Math.abs((p.data[i] as number) - 128)).toBeLessThanOrEqual(1);
  });

  test('transparency is kept; small images are returned unchanged; garbage throws', () => {
    const clear = png(1024, 512, (x) => (x < 512 ? [0, 200, 0, 0] : [0, 200, 0, 255]));
    const p = read(imagePreview(clear));
    expect([p.width, p.height]).toEqual([512, 256]);
    expect(p.data[3]).toBe(0);
    expect(p.data[(10 * 512 + 400) * 4 + 3]).toBe(255);
    const small = png(64, 32, () => [1, 2, 3, 255]);
    expect(imagePreview(small)).toBe(small);
    expect(() => imagePreview(new TextEncoder().encode('not a png at all, not even close'))).toThrow();
  });
});
