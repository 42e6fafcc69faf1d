import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { PNG } from 'pngjs';
import {
  ElevenLabsAdapter,
  elevenLabsAdapterFrom,
  elevenLabsMode,
} from '../../services/asset/providers/elevenlabs.ts';
import { retryAfterSeconds, toHttpError } from '../../services/asset/providers/errors.ts';
import { OpenAIImageAdapter, openaiImageAdapterFrom } from '../../services/asset/providers/openai.ts';
import { StabilityAdapter, stabilityAdapterFrom } from '../../services/asset/providers/stability.ts';
import {
  type AssetRequest,
  type Category,
  type ImageSize,
  type ProviderContext,
  ProviderError,
  type ProviderJob,
  type Quality,
} from '../../services/asset/types.ts';
import { type FakeElevenLabs, makeMp3, startFakeElevenLabs } from '../fakes/elevenlabs.ts';
import { type FakeOpenAIImages, makePng, startFakeOpenAIImages } from '../fakes/openai-images.ts';
import { type FakeStability, startFakeStability } from '../fakes/stability.ts';

function job(
  over: {
    category?: Category;
    quality?: Quality;
    size?: ImageSize | null;
    description?: string;
    duration?: number | null;
    format?: string;
    soundtrack?: boolean;
    prompt?: string;
  } = {},
): ProviderJob {
  const category = over.category ?? 'image';
  const request: AssetRequest = {
    category,
    style: 'fantasy',
    description: over.description ?? 'A glowing magical sword with runes',
    requirements: {
      platform: null,
      quality: over.quality ?? 'medium',
      polygonCountMax: null,
      fileSizeMaxMb: null,
      format: over.format ?? (category === 'audio' ? 'mp3' : 'png'),
      size: over.size === undefined ? (category === 'audio' ? null : '1024x1024') : over.size,
      durationSeconds: over.duration === undefined ? (category === 'audio' ? 30 : null) : over.duration,
    },
    preferences: {
      allowDatabase: true,
      allowGeneration: true,
      maxCost: 500_000,
      maxWaitMs: 25_000,
      provider: null,
    },
    sessionId: 's1',
    requestHash: 'ab'.repeat(32),
    soundtrack: over.soundtrack ?? false,
  };
  return {
    request,
    prompt: over.prompt ?? 'A glowing magical sword with runes, epic fantasy art',
    warnings: [],
  };
}

function ctx(signal: AbortSignal = new AbortController().signal): ProviderContext & { progress: number[] } {
  const progress: number[] = [];
  return { signal, progress, onProgress: (p) => progress.push(p), onTask: () => {} };
}

async function failure(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ProviderError) return err;
    throw err;
  }
  throw new Error('expected a ProviderError');
}

function decode(bytes: Uint8Array): PNG {
  return PNG.sync.read(Buffer.from(bytes));
}

describe('errors', () => {
  test('Retry-After as seconds or HTTP date', () => {
    expect(retryAfterSeconds('17')).toBe(17);
    expect(retryAfterSeconds('1.2')).toBe(2);
    const now = Date.parse('2026-12-04T10:00:00Z');
    expect(retryAfterSeconds('Fri, 04 Dec 2026 10:00:30 GMT', now)).toBe(30);
    expect(retryAfterSeconds('soon')).toBeUndefined();
    expect(retryAfterSeconds(null)).toBeUndefined();
  });

  test('provider errors become the service answers', () => {
    const rej = toHttpError(new ProviderError('openai', 'rejected', 'content policy violation'));
    expect([rej.status, rej.detail]).toEqual([
      422,
      'Provider openai rejected the prompt: content policy violation',
    ]);
    const to = toHttpError(new ProviderError('stability', 'timeout', 'x', { timeoutS: 60 }));
    expect([to.status, to.detail]).toEqual([504, 'Provider stability timed out after 60 s']);
    const rl = toHttpError(new ProviderError('elevenlabs', 'rate_limited', 'x', { retryAfterS: 9 }));
    expect([rl.status, rl.detail, rl.headers['Retry-After']]).toEqual([
      503,
      'Provider elevenlabs is rate limiting; retry later',
      '9',
    ]);
    const e = toHttpError(new ProviderError('openai', 'error', 'HTTP 500 (server error)'));
    expect([e.status, e.detail]).toEqual([502, 'Provider openai failed: HTTP 500 (server error)']);
  });
});

describe('openai images', () => {
  let fake: FakeOpenAIImages;
  beforeAll(async () => {
    fake = await startFakeOpenAIImages();
  });
  afterAll(() => fake.stop());
  beforeEach(() => fake.reset());
  const adapter = (over: { model?: string; timeoutMs?: number; apiKey?: string } = {}) =>
    new OpenAIImageAdapter({ apiKey: over.apiKey ?? fake.apiKey, baseUrl: fake.url, ...over });

  test('configuration and capabilities', () => {
    expect(new OpenAIImageAdapter({ apiKey: '' }).configured()).toBe(false);
    const a = adapter();
    expect(a.configured()).toBe(true);
    expect(a.model).toBe('gpt-image-1');
    expect(a.supports('image') && a.supports('texture')).toBe(true);
    expect(a.supports('audio') || a.supports('prop')).toBe(false);
    expect(a.formats('image')).toEqual(['png']);
  });

  test('gpt-image-1: exact wire body, bearer key, PNG bytes, usage and size in metadata', async () => {
    const image = makePng(24, 16, [1, 2, 3]);
    fake.enqueue({ image });
    const c = ctx();
    const r = await adapter().generate(job({ quality: 'medium', size: '1792x1024' }), c);
    const req = fake.requests[0]!;
    expect(req.path).toBe('/v1/images/generations');
    expect(req.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
    expect(req.body).toEqual({
      model: 'gpt-image-1',
      prompt: 'A glowing magical sword with runes, epic fantasy art',
      n: 1,
      size: '1536x1024',
      quality: 'medium',
      output_format: 'png',
    });
    expect(r.file.kind).toBe('bytes');
    expect(r.file.kind === 'bytes' && Buffer.from(r.file.bytes).equals(Buffer.from(image))).toBe(true);
    expect(r.file.contentType).toBe('image/png');
    expect([r.format, r.model, r.qualityScore, r.license]).toEqual([
      'png',
      'gpt-image-1',
      0.85,
      'proprietary',
    ]);
    expect(r.metadata.size).toBe('1536x1024');
    expect(r.metadata.quality).toBe('medium');
    const usage = r.metadata.usage as any;
    expect(usage.output_tokens).toBe(1056);
    expect(usage.input_tokens_details.text_tokens).toBe(usage.input_tokens);
    expect(c.progress).toEqual([100]);
  });

  test('gpt-image quality and size mapping', async () => {
    const cases: [Quality, ImageSize, string, string, number][] = [
      ['low', '1024x1024', 'low', '1024x1024', 0.75],
      ['high', '1024x1792', 'high', '1024x1536', 0.95],
      ['ultra', '1024x1024', 'high', '1024x1024', 0.95],
    ];
    for (const [quality, size, wireQ, wireSize, score] of cases) {
      const r = await adapter().generate(job({ quality, size }), ctx());
      const body = fake.requests.at(-1)!.body;
      expect([body.quality, body.size]).toEqual([wireQ, wireSize]);
      expect(r.qualityScore).toBe(score);
    }
  });

  test('dall-e-3 keeps the older request shape and the revised prompt', async () => {
    fake.enqueue({ revisedPrompt: 'A sword, revised' });
    const r = await adapter({ model: 'dall-e-3' }).generate(
      job({ quality: 'high', size: '1792x1024' }),
      ctx(),
    );
    expect(fake.requests[0]!.body).toEqual({
      model: 'dall-e-3',
      prompt: 'A glowing magical sword with runes, epic fantasy art',
      n: 1,
      size: '1792x1024',
      quality: 'hd',
      response_format: 'b64_json',
    });
    expect(r.metadata.revised_prompt).toBe('A sword, revised');
    expect(r.metadata.usage).toBeUndefined();
    expect([r.metadata.size, r.metadata.quality, r.qualityScore]).toEqual(['1792x1024', 'hd', 0.95]);
    await adapter({ model: 'dall-e-3' }).generate(job({ quality: 'low' }), ctx());
    expect(fake.requests[1]!.body.quality).toBe('standard');
  });

  test('content policy refusals are rejected, for both model families', async () => {
    fake.enqueue({ refuse: true }, { refuse: true });
    const a = await failure(adapter().generate(job(), ctx()));
    expect([a.kind, a.provider, a.reason]).toEqual(['rejected', 'openai', 'content policy violation']);
    const b = await failure(adapter({ model: 'dall-e-3' }).generate(job(), ctx()));
    expect(b.kind).toBe('rejected');
  });

  test('429 carries Retry-After; 500 is a short error; no retries are made', async () => {
    fake.enqueue({ status: 429, retryAfter: '12' });
    const rl = await failure(adapter().generate(job(), ctx()));
    expect([rl.kind, rl.opts.retryAfterS]).toEqual(['rate_limited', 12]);
    expect(fake.requests).toHaveLength(1);
    fake.enqueue({ status: 500 });
    const e = await failure(adapter().generate(job(), ctx()));
    expect(e.kind).toBe('error');
    expect(e.reason).toBe('HTTP 500 (server error, code server_error)');
    expect(fake.requests).toHaveLength(2);
  });

  test('a wrong key fails without echoing the provider message', async () => {
    const e = await failure(adapter({ apiKey: 'sk-wrong-secret' }).generate(job(), ctx()));
    expect(e.kind).toBe('error');
    expect(e.reason).toBe('HTTP 401 (authentication failed, code invalid_api_key)');
    expect(e.message).not.toContain('sk-');
  });

  test('a hanging server times out after timeoutMs and the request is aborted', async () => {
    fake.enqueue({ hang: true });
    const started = Date.now();
    const e = await failure(adapter({ timeoutMs: 300 }).generate(job(), ctx()));
    expect([e.kind, e.opts.timeoutS]).toEqual(['timeout', 0.3]);
    expect(Date.now() - started).toBeLessThan(3000);
    await Bun.sleep(50);
    expect(fake.requests[0]!.aborted).toBe(true);
    expect(toHttpError(e).detail).toBe('Provider openai timed out after 0.3 s');
  });

  test('a body that stalls after the headers also times out', async () => {
    fake.enqueue({ stallBody: true });
    const e = await failure(adapter({ timeoutMs: 300 }).generate(job(), ctx()));
    expect(e.kind).toBe('timeout');
  });

  test('a caller abort cancels the call', async () => {
    fake.enqueue({ hang: true });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const e = await failure(adapter().generate(job(), ctx(ac.signal)));
    expect([e.kind, e.reason]).toEqual(['error', 'request cancelled']);
    const t = await failure(adapter().generate(job(), ctx(AbortSignal.timeout(1))));
    expect(t.kind).toBe('timeout');
  });

  test('an answer that is not a PNG is an error', async () => {
    fake.enqueue({ b64: Buffer.from('<html>nope</html>').toString('base64') });
    const e = await failure(adapter().generate(job(), ctx()));
    expect([e.kind, e.reason]).toEqual(['error', 'answer was not a PNG image']);
  });
});

describe('stability', () => {
  let fake: FakeStability;
  beforeAll(async () => {
    fake = await startFakeStability();
  });
  afterAll(() => fake.stop());
  beforeEach(() => fake.reset());
  const adapter = (over: { version?: 'v1' | 'v2beta'; timeoutMs?: number } = {}) =>
    new StabilityAdapter({ apiKey: fake.apiKey, baseUrl: fake.url, ...over });

  test('configuration', () => {
    expect(new StabilityAdapter({}).configured()).toBe(false);
    expect(adapter().configured()).toBe(true);
    expect(adapter().formats('texture')).toEqual(['png']);
    expect(adapter().supports('audio')).toBe(false);
  });

  test('v2beta core: multipart fields, headers, image, credits and tier', async () => {
    fake.enqueue({ seed: 42 });
    const r = await adapter().generate(job({ quality: 'low', size: '1792x1024' }), ctx());
    const req = fake.requests[0]!;
    expect(req.path).toBe('/v2beta/stable-image/generate/core');
    expect(req.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
    expect(req.headers.accept).toBe('application/json');
    expect(req.headers['content-type']).toStartWith('multipart/form-data; boundary=');
    expect(req.form).toEqual({
      prompt: 'A glowing magical sword with runes, epic fantasy art',
      output_format: 'png',
      aspect_ratio: '16:9',
    });
    expect(r.file.kind === 'bytes' && decode(r.file.bytes).width).toBe(56);
    expect(r.metadata).toMatchObject({
      tier: 'core',
      credits_used: 3,
      seed: 42,
      size: '56x32',
      aspect_ratio: '16:9',
      finish_reason: 'SUCCESS',
    });
    expect([r.format, r.qualityScore, r.license, r.model]).toEqual([
      'png',
      0.9,
      'proprietary',
      'stable-image-core',
    ]);
  });

  test('high → sd3 with sd3.5-large, ultra → ultra', async () => {
    const sd3 = await adapter().generate(job({ quality: 'high', size: '1024x1792' }), ctx());
    expect(fake.requests[0]!.path).toBe('/v2beta/stable-image/generate/sd3');
    expect(fake.requests[0]!.form).toMatchObject({ model: 'sd3.5-large', aspect_ratio: '9:16' });
    expect([sd3.metadata.tier, sd3.metadata.credits_used, sd3.model]).toEqual(['sd3', 6.5, 'sd3.5-large']);
    const ultra = await adapter().generate(job({ quality: 'ultra' }), ctx());
    expect(fake.requests[1]!.path).toBe('/v2beta/stable-image/generate/ultra');
    expect(fake.requests[1]!.form?.model).toBeUndefined();
    expect(fake.requests[1]!.form?.aspect_ratio).toBe('1:1');
    expect([ultra.metadata.tier, ultra.metadata.credits_used]).toEqual(['ultra', 8]);
  });

  test('CONTENT_FILTERED and content moderation are rejections', async () => {
    fake.enqueue({ filtered: true }, { moderated: true });
    const a = await failure(adapter().generate(job(), ctx()));
    expect([a.kind, a.reason]).toEqual(['rejected', 'content filtered']);
    const b = await failure(adapter().generate(job(), ctx()));
    expect([b.kind, b.reason]).toEqual(['rejected', 'content moderation']);
  });

  test('429 with Retry-After, 500, 400 with safe reasons', async () => {
    fake.enqueue({ status: 429, retryAfter: '3' }, { status: 500 }, { status: 400 });
    const rl = await failure(adapter().generate(job(), ctx()));
    expect([rl.kind, rl.opts.retryAfterS]).toEqual(['rate_limited', 3]);
    const e = await failure(adapter().generate(job(), ctx()));
    expect([e.kind, e.reason]).toEqual(['error', 'HTTP 500 (server error, code internal_error)']);
    const bad = await failure(adapter().generate(job(), ctx()));
    expect(bad.reason).toBe('HTTP 400 (bad request, code bad_request)');
  });

  test('timeout', async () => {
    fake.enqueue({ hang: true });
    const e = await failure(adapter({ timeoutMs: 200 }).generate(job(), ctx()));
    expect(e.kind).toBe('timeout');
  });

  test('v1: JSON body, SDXL dimensions, artifacts, tier', async () => {
    const r = await adapter({ version: 'v1' }).generate(job({ quality: 'high', size: '1792x1024' }), ctx());
    const req = fake.requests[0]!;
    expect(req.path).toBe('/v1/generation/stable-diffusion-xl-1024-v1-0/text-to-image');
    expect(req.headers.authorization).toBe(`Bearer ${fake.apiKey}`);
    expect(req.headers.accept).toBe('application/json');
    expect(req.json).toEqual({
      text_prompts: [{ text: 'A glowing magical sword with runes, epic fantasy art', weight: 1 }],
      cfg_scale: 7,
      width: 1344,
      height: 768,
      samples: 1,
      steps: 30,
    });
    expect(r.file.kind === 'bytes' && decode(r.file.bytes).width).toBe(42);
    expect([r.metadata.tier, r.metadata.size, r.metadata.credits_used]).toEqual([
      'hd',
      '1344x768',
      undefined,
    ]);
    fake.enqueue({ filtered: true });
    const e = await failure(adapter({ version: 'v1' }).generate(job(), ctx()));
    expect(e.kind).toBe('rejected');
  });
});

describe('elevenlabs', () => {
  let fake: FakeElevenLabs;
  beforeAll(async () => {
    fake = await startFakeElevenLabs();
  });
  afterAll(() => fake.stop());
  beforeEach(() => fake.reset());
  const adapter = (over: { timeoutMs?: number; maxBytes?: number; apiKey?: string } = {}) =>
    new ElevenLabsAdapter({ apiKey: over.apiKey ?? fake.apiKey, baseUrl: fake.url, ...over });
  const audio = (over: Parameters<typeof job>[0] = {}) =>
    job({
      category: 'audio',
      description: 'An epic orchestral battle theme',
      prompt: 'epic orchestral battle',
      ...over,
    });

  test('configuration', () => {
    expect(new ElevenLabsAdapter({ apiKey: ' ' }).configured()).toBe(false);
    expect(adapter().supports('audio')).toBe(true);
    expect(adapter().supports('image')).toBe(false);
    expect(adapter().formats('audio')).toEqual(['mp3']);
  });

  test('music: exact body, xi-api-key, MP3 bytes, metadata', async () => {
    const r = await adapter().generate(audio({ duration: 45 }), ctx());
    const req = fake.requests[0]!;
    expect(req.path).toBe('/v1/music');
    expect(req.headers['xi-api-key']).toBe(fake.apiKey);
    expect(req.headers.authorization).toBeUndefined();
    expect(req.body).toEqual({
      prompt: 'epic orchestral battle',
      music_length_ms: 45_000,
      model_id: 'music_v1',
      force_instrumental: true,
    });
    expect(r.file.kind === 'bytes' && Buffer.from(r.file.bytes).equals(Buffer.from(makeMp3()))).toBe(true);
    expect(r.file.contentType).toBe('audio/mpeg');
    expect([r.format, r.qualityScore, r.license]).toEqual(['mp3', 0.85, 'commercial']);
    expect(r.metadata).toMatchObject({
      operation: 'music',
      duration_seconds: 45,
      provider_task_id: 'song_fake1',
    });
  });

  test('sound effects by wording or short duration', async () => {
    expect(elevenLabsMode(audio({ description: 'A door creak sound effect' }).request)).toBe('sound_effect');
    expect(elevenLabsMode(audio({ description: 'laser SFX' }).request)).toBe('sound_effect');
    expect(elevenLabsMode(audio({ duration: 10 }).request)).toBe('sound_effect');
    expect(elevenLabsMode(audio().request)).toBe('music');

    const r = await adapter().generate(audio({ description: 'Explosion sound effect', duration: 60 }), ctx());
    expect(fake.requests[0]!.path).toBe('/v1/sound-generation');
    expect(fake.requests[0]!.body).toEqual({
      text: 'epic orchestral battle',
      duration_seconds: 30,
      prompt_influence: 0.3,
      loop: false,
    });
    expect(r.metadata).toMatchObject({ operation: 'sound_effect', duration_seconds: 30 });
    await adapter().generate(audio({ duration: 5 }), ctx());
    expect(fake.requests[1]!.body.duration_seconds).toBe(5);
  });

  test('errors: bad_prompt rejected, 429 Retry-After, 401, non-MP3 body, oversize body', async () => {
    fake.enqueue(
      { badPrompt: true },
      { status: 429, retryAfter: '5' },
      { body: new TextEncoder().encode('<html>gateway</html>'), contentType: 'text/html' },
      { frames: 20 },
    );
    const rej = await failure(adapter().generate(audio(), ctx()));
    expect([rej.kind, rej.reason]).toEqual(['rejected', 'prompt not allowed']);
    const rl = await failure(adapter().generate(audio(), ctx()));
    expect([rl.kind, rl.opts.retryAfterS]).toEqual(['rate_limited', 5]);
    const notMp3 = await failure(adapter().generate(audio(), ctx()));
    expect(notMp3.reason).toBe('answer was not MP3 audio');
    const big = await failure(adapter({ maxBytes: 2000 }).generate(audio(), ctx()));
    expect([big.kind, big.reason]).toEqual(['error', 'result larger than 2000 bytes']);
    const auth = await failure(adapter({ apiKey: 'wrong' }).generate(audio(), ctx()));
    expect(auth.reason).toBe('HTTP 401 (authentication failed, code invalid_api_key)');
  });

  test('timeout and non-mp3 format', async () => {
    fake.enqueue({ hang: true });
    const e = await failure(adapter({ timeoutMs: 200 }).generate(audio(), ctx()));
    expect(e.kind).toBe('timeout');
    await expect(adapter().generate(audio({ format: 'wav' }), ctx())).rejects.toMatchObject({ status: 422 });
  });
});

describe('adapters built from the asset configuration', () => {
  test('settings reach the wire: base URLs, model, version, key, size cap', async () => {
    const [oa, st, el] = await Promise.all([
      startFakeOpenAIImages(),
      startFakeStability(),
      startFakeElevenLabs(),
    ]);
    try {
      const config = {
        providerTimeoutMs: 5000,
        maxFileMb: 1,
        openai: { apiKey: oa.apiKey, imagesBaseUrl: oa.url, imageModel: 'dall-e-3' },
        stability: {
          apiKey: st.apiKey,
          apiBase: st.url,
          apiVersion: 'v1' as const,
          engine: 'sdxl-test-engine',
        },
        elevenlabs: { apiKey: el.apiKey, apiBase: el.url },
      };
      const o = openaiImageAdapterFrom(config);
      expect(o.maxPromptChars).toBe(4000);
      await o.generate(job(), ctx());
      expect(oa.requests[0]!.body.model).toBe('dall-e-3');
      await stabilityAdapterFrom(config).generate(job(), ctx());
      expect(st.requests[0]!.path).toBe('/v1/generation/sdxl-test-engine/text-to-image');
      const e = elevenLabsAdapterFrom(config);
      await e.generate(job({ category: 'audio' }), ctx());
      expect(el.requests[0]!.headers['xi-api-key']).toBe(el.apiKey);
      el.enqueue({ frames: 3000 }); // about 1.2 MB, over the 1 MB cap
      const big = await failure(e.generate(job({ category: 'audio' }), ctx()));
      expect(big.reason).toBe(`result larger than ${1024 * 1024} bytes`);
      expect(
        openaiImageAdapterFrom({ ...config, openai: { ...config.openai, apiKey: undefined } }).configured(),
      ).toBe(false);
    } finally {
      await Promise.all([oa.stop(), st.stop(), el.stop()]);
    }
  });
});
