/**
 * Preview images: a generated image scaled down to fit 512×512, or a solid colour square for assets that have
 * no picture of their own (audio, and 3D results that came without a thumbnail).
 */
import { PNG } from 'pngjs';
import type { Category } from './types.ts';

export const PREVIEW_MAX = 512;

/** Preview colours per category; everything else is neutral grey. */
const PREVIEW_COLOURS: Partial<Record<Category, string>> = {
  audio: '#FF6B6B',
  character: '#DDA0DD',
  prop: '#98D8C8',
  environment: '#FFEAA7',
};
const DEFAULT_COLOUR = '#CCCCCC';

export function previewColour(category: Category | string): string {
  return PREVIEW_COLOURS[category as Category] ?? DEFAULT_COLOUR;
}

function hexRgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

/** A PNG from RGBA pixels; RGB when every pixel is opaque, so previews stay small. */
export function encodePng(width: number, height: number, rgba: Uint8Array | Buffer): Uint8Array {
  const png = new PNG({ width, height });
  png.data = Buffer.isBuffer(rgba) ? rgba : Buffer.from(rgba.buffer, rgba.byteOffset, rgba.byteLength);
  let opaque = true;
  for (let i = 3; i < png.data.length; i += 4) {
    if (png.data[i] !== 255) {
      opaque = false;
      break;
    }
  }
  return Uint8Array.from(PNG.sync.write(png, { colorType: opaque ? 2 : 6 }));
}

/** 512×512 PNG filled with the category's colour. */
export function solidPreview(category: Category | string): Uint8Array {
  const [r, g, b] = hexRgb(previewColour(category));
  const data = Buffer.alloc(PREVIEW_MAX * PREVIEW_MAX * 4);
  for (let i = 0; i < data.length; i += 4) {
    data[i] = r;
    data[i + 1] = g;
    data[i + 2] = b;
    data[i + 3] = 255;
  }
  return encodePng(PREVIEW_MAX, PREVIEW_MAX, data);
}

/** Target size that fits `max`×`max` and keeps the aspect ratio; images are never enlarged. */
export function fitWithin(
  width: number,
  height: number,
  max = PREVIEW_MAX,
): { width: number; height: number } {
  if (width <= max && height <= max) return { width, height };
  const scale = Math.min(max / width, max / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

/**
 * The image scaled to fit 512×512, as PNG. Downscaling averages every source pixel under each target pixel
 * (a box filter), which avoids the aliasing a nearest-pixel pick gives on fine detail. An image that already
 * fits is returned as it is, after checking that it decodes. Throws when the bytes are not a PNG.
 */
export function imagePreview(png: Uint8Array): Uint8Array {
  let src: PNG;
  try {
    src = PNG.sync.read(Buffer.from(png.buffer, png.byteOffset, png.byteLength));
  } catch {
    throw new Error('preview source is not a decodable PNG');
  }
  const { width: sw, height: sh } = src;
  const { width: dw, height: dh } = fitWithin(sw, sh);
  if (dw === sw && dh === sh) return png;

  const out = Buffer.alloc(dw * dh * 4);
  const data = src.data;
  for (let oy = 0; oy < dh; oy++) {
    const y0 = Math.floor((oy * sh) / dh);
    const y1 = Math.max(y0 + 1, Math.floor(((oy + 1) * sh) / dh));
    for (let ox = 0; ox < dw; ox++) {
      const x0 = Math.floor((ox * sw) / dw);
      const x1 = Math.max(x0 + 1, Math.floor(((ox + 1) * sw) / dw));
      // Colours are weighted by alpha so transparent pixels do not darken the edges of shapes.
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      let n = 0;
      for (let y = y0; y < y1; y++) {
        let i = (y * sw + x0) * 4;
        for (let x = x0; x < x1; x++, i += 4) {
          const al = data[i + 3] as number;
          r += (data[i] as number) * al;
          g += (data[i + 1] as number) * al;
          b += (data[i + 2] as number) * al;
          a += al;
          n++;
        }
      }
      const o = (oy * dw + ox) * 4;
      if (a > 0) {
        out[o] = Math.round(r / a);
        out[o + 1] = Math.round(g / a);
        out[o + 2] = Math.round(b / a);
      }
      out[o + 3] = Math.round(a / n);
    }
  }
  return encodePng(dw, dh, out);
}
