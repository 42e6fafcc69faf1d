/**
 * The shapes the asset service's parts agree on: requests (validated and normalised), provider adapters,
 * prices, storage and the generation orchestration meet here. Money is integer micro-dollars everywhere
 * inside the service; it becomes USD with 4 decimals only in responses.
 */

export const CATEGORIES = [
  'environment',
  'character',
  'prop',
  'audio',
  'texture',
  'animation',
  'image',
] as const;
export type Category = (typeof CATEGORIES)[number];
export const QUALITIES = ['low', 'medium', 'high', 'ultra'] as const;
export type Quality = (typeof QUALITIES)[number];
export const PROVIDERS = ['openai', 'stability', 'meshy', 'elevenlabs', 'mubert', 'local'] as const;
export type ProviderId = (typeof PROVIDERS)[number];
export type ImageSize = '1024x1024' | '1792x1024' | '1024x1792';

/** Micro-dollars (1 USD = 1,000,000). */
export type Micro = number;
export const usd = (micro: Micro): number => Math.round(micro / 100) / 10_000;
export const micro = (dollars: number): Micro => Math.round(dollars * 1_000_000);

/** A generate request after validation, with every default applied. */
export interface AssetRequest {
  category: Category;
  /** As the client wrote them (trimmed); the normalised forms go into the hash. */
  style: string;
  description: string;
  requirements: {
    platform: string | null;
    quality: Quality;
    polygonCountMax: number | null;
    fileSizeMaxMb: number | null;
    /** File format for the category (`png`, `glb`, `fbx`, `obj`, `usdz`, `mp3`, `wav`, `ogg`). */
    format: string;
    size: ImageSize | null;
    durationSeconds: number | null;
  };
  preferences: {
    allowDatabase: boolean;
    allowGeneration: boolean;
    maxCost: Micro;
    /** The effective synchronous wait in ms (already capped). */
    maxWaitMs: number;
    provider: ProviderId | null;
  };
  sessionId: string;
  /** Lowercase hex SHA-256 of the canonical normalised request. */
  requestHash: string;
  /** True when the description asks for a soundtrack (audio). */
  soundtrack: boolean;
}

/** What a provider is asked to do, after prompt enhancement. */
export interface ProviderJob {
  request: AssetRequest;
  /** The enhanced prompt, already cut to the provider's limit. */
  prompt: string;
  /** Reported in `metadata.warnings` (e.g. the prompt was cut). */
  warnings: string[];
}

/** Price of one generation by one provider: what is reserved before the call. */
export interface Estimate {
  provider: ProviderId;
  cost: Micro;
  /** For the pricing routes and analytics: `image_generation`, `text_to_3d_with_texture`, … */
  operation: string;
  /** Provider price tier (`standard`, `hd`, `core`, `sd3`, …). */
  tier: string;
}

/** A file a provider produced, either bytes in hand or a provider URL to fetch safely. */
export type ProviderFile =
  | { kind: 'bytes'; bytes: Uint8Array; contentType: string }
  | { kind: 'url'; url: string; contentType: string };

export interface ProviderResult {
  file: ProviderFile;
  format: string;
  /** Preview image (3D thumbnails); images are their own preview, audio gets a solid-colour one. */
  preview?: ProviderFile;
  model: string;
  qualityScore: number;
  license: 'creative_commons' | 'public_domain' | 'custom' | 'commercial' | 'proprietary';
  /**
   * Provider-specific metadata (`revised_prompt`, `provider_task_id`, `credits_used`, `usage`, `size`, `tier`,
   * `test_mode`, …). Pricing reads `usage` (OpenAI tokens) and `credits_used` (Stability, Meshy) from here to
   * compute the actual cost; the adapters never price anything themselves.
   */
  metadata: Record<string, unknown>;
}

/** Hooks a provider calls while it works (long tasks). */
export interface ProviderContext {
  signal: AbortSignal;
  /** 0–100. */
  onProgress(progress: number): void;
  /** A provider task id to persist, so a restart can resume polling. */
  onTask(taskId: string, state?: Record<string, unknown>): Promise<void> | void;
}

export type ProviderErrorKind = 'rejected' | 'timeout' | 'rate_limited' | 'error' | 'download_refused';

/** A provider failure, with a reason that never carries keys, headers or raw provider bodies. */
export class ProviderError extends Error {
  constructor(
    readonly provider: ProviderId,
    readonly kind: ProviderErrorKind,
    readonly reason: string,
    readonly opts: { retryAfterS?: number; timeoutS?: number; billed?: Micro } = {},
  ) {
    super(reason);
    this.name = 'ProviderError';
  }
}

export interface ProviderAdapter {
  readonly id: ProviderId;
  /** A key is set (local: enabled). */
  configured(): boolean;
  supports(category: Category): boolean;
  /** Formats it can produce for a category; the first is the default. */
  formats(category: Category): string[];
  /** Longest prompt it accepts (characters). */
  maxPromptChars: number;
  generate(job: ProviderJob, ctx: ProviderContext): Promise<ProviderResult>;
  /** Continues a task after a restart (providers with task ids: meshy, mubert). */
  resume?(
    taskId: string,
    job: ProviderJob,
    ctx: ProviderContext,
    state?: Record<string, unknown>,
  ): Promise<ProviderResult>;
}

/** Where files live: local disk or S3-compatible storage. */
export interface StoredObject {
  key: string;
  size: number;
  sha256: string;
  contentType: string;
}

export interface AssetStorage {
  readonly type: 'local' | 's3';
  readonly bucket: string | null;
  /** Stores the whole object (temp + rename locally, full upload on S3) and returns what was stored. */
  put(key: string, bytes: Uint8Array, contentType: string): Promise<StoredObject>;
  /** Null when the object is gone. `range` is inclusive, already validated against `size`. */
  get(
    key: string,
    range?: { start: number; end: number },
  ): Promise<{ body: ReadableStream<Uint8Array> | Uint8Array; size: number } | null>;
  exists(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  /**
   * Removes temporary files of writes interrupted before they were renamed into place, last modified before
   * `before` (epoch ms); returns how many. Only stores that write through temporary files have it.
   */
  sweepTemps?(before: number): Promise<number>;
}
