/**
 * ElevenLabs audio: music (`/v1/music`) and sound effects (`/v1/sound-generation`). Both answer synchronously
 * with MP3 bytes in the body, which are read with a size cap and checked to really be MP3 before they are
 * handed on to storage.
 */
import { HttpError } from '../../../src/http/errors.ts';
import type { AssetConfig } from '../config.ts';
import type {
  AssetRequest,
  Category,
  ProviderAdapter,
  ProviderContext,
  ProviderJob,
  ProviderResult,
} from '../types.ts';
import { ProviderError } from '../types.ts';
import { httpFailure, readCapped, readErrorBody, withProviderCall } from './errors.ts';

export interface ElevenLabsOptions {
  apiKey?: string | null;
  /** Default `https://api.elevenlabs.io`. */
  baseUrl?: string;
  /** Default `music_v1`. */
  musicModel?: string;
  timeoutMs?: number;
  /** Largest body accepted (the service's file cap); default 100 MB. */
  maxBytes?: number;
}

export type ElevenLabsMode = 'music' | 'sound_effect';

/** Sound effects are short by nature: the API takes 0.5–30 s. */
const SFX_MIN_S = 0.5;
const SFX_MAX_S = 30;
const SFX_WORDS = /\bsound[\s-]?effects?\b|\bsfx\b/i;

export function requestedDuration(request: AssetRequest): number {
  return request.requirements.durationSeconds ?? (request.soundtrack ? 60 : 30);
}

/** Which endpoint a request goes to: the description asks for an effect, or the clip is too short for music. */
export function elevenLabsMode(request: AssetRequest): ElevenLabsMode {
  return SFX_WORDS.test(request.description) || requestedDuration(request) < 15 ? 'sound_effect' : 'music';
}

/** True when the bytes start like an MP3 file: an ID3v2 tag or an MPEG audio frame sync. */
export function looksLikeMp3(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  if (bytes[0] === 0x49 && bytes[1] === 0x44 && bytes[2] === 0x33) return true;
  return bytes[0] === 0xff && ((bytes[1] as number) & 0xe0) === 0xe0;
}

/** Status codes ElevenLabs uses in `detail.status` when it refuses the content of a prompt. */
const REFUSAL = /bad_prompt|policy|moderation|flagged|terms_of_service/;

export class ElevenLabsAdapter implements ProviderAdapter {
  readonly id = 'elevenlabs' as const;
  // Music prompts are limited to a few thousand characters; a generous but safe ceiling for both endpoints.
  readonly maxPromptChars = 2000;
  private readonly apiKey: string;
  private readonly baseUrl: string;
  private readonly musicModel: string;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;

  constructor(opts: ElevenLabsOptions) {
    this.apiKey = opts.apiKey?.trim() ?? '';
    this.baseUrl = (opts.baseUrl ?? 'https://api.elevenlabs.io').replace(/\/+$/, '');
    this.musicModel = opts.musicModel?.trim() || 'music_v1';
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.maxBytes = opts.maxBytes ?? 100 * 1024 * 1024;
  }

  configured(): boolean {
    return this.apiKey !== '';
  }

  supports(category: Category): boolean {
    return category === 'audio';
  }

  formats(category: Category): string[] {
    return category === 'audio' ? ['mp3'] : [];
  }

  /** The endpoint path and JSON body for a job, exactly as sent. */
  requestFor(job: ProviderJob): { mode: ElevenLabsMode; path: string; body: Record<string, unknown> } {
    const mode = elevenLabsMode(job.request);
    const duration = requestedDuration(job.request);
    if (mode === 'music') {
      return {
        mode,
        path: '/v1/music',
        body: {
          prompt: job.prompt,
          music_length_ms: Math.round(duration * 1000),
          model_id: this.musicModel,
          force_instrumental: true,
        },
      };
    }
    return {
      mode,
      path: '/v1/sound-generation',
      body: {
        text: job.prompt,
        duration_seconds: Math.min(SFX_MAX_S, Math.max(SFX_MIN_S, duration)),
        prompt_influence: 0.3,
        loop: false,
      },
    };
  }

  async generate(job: ProviderJob, ctx: ProviderContext): Promise<ProviderResult> {
    if (!this.configured()) throw new Error('elevenlabs adapter used without an API key');
    const format = job.request.requirements.format;
    if (format !== 'mp3') throw new HttpError(422, `Provider elevenlabs produces mp3 only, not '${format}'`);
    const { mode, path, body } = this.requestFor(job);

    const { bytes, headers } = await withProviderCall(
      this.id,
      { timeoutMs: this.timeoutMs, signal: ctx.signal },
      async (signal) => {
        const res = await fetch(`${this.baseUrl}${path}`, {
          method: 'POST',
          headers: { 'xi-api-key': this.apiKey, 'content-type': 'application/json', accept: 'audio/mpeg' },
          body: JSON.stringify(body),
          signal,
        });
        if (!res.ok) {
          const err = await readErrorBody(res);
          const status = typeof err?.detail?.status === 'string' ? (err.detail.status as string) : undefined;
          throw httpFailure(this.id, res.status, res.headers, {
            code: status,
            rejected: status && REFUSAL.test(status) ? 'prompt not allowed' : undefined,
          });
        }
        return { bytes: await readCapped(this.id, res, this.maxBytes), headers: res.headers };
      },
    );
    if (!looksLikeMp3(bytes)) throw new ProviderError(this.id, 'error', 'answer was not MP3 audio');
    ctx.onProgress(100);

    const metadata: Record<string, unknown> = {
      model: mode === 'music' ? this.musicModel : 'sound-generation',
      operation: mode,
      duration_seconds: mode === 'music' ? requestedDuration(job.request) : body.duration_seconds,
    };
    const songId = headers.get('song-id');
    if (songId && /^[A-Za-z0-9_-]{1,64}$/.test(songId)) metadata.provider_task_id = songId;
    return {
      file: { kind: 'bytes', bytes, contentType: 'audio/mpeg' },
      format: 'mp3',
      model: metadata.model as string,
      qualityScore: 0.85,
      license: 'commercial',
      metadata,
    };
  }
}

export function elevenLabsAdapterFrom(
  config: Pick<AssetConfig, 'elevenlabs' | 'providerTimeoutMs' | 'maxFileMb'>,
): ElevenLabsAdapter {
  return new ElevenLabsAdapter({
    apiKey: config.elevenlabs.apiKey,
    baseUrl: config.elevenlabs.apiBase,
    timeoutMs: config.providerTimeoutMs,
    maxBytes: config.maxFileMb * 1024 * 1024,
  });
}
