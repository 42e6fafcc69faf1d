/**
 * The offline image provider: no network, no model. It draws a real PNG — a two-colour gradient with a few
 * soft discs — whose colours and shapes come from the request hash, so the same request always yields the same
 * bytes. Textures use periodic shapes (a cosine gradient and discs measured on a torus) so the tile repeats
 * without a visible seam. It is labelled as an offline procedural image in its metadata and never stands in for a failed
 * real provider (that decision belongs to the caller).
 */
import { createHash } from 'node:crypto';
import type { AssetConfig } from '../config.ts';
import { encodePng } from '../previews.ts';
import type {
  Category,
  ImageSize,
  ProviderAdapter,
  ProviderContext,
  ProviderJob,
  ProviderResult,
} from '../types.ts';
import { ProviderError } from '../types.ts';

export interface LocalImageOptions {
  /** `ASSET_LOCAL_PROVIDER`; default true. */
  enabled?: boolean;
}

export const LOCAL_IMAGE_MODEL = 'gaia-local-image';

const DIMENSIONS: Record<ImageSize, [number, number]> = {
  '1024x1024': [512, 512],
  '1792x1024': [896, 512],
  '1024x1792': [512, 896],
};

export function localImageSize(size: ImageSize | null): { width: number; height: number } {
  const [width, height] = DIMENSIONS[size ?? '1024x1024'];
  return { width, height };
}

/** 32 seed bytes: the request hash itself when it is hex SHA-256, else a hash of whatever was given. */
function seedBytes(hash: string): Uint8Array {
  if (/^[0-9a-f]{64}$/i.test(hash)) return Uint8Array.from(Buffer.from(hash, 'hex'));
  return Uint8Array.from(createHash('sha256').update(hash).digest());
}

/** mulberry32: tiny, fast and fully deterministic across runs, which is all a drawing needs. */
function rng(seed: Uint8Array): () => number {
  let s =
    ((seed[0] as number) << 24) |
    ((seed[1] as number) << 16) |
    ((seed[2] as number) << 8) |
    (seed[3] as number);
  for (let i = 4; i < seed.length; i++) s = Math.imul(s ^ (seed[i] as number), 0x9e3779b1);
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A pleasant colour from hue/saturation/lightness in 0..1 (avoids the muddy greys plain random RGB gives). */
function hsl(h: number, s: number, l: number): [number, number, number] {
  const f = (n: number) => {
    const k = (n + h * 12) % 12;
    const a = s * Math.min(l, 1 - l);
    return 255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1)));
  };
  return [f(0), f(8), f(4)];
}

interface Disc {
  x: number;
  y: number;
  r: number;
  colour: [number, number, number];
  opacity: number;
}

/**
 * Draws the image for a request hash as 8-bit RGB PNG. `seamless` makes every shape periodic in both axes, so
 * the right edge continues into the left one and the bottom into the top.
 */
export function renderLocalPng(hash: string, width: number, height: number, seamless: boolean): Uint8Array {
  const rand = rng(seedBytes(hash));
  const baseHue = rand();
  const c0 = hsl(baseHue, 0.45 + rand() * 0.4, 0.3 + rand() * 0.25);
  const c1 = hsl((baseHue + 0.15 + rand() * 0.5) % 1, 0.45 + rand() * 0.4, 0.55 + rand() * 0.25);
  const angle = rand() * Math.PI * 2;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const span = Math.abs(cos) + Math.abs(sin);
  const minDim = Math.min(width, height);
  const discs: Disc[] = [];
  const count = 3 + Math.floor(rand() * 4);
  for (let i = 0; i < count; i++) {
    discs.push({
      x: rand() * width,
      y: rand() * height,
      // Below half the short side, so on a torus only the nearest copy of a disc can cover a pixel.
      r: minDim * (0.08 + rand() * 0.3),
      colour: hsl((baseHue + rand() * 0.6) % 1, 0.5 + rand() * 0.4, 0.45 + rand() * 0.35),
      opacity: 0.35 + rand() * 0.4,
    });
  }

  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      let t: number;
      if (seamless) {
        t =
          0.5 -
          0.25 * Math.cos((2 * Math.PI * x) / width + angle) -
          0.25 * Math.cos((2 * Math.PI * y) / height);
      } else {
        t = 0.5 + ((x / (width - 1) - 0.5) * cos + (y / (height - 1) - 0.5) * sin) / span;
      }
      let r = c0[0] + (c1[0] - c0[0]) * t;
      let g = c0[1] + (c1[1] - c0[1]) * t;
      let b = c0[2] + (c1[2] - c0[2]) * t;
      for (const d of discs) {
        let dx = Math.abs(x + 0.5 - d.x);
        let dy = Math.abs(y + 0.5 - d.y);
        if (seamless) {
          dx = Math.min(dx, width - dx);
          dy = Math.min(dy, height - dy);
        }
        const dist = Math.sqrt(dx * dx + dy * dy);
        if (dist >= d.r) continue;
        // Soft edge: full strength in the inner 60 %, then a smoothstep fade to nothing at the rim.
        const edge = Math.min(1, (d.r - dist) / (d.r * 0.4));
        const a = edge * edge * (3 - 2 * edge) * d.opacity;
        r += (d.colour[0] - r) * a;
        g += (d.colour[1] - g) * a;
        b += (d.colour[2] - b) * a;
      }
      const o = (y * width + x) * 4;
      data[o] = Math.max(0, Math.min(255, Math.round(r)));
      data[o + 1] = Math.max(0, Math.min(255, Math.round(g)));
      data[o + 2] = Math.max(0, Math.min(255, Math.round(b)));
      data[o + 3] = 255;
    }
  }
  return encodePng(width, height, data);
}

export class LocalImageAdapter implements ProviderAdapter {
  readonly id = 'local' as const;
  readonly maxPromptChars = 4000;
  private readonly enabled: boolean;

  constructor(opts: LocalImageOptions = {}) {
    this.enabled = opts.enabled ?? true;
  }

  configured(): boolean {
    return this.enabled;
  }

  supports(category: Category): boolean {
    return category === 'image' || category === 'texture';
  }

  formats(category: Category): string[] {
    return this.supports(category) ? ['png'] : [];
  }

  async generate(job: ProviderJob, ctx: ProviderContext): Promise<ProviderResult> {
    if (ctx.signal.aborted) throw new ProviderError(this.id, 'error', 'request cancelled');
    const { width, height } = localImageSize(job.request.requirements.size);
    const seamless = job.request.category === 'texture';
    const bytes = renderLocalPng(job.request.requestHash, width, height, seamless);
    ctx.onProgress(100);
    return {
      file: { kind: 'bytes', bytes, contentType: 'image/png' },
      format: 'png',
      model: LOCAL_IMAGE_MODEL,
      qualityScore: 0.5,
      license: 'public_domain',
      metadata: {
        model: LOCAL_IMAGE_MODEL,
        size: `${width}x${height}`,
        seamless,
        offline: true,
        note: 'Procedural image drawn offline by Gaia from the request hash; no AI model was used.',
      },
    };
  }
}

export function localImageAdapterFrom(config: Pick<AssetConfig, 'localProvider'>): LocalImageAdapter {
  return new LocalImageAdapter({ enabled: config.localProvider });
}
