/**
 * Stability AI image generation. The current API (`v2beta`, "Stable Image") takes multipart forms at one
 * endpoint per tier and bills in credits; the legacy `v1` engine API (JSON, `artifacts[]`) stays available
 * behind the version setting for accounts or gateways that still speak it.
 */
import type { AssetConfig } from '../config.ts';
import type {
  Category,
  ImageSize,
  ProviderAdapter,
  ProviderContext,
  ProviderJob,
  ProviderResult,
  Quality,
} from '../types.ts';
import { ProviderError } from '../types.ts';
import { decodePng, httpFailure, pngSize, readErrorBody, withProviderCall } from './errors.ts';

export type StabilityVersion = 'v2beta' | 'v1';
export type StabilityTier = 'core' | 'sd3' | 'ultra';

export interface StabilityOptions {
  apiKey?: string | null;
  /** Default `https://api.stability.ai`. */
  baseUrl?: string;
  /** Default `v2beta`. */
  version?: StabilityVersion;
  /** Model sent to the sd3 endpoint; default `sd3.5-large`. */
  sd3Model?: string;
  /** Engine of the v1 API; default `stable-diffusion-xl-1024-v1-0`. */
  engine?: string;
  timeoutMs?: number;
}

/** Credits Stability bills per image on each v2beta tier; pricing multiplies them by the credit price. */
export const STABILITY_CREDITS: Record<StabilityTier, number> = { core: 3, sd3: 6.5, ultra: 8 };

const TIER_BY_QUALITY: Record<Quality, StabilityTier> = {
  low: 'core',
  medium: 'core',
  high: 'sd3',
  ultra: 'ultra',
};
const V1_TIER_BY_QUALITY: Record<Quality, string> = {
  low: 'standard',
  medium: 'standard',
  high: 'hd',
  ultra: 'ultra',
};
const ASPECT: Record<ImageSize, string> = { '1024x1024': '1:1', '1792x1024': '16:9', '1024x1792': '9:16' };
/** SDXL only renders its trained resolutions; these are the ones closest to the requested shapes. */
const V1_DIMENSIONS: Record<ImageSize, [number, number]> = {
  '1024x1024': [1024, 1024],
  '1792x1024': [1344, 768],
  '1024x1792': [768, 1344],
};

export function stabilityTier(quality: Quality): StabilityTier {
  return TIER_BY_QUALITY[quality];
}

export class StabilityAdapter implements ProviderAdapter {
  readonly id = 'stability' as const;
  readonly maxPromptChars: number;
  readonly version: StabilityVersion;
  private readonly apiKey: string;
  private readonly baseUrl: string;
  private readonly sd3Model: string;
  private readonly engine: string;
  private readonly timeoutMs: number;

  constructor(opts: StabilityOptions) {
    this.apiKey = opts.apiKey?.trim() ?? '';
    this.baseUrl = (opts.baseUrl ?? 'https://api.stability.ai').replace(/\/+$/, '');
    this.version = opts.version ?? 'v2beta';
    this.sd3Model = opts.sd3Model?.trim() || 'sd3.5-large';
    this.engine = opts.engine?.trim() || 'stable-diffusion-xl-1024-v1-0';
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.maxPromptChars = this.version === 'v1' ? 2000 : 10_000;
  }

  configured(): boolean {
    return this.apiKey !== '';
  }

  supports(category: Category): boolean {
    return category === 'image' || category === 'texture';
  }

  formats(category: Category): string[] {
    return this.supports(category) ? ['png'] : [];
  }

  generate(job: ProviderJob, ctx: ProviderContext): Promise<ProviderResult> {
    if (!this.configured()) throw new Error('stability adapter used without an API key');
    return this.version === 'v1' ? this.generateV1(job, ctx) : this.generateV2(job, ctx);
  }

  private async generateV2(job: ProviderJob, ctx: ProviderContext): Promise<ProviderResult> {
    const tier = stabilityTier(job.request.requirements.quality);
    const aspect = ASPECT[job.request.requirements.size ?? '1024x1024'];
    const form = new FormData();
    form.append('prompt', job.prompt);
    form.append('output_format', 'png');
    form.append('aspect_ratio', aspect);
    if (tier === 'sd3') form.append('model', this.sd3Model);

    const answer = await withProviderCall(
      this.id,
      { timeoutMs: this.timeoutMs, signal: ctx.signal },
      async (signal) => {
        const res = await fetch(`${this.baseUrl}/v2beta/stable-image/generate/${tier}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${this.apiKey}`, accept: 'application/json' },
          body: form,
          signal,
        });
        if (!res.ok) {
          const err = await readErrorBody(res);
          throw httpFailure(this.id, res.status, res.headers, {
            code: err?.name,
            rejected: err?.name === 'content_moderation' ? 'content moderation' : undefined,
          });
        }
        return (await res.json().catch(() => null)) as {
          image?: string;
          finish_reason?: string;
          seed?: number;
        } | null;
      },
    );
    if (answer?.finish_reason === 'CONTENT_FILTERED')
      throw new ProviderError(this.id, 'rejected', 'content filtered');
    if (answer?.finish_reason && answer.finish_reason !== 'SUCCESS')
      throw new ProviderError(this.id, 'error', 'generation did not finish');
    const bytes = decodePng(this.id, answer?.image);
    ctx.onProgress(100);
    const dims = pngSize(bytes);
    const model = tier === 'sd3' ? this.sd3Model : `stable-image-${tier}`;
    return {
      file: { kind: 'bytes', bytes, contentType: 'image/png' },
      format: 'png',
      model,
      qualityScore: 0.9,
      license: 'proprietary',
      metadata: {
        model,
        tier,
        credits_used: STABILITY_CREDITS[tier],
        aspect_ratio: aspect,
        ...(dims ? { size: `${dims.width}x${dims.height}` } : {}),
        ...(typeof answer?.seed === 'number' ? { seed: answer.seed } : {}),
        finish_reason: answer?.finish_reason ?? 'SUCCESS',
      },
    };
  }

  private async generateV1(job: ProviderJob, ctx: ProviderContext): Promise<ProviderResult> {
    const [width, height] = V1_DIMENSIONS[job.request.requirements.size ?? '1024x1024'];
    const body = {
      text_prompts: [{ text: job.prompt, weight: 1 }],
      cfg_scale: 7,
      width,
      height,
      samples: 1,
      steps: 30,
    };
    const answer = await withProviderCall(
      this.id,
      { timeoutMs: this.timeoutMs, signal: ctx.signal },
      async (signal) => {
        const res = await fetch(
          `${this.baseUrl}/v1/generation/${encodeURIComponent(this.engine)}/text-to-image`,
          {
            method: 'POST',
            headers: {
              authorization: `Bearer ${this.apiKey}`,
              accept: 'application/json',
              'content-type': 'application/json',
            },
            body: JSON.stringify(body),
            signal,
          },
        );
        if (!res.ok) {
          const err = await readErrorBody(res);
          throw httpFailure(this.id, res.status, res.headers, { code: err?.name });
        }
        return (await res.json().catch(() => null)) as {
          artifacts?: { base64?: string; seed?: number; finishReason?: string }[];
        } | null;
      },
    );
    const art = answer?.artifacts?.[0];
    if (art?.finishReason === 'CONTENT_FILTERED')
      throw new ProviderError(this.id, 'rejected', 'content filtered');
    if (art?.finishReason && art.finishReason !== 'SUCCESS')
      throw new ProviderError(this.id, 'error', 'generation did not finish');
    const bytes = decodePng(this.id, art?.base64);
    ctx.onProgress(100);
    return {
      file: { kind: 'bytes', bytes, contentType: 'image/png' },
      format: 'png',
      model: this.engine,
      qualityScore: 0.9,
      license: 'proprietary',
      metadata: {
        model: this.engine,
        tier: V1_TIER_BY_QUALITY[job.request.requirements.quality],
        size: `${width}x${height}`,
        ...(typeof art?.seed === 'number' ? { seed: art.seed } : {}),
        finish_reason: art?.finishReason ?? 'SUCCESS',
      },
    };
  }
}

export function stabilityAdapterFrom(
  config: Pick<AssetConfig, 'stability' | 'providerTimeoutMs'>,
): StabilityAdapter {
  return new StabilityAdapter({
    apiKey: config.stability.apiKey,
    baseUrl: config.stability.apiBase,
    version: config.stability.apiVersion,
    engine: config.stability.engine,
    timeoutMs: config.providerTimeoutMs,
  });
}
