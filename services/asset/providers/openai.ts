/**
 * OpenAI image generation. `gpt-image-*` models are the default; `dall-e-3` keeps its older request shape for
 * servers that still offer it. Both answer with base64 in the body, so no provider URL is ever fetched.
 *
 * The official SDK is used with retries off: the service decides about retries and fallbacks itself, and a
 * silent SDK retry would double a bill the reservation did not cover.
 */
import OpenAI from 'openai';
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
import { decodePng, httpFailure, withProviderCall } from './errors.ts';

export interface OpenAIImageOptions {
  /** Unset or empty: the adapter is not configured. */
  apiKey?: string | null;
  /** Default `https://api.openai.com/v1`. */
  baseUrl?: string;
  /** Default `gpt-image-1`. */
  model?: string;
  /** One HTTP call; default 60000. */
  timeoutMs?: number;
}

export const OPENAI_DEFAULT_IMAGE_MODEL = 'gpt-image-1';

const GPT_IMAGE_SIZES: Record<ImageSize, string> = {
  '1024x1024': '1024x1024',
  '1792x1024': '1536x1024',
  '1024x1792': '1024x1536',
};
const GPT_IMAGE_QUALITY: Record<Quality, 'low' | 'medium' | 'high'> = {
  low: 'low',
  medium: 'medium',
  high: 'high',
  ultra: 'high',
};
const GPT_IMAGE_SCORE = { low: 0.75, medium: 0.85, high: 0.95 } as const;

/** Codes OpenAI uses when its safety system refuses a prompt (DALL·E and gpt-image respectively). */
const REFUSAL_CODES = new Set(['content_policy_violation', 'moderation_blocked']);

export function isDallE3(model: string): boolean {
  return model.startsWith('dall-e-3');
}

/** The exact request body for a job: what the wire sees and what tests compare against. */
export function openaiImageBody(model: string, job: ProviderJob): Record<string, unknown> {
  const size: ImageSize = job.request.requirements.size ?? '1024x1024';
  const quality = job.request.requirements.quality;
  if (isDallE3(model)) {
    return {
      model,
      prompt: job.prompt,
      n: 1,
      size,
      quality: quality === 'high' || quality === 'ultra' ? 'hd' : 'standard',
      response_format: 'b64_json',
    };
  }
  return {
    model,
    prompt: job.prompt,
    n: 1,
    size: GPT_IMAGE_SIZES[size],
    quality: GPT_IMAGE_QUALITY[quality],
    output_format: 'png',
  };
}

export class OpenAIImageAdapter implements ProviderAdapter {
  readonly id = 'openai' as const;
  readonly maxPromptChars: number;
  readonly model: string;
  private readonly apiKey: string;
  private readonly timeoutMs: number;
  private readonly client: OpenAI | null;

  constructor(opts: OpenAIImageOptions) {
    this.apiKey = opts.apiKey?.trim() ?? '';
    this.model = opts.model?.trim() || OPENAI_DEFAULT_IMAGE_MODEL;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    // DALL·E 3 caps prompts at 4000 characters; gpt-image models accept 32000.
    this.maxPromptChars = isDallE3(this.model) ? 4000 : 32_000;
    this.client = this.apiKey
      ? new OpenAI({
          apiKey: this.apiKey,
          baseURL: (opts.baseUrl ?? 'https://api.openai.com/v1').replace(/\/+$/, ''),
          maxRetries: 0,
          // Our own timer is authoritative; the SDK's is only a backstop.
          timeout: this.timeoutMs + 5_000,
        })
      : null;
  }

  configured(): boolean {
    return this.client !== null;
  }

  supports(category: Category): boolean {
    return category === 'image' || category === 'texture';
  }

  formats(category: Category): string[] {
    return this.supports(category) ? ['png'] : [];
  }

  async generate(job: ProviderJob, ctx: ProviderContext): Promise<ProviderResult> {
    const client = this.client;
    if (!client) throw new Error('openai adapter used without an API key');
    const body = openaiImageBody(this.model, job);
    const answer = await withProviderCall(
      this.id,
      { timeoutMs: this.timeoutMs, signal: ctx.signal },
      async (signal) => {
        try {
          // The body is built above with exactly the fields the API documents; the SDK sends it as is.
          return await client.images.generate(body as unknown as OpenAI.ImageGenerateParamsNonStreaming, {
            signal,
          });
        } catch (err) {
          if (err instanceof OpenAI.APIError && typeof err.status === 'number') {
            const code = err.code ?? undefined;
            throw httpFailure(this.id, err.status, err.headers ?? undefined, {
              // Server errors come with a type but no code; either is a plain identifier worth keeping.
              code: code ?? err.type,
              rejected: code && REFUSAL_CODES.has(code) ? 'content policy violation' : undefined,
            });
          }
          throw err;
        }
      },
    );
    ctx.onProgress(100);
    const first = answer.data?.[0];
    const bytes = decodePng(this.id, first?.b64_json);
    const quality = body.quality as string;
    const metadata: Record<string, unknown> = {
      model: this.model,
      size: body.size,
      quality,
      tier: quality,
    };
    if (first?.revised_prompt) metadata.revised_prompt = first.revised_prompt;
    if (answer.usage) metadata.usage = answer.usage;
    const score = isDallE3(this.model)
      ? quality === 'hd'
        ? 0.95
        : 0.85
      : GPT_IMAGE_SCORE[quality as keyof typeof GPT_IMAGE_SCORE];
    return {
      file: { kind: 'bytes', bytes, contentType: 'image/png' },
      format: 'png',
      model: this.model,
      qualityScore: score,
      license: 'proprietary',
      metadata,
    };
  }
}

/** The adapter as the service's configuration describes it. */
export function openaiImageAdapterFrom(
  config: Pick<AssetConfig, 'openai' | 'providerTimeoutMs'>,
): OpenAIImageAdapter {
  return new OpenAIImageAdapter({
    apiKey: config.openai.apiKey,
    baseUrl: config.openai.imagesBaseUrl,
    model: config.openai.imageModel,
    timeoutMs: config.providerTimeoutMs,
  });
}
