import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GenerationRow } from '../../services/asset/pricing/analytics.ts';
import { type PricedAssetRequest, Pricing } from '../../services/asset/pricing/service.ts';
import { PricingFileError } from '../../services/asset/pricing/table.ts';
import type {
  AssetRequest,
  Category,
  Estimate,
  ImageSize,
  ProviderId,
  ProviderResult,
  Quality,
} from '../../services/asset/types.ts';
import { HttpError } from '../../src/http/errors.ts';

const NOW = new Date('2025-12-05T10:00:00.000Z');
const now = () => NOW;
const dir = mkdtempSync(join(tmpdir(), 'asset-pricing-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function req(
  category: Category,
  opts: {
    quality?: Quality;
    size?: ImageSize | null;
    duration?: number | null;
    description?: string;
    soundtrack?: boolean;
    maxCost?: number;
  } = {},
): AssetRequest {
  return {
    category,
    style: 'fantasy',
    description: opts.description ?? 'A glowing magical sword with runes',
    requirements: {
      platform: null,
      quality: opts.quality ?? 'medium',
      polygonCountMax: null,
      fileSizeMaxMb: null,
      format: 'png',
      size: opts.size ?? null,
      durationSeconds: opts.duration ?? null,
    },
    preferences: {
      allowDatabase: true,
      allowGeneration: true,
      maxCost: opts.maxCost ?? 500_000,
      maxWaitMs: 25_000,
      provider: null,
    },
    sessionId: 's',
    requestHash: 'h',
    soundtrack: opts.soundtrack ?? false,
  };
}

function result(metadata: Record<string, unknown>): ProviderResult {
  return {
    file: { kind: 'bytes', bytes: new Uint8Array(1), contentType: 'image/png' },
    format: 'png',
    model: 'm',
    qualityScore: 0.8,
    license: 'proprietary',
    metadata,
  };
}

/** Runs fn and returns the HttpError it threw (fails the test when it does not throw one). */
function httpError(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    return err as HttpError;
  }
  throw new Error('expected an HttpError');
}

async function httpErrorAsync(fn: () => Promise<unknown>): Promise<HttpError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    return err as HttpError;
  }
  throw new Error('expected an HttpError');
}

const pricing = new Pricing({ now });
const cost = (p: Pricing, provider: ProviderId, r: AssetRequest) => p.estimate(provider, r).cost;
const allConfigured = () => true;
const onlyOpenai = (p: ProviderId) => p === 'openai';

describe('estimate: current provider APIs', () => {
  test('gpt-image per image by quality, square and wide', () => {
    const cases: [Quality, ImageSize | null, number][] = [
      ['low', null, 11_000],
      ['low', '1792x1024', 16_000],
      ['medium', '1024x1024', 42_000],
      ['medium', '1024x1792', 63_000],
      ['high', null, 167_000],
      ['high', '1792x1024', 250_000],
      ['ultra', null, 167_000],
    ];
    for (const [quality, size, expected] of cases) {
      expect(cost(pricing, 'openai', req('image', { quality, size }))).toBe(expected);
    }
    expect(pricing.estimate('openai', req('image', { quality: 'ultra' }))).toEqual({
      provider: 'openai',
      cost: 167_000,
      operation: 'image_generation',
      tier: 'high',
    });
    expect(pricing.estimate('openai', req('texture')).operation).toBe('texture_generation');
  });

  test('stability v2beta credits at $0.01: core 3, sd3 6.5, ultra 8', () => {
    expect(pricing.estimate('stability', req('image', { quality: 'low' }))).toMatchObject({
      cost: 30_000,
      tier: 'core',
    });
    expect(pricing.estimate('stability', req('image', { quality: 'medium' }))).toMatchObject({
      cost: 30_000,
      tier: 'core',
    });
    expect(pricing.estimate('stability', req('image', { quality: 'high' }))).toMatchObject({
      cost: 65_000,
      tier: 'sd3',
    });
    expect(pricing.estimate('stability', req('texture', { quality: 'ultra' }))).toEqual({
      provider: 'stability',
      cost: 80_000,
      operation: 'texture_generation',
      tier: 'ultra',
    });
  });

  test('meshy: preview 20 credits, textured 30 credits, at $0.02', () => {
    expect(pricing.estimate('meshy', req('prop', { quality: 'low' }))).toEqual({
      provider: 'meshy',
      cost: 400_000,
      operation: 'text_to_3d',
      tier: 'preview',
    });
    expect(cost(pricing, 'meshy', req('character', { quality: 'medium' }))).toBe(400_000);
    expect(pricing.estimate('meshy', req('environment', { quality: 'high' }))).toEqual({
      provider: 'meshy',
      cost: 600_000,
      operation: 'text_to_3d_with_texture',
      tier: 'textured',
    });
    expect(cost(pricing, 'meshy', req('prop', { quality: 'ultra' }))).toBe(600_000);
  });

  test('elevenlabs: music per second, sound effects per second with a minimum', () => {
    expect(pricing.estimate('elevenlabs', req('audio', { duration: 30 }))).toEqual({
      provider: 'elevenlabs',
      cost: 375_000,
      operation: 'audio_generation',
      tier: 'music',
    });
    // Default durations: 30 s, soundtracks 60 s.
    expect(cost(pricing, 'elevenlabs', req('audio'))).toBe(375_000);
    expect(cost(pricing, 'elevenlabs', req('audio', { soundtrack: true }))).toBe(750_000);
    // 2 s of sound effect is $0.004, below the $0.01 minimum.
    const door = req('audio', { duration: 2, description: 'A creaking door' });
    expect(pricing.estimate('elevenlabs', door)).toMatchObject({ cost: 10_000, tier: 'sfx' });
    const boom = req('audio', { duration: 20, description: 'Explosion Sound Effect' });
    expect(pricing.estimate('elevenlabs', boom)).toMatchObject({ cost: 40_000, tier: 'sfx' });
    // The sound-effects endpoint stops at 30 s, so a longer request is priced at 30 s.
    expect(cost(pricing, 'elevenlabs', req('audio', { duration: 120, description: 'laser sfx' }))).toBe(
      60_000,
    );
    // "sfx" must be a word, not part of one.
    expect(cost(pricing, 'elevenlabs', req('audio', { duration: 30, description: 'sfxtreme rock' }))).toBe(
      375_000,
    );
  });

  test('mubert: per second by tier, $0.05 minimum, no soundtrack multiplier', () => {
    expect(pricing.estimate('mubert', req('audio', { duration: 30 }))).toEqual({
      provider: 'mubert',
      cost: 150_000,
      operation: 'audio_generation',
      tier: 'standard',
    });
    expect(
      pricing.estimate(
        'mubert',
        req('audio', { quality: 'high', soundtrack: true, description: 'background soundtrack' }),
      ),
    ).toMatchObject({ cost: 480_000, tier: 'high' });
    expect(cost(pricing, 'mubert', req('audio', { duration: 5 }))).toBe(50_000);
  });

  test('local is free', () => {
    expect(pricing.estimate('local', req('image', { quality: 'ultra', size: '1792x1024' }))).toEqual({
      provider: 'local',
      cost: 0,
      operation: 'image_generation',
      tier: 'free',
    });
  });

  test('OPENAI_IMAGE_MODEL=dall-e-3 and STABILITY_API_VERSION=v1 use the per-image table', () => {
    const legacy = new Pricing({ now, openaiImageModel: 'dall-e-3', stabilityApiVersion: 'v1' });
    expect(legacy.estimate('openai', req('image'))).toEqual({
      provider: 'openai',
      cost: 40_000,
      operation: 'image_generation',
      tier: 'standard',
    });
    expect(cost(legacy, 'openai', req('image', { quality: 'high' }))).toBe(80_000);
    expect(cost(legacy, 'openai', req('image', { size: '1792x1024' }))).toBe(80_000);
    expect(cost(legacy, 'openai', req('image', { quality: 'ultra', size: '1024x1792' }))).toBe(120_000);
    expect(legacy.estimate('stability', req('image', { quality: 'low' }))).toMatchObject({
      cost: 20_000,
      tier: 'standard',
    });
    expect(legacy.estimate('stability', req('image', { quality: 'high' }))).toMatchObject({
      cost: 40_000,
      tier: 'hd',
    });
    expect(legacy.estimate('stability', req('image', { quality: 'ultra' }))).toMatchObject({
      cost: 80_000,
      tier: 'ultra',
    });
    // The other providers are untouched by those settings.
    expect(cost(legacy, 'meshy', req('prop'))).toBe(400_000);
  });
});

describe('actual costs', () => {
  const image = req('image');
  const est = (provider: ProviderId, r: AssetRequest): Estimate => pricing.estimate(provider, r);

  test('OpenAI usage: text $5/1M, image input $10/1M, output $40/1M', () => {
    const usage = {
      input_tokens: 150,
      input_tokens_details: { text_tokens: 50, image_tokens: 100 },
      output_tokens: 4160,
      total_tokens: 4310,
    };
    // 50×5 + 100×10 + 4160×40 micro-dollars.
    expect(pricing.actual('openai', image, result({ usage }), est('openai', image))).toBe(167_650);
    // Without details every input token is text.
    const plain = { input_tokens: 20, output_tokens: 1056 };
    expect(pricing.actual('openai', image, result({ usage: plain }), est('openai', image))).toBe(
      20 * 5 + 1056 * 40,
    );
    // Only image tokens broken out: the rest of the input is text.
    const partial = { input_tokens: 300, input_tokens_details: { image_tokens: 200 }, output_tokens: 0 };
    expect(pricing.actual('openai', image, result({ usage: partial }), est('openai', image))).toBe(
      100 * 5 + 200 * 10,
    );
  });

  test('OpenAI without usable usage falls back to the estimate', () => {
    const e = est('openai', image);
    expect(pricing.actual('openai', image, result({}), e)).toBe(42_000);
    expect(
      pricing.actual('openai', image, result({ usage: { input_tokens: 'x', output_tokens: 3 } }), e),
    ).toBe(42_000);
    expect(
      pricing.actual('openai', image, result({ usage: { input_tokens: -1, output_tokens: 3 } }), e),
    ).toBe(42_000);
  });

  test('Stability and Meshy from credits used; Meshy test mode is free', () => {
    const hi = req('image', { quality: 'high' });
    expect(pricing.actual('stability', hi, result({ credits_used: 6.5 }), est('stability', hi))).toBe(65_000);
    expect(pricing.actual('stability', hi, result({}), est('stability', hi))).toBe(65_000);
    const prop = req('prop', { quality: 'high' });
    expect(pricing.actual('meshy', prop, result({ credits_used: 25 }), est('meshy', prop))).toBe(500_000);
    expect(pricing.actual('meshy', prop, result({ credits_used: 0 }), est('meshy', prop))).toBe(0);
    expect(
      pricing.actual('meshy', prop, result({ test_mode: true, credits_used: 30 }), est('meshy', prop)),
    ).toBe(0);
    expect(pricing.actual('meshy', prop, result({ credits_used: 'many' }), est('meshy', prop))).toBe(600_000);
  });

  test('audio and local: the estimate, never a fee', () => {
    const a = req('audio', { duration: 30 });
    expect(pricing.actual('elevenlabs', a, result({ duration_seconds: 30 }), est('elevenlabs', a))).toBe(
      375_000,
    );
    expect(pricing.actual('mubert', a, result({}), est('mubert', a))).toBe(150_000);
    expect(pricing.actual('local', image, result({}), est('local', image))).toBe(0);
  });
});

describe('pricing file', () => {
  test('overrides any price; reload picks up changes; last_updated moves for what changed', () => {
    const file = join(dir, 'prices.json');
    writeFileSync(file, JSON.stringify({ gpt_image: { per_image: { medium: { square: 0.05 } } } }));
    let t = NOW;
    const p = new Pricing({ file, now: () => t });
    expect(cost(p, 'openai', req('image'))).toBe(50_000);
    // Untouched neighbours keep their defaults.
    expect(cost(p, 'openai', req('image', { size: '1792x1024' }))).toBe(63_000);
    expect(cost(p, 'stability', req('image'))).toBe(30_000);

    writeFileSync(
      file,
      JSON.stringify({
        stability: { credits: { core: 4 } },
        meshy: { default_package: 'enterprise' },
        mubert: { per_second: { standard: 0.006 } },
      }),
    );
    // Files are read on reload, not on every estimate.
    expect(cost(p, 'stability', req('image'))).toBe(30_000);
    t = new Date('2025-12-06T00:00:00.000Z');
    p.reload();
    expect(cost(p, 'openai', req('image'))).toBe(42_000);
    expect(cost(p, 'stability', req('image'))).toBe(40_000);
    // Enterprise credits cost $0.016: 20 × 0.016.
    expect(cost(p, 'meshy', req('prop'))).toBe(320_000);
    expect(cost(p, 'mubert', req('audio'))).toBe(180_000);
    const updated = (name: string) =>
      ((p.providers(allConfigured).providers as Record<string, unknown>[]).find((e) => e.name === name)!
        .last_updated as string) ?? '';
    expect(updated('stability')).toBe('2025-12-06T00:00:00.000Z');
    expect(updated('dalle')).toBe('2025-12-06T00:00:00.000Z');
    expect(updated('claude')).toBe('2025-12-05T10:00:00.000Z');
  });

  test('bad files are refused with a reason, and a failed reload keeps the old prices', () => {
    const file = join(dir, 'bad.json');
    const refused = (content: string) => {
      writeFileSync(file, content);
      try {
        new Pricing({ file });
      } catch (err) {
        expect(err).toBeInstanceOf(PricingFileError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refused('{not json')).toContain('not valid JSON');
    expect(refused('{"gpt_image":{"per_image":{"medium":{"squar":0.05}}}}')).toContain(
      'Unknown pricing key: gpt_image.per_image.medium.squar',
    );
    expect(refused('{"stability":{"credit_price":-1}}')).toContain(
      'stability.credit_price must be a number >= 0',
    );
    expect(refused('{"mubert":{"minimum":"0.05"}}')).toContain('mubert.minimum must be a number');
    expect(refused('{"meshy":{"default_package":"gold"}}')).toContain('names no package: gold');
    expect(refused('{"meshy":{"packages":[{"name":"Solo","credits":10}]}}')).toContain(
      'meshy.packages[0].cost is required',
    );
    expect(() => new Pricing({ file: join(dir, 'missing.json') })).toThrow('Cannot read pricing file');

    writeFileSync(file, JSON.stringify({ meshy: { operations: { text_to_3d: 6, rigging: 4 } } }));
    const p = new Pricing({ file, now });
    expect(p.meshyPackages().operations).toMatchObject({ text_to_3d: 6, rigging: 4, mesh_refining: 8 });
    writeFileSync(file, '{"claude":{"input_per_1k":"free"}}');
    const err = httpError(() => p.update('claude', { admin: true }));
    expect(err.status).toBe(500);
    expect(err.detail).toContain('claude.input_per_1k must be a number');
    expect(p.meshyPackages().operations).toMatchObject({ rigging: 4 });
  });

  test('the table in force cannot be edited through a route body', () => {
    const body = pricing.current({ provider: 'dalle' }).pricing as {
      rates: { standard: Record<string, number> };
    };
    expect(() => {
      body.rates.standard['1024x1024'] = 0;
    }).toThrow(TypeError);
    expect(cost(new Pricing({ now, openaiImageModel: 'dall-e-3' }), 'openai', req('image'))).toBe(40_000);
    expect(pricing.current({ provider: 'dalle' })).toMatchObject({ pricing: { cost_per_unit: 0.04 } });
  });

  test('POST /update reloads the file', () => {
    const file = join(dir, 'update.json');
    writeFileSync(file, '{}');
    const p = new Pricing({ file, now });
    expect(p.current({ provider: 'dalle' })).toMatchObject({ pricing: { cost_per_unit: 0.04 } });
    writeFileSync(file, JSON.stringify({ dalle: { rates: { standard: { '1024x1024': 0.05 } } } }));
    expect(p.update('dalle', { admin: true })).toEqual({
      message: 'Pricing update triggered for dalle',
      provider: 'dalle',
      update_time: NOW.toISOString(),
      status: 'completed',
    });
    expect(p.current({ provider: 'dalle' })).toMatchObject({ pricing: { cost_per_unit: 0.05 } });
    expect(p.update('openai', { admin: true }).provider).toBe('dalle');
  });
});

describe('GET /current', () => {
  test('dalle: per-image rates by tier and size', () => {
    expect(pricing.current({ provider: 'dalle', category: 'image' })).toEqual({
      pricing: {
        provider: 'dalle',
        model: 'per_image',
        category: 'image',
        quality: 'standard',
        rates: {
          standard: { '1024x1024': 0.04, '1792x1024': 0.08, '1024x1792': 0.08 },
          hd: { '1024x1024': 0.08, '1792x1024': 0.12, '1024x1792': 0.12 },
        },
        cost_per_unit: 0.04,
        last_updated: NOW.toISOString(),
      },
      effective_date: NOW.toISOString(),
      currency: 'USD',
    });
    expect(pricing.current({ provider: 'OpenAI', quality: 'hd' })).toMatchObject({
      pricing: { provider: 'dalle', quality: 'hd', cost_per_unit: 0.08, category: 'image' },
    });
  });

  test('the other providers', () => {
    expect(pricing.current({ provider: 'stability', quality: 'ultra' }).pricing).toMatchObject({
      model: 'per_image',
      rates: { standard: 0.02, hd: 0.04, ultra: 0.08 },
      cost_per_unit: 0.08,
    });
    expect(pricing.current({ provider: 'meshy' }).pricing).toMatchObject({
      model: 'credit_based',
      category: 'prop',
      rates: { cost_per_credit: 0.02, operations: { text_to_3d: 5, text_to_3d_with_texture: 15 } },
      cost_per_unit: 0.02,
    });
    expect(pricing.current({ provider: 'mubert', quality: 'high' }).pricing).toMatchObject({
      model: 'per_second',
      category: 'audio',
      rates: { standard: 0.005, high: 0.008, minimum_per_track: 0.05 },
      cost_per_unit: 0.008,
    });
    expect(pricing.current({ provider: 'local' }).pricing).toMatchObject({
      model: 'free',
      rates: {},
      cost_per_unit: 0,
    });
    expect(pricing.current({ provider: 'claude' }).pricing).toMatchObject({
      model: 'token_based',
      rates: { input_per_1k: 0.015, output_per_1k: 0.075 },
      cost_per_unit: 0.015,
    });
  });

  test('errors: missing provider 422, unknown 404, bad quality 422', () => {
    const missing = httpError(() => pricing.current({}));
    expect(missing.status).toBe(422);
    expect(missing.body.errors).toEqual([{ path: 'provider', message: 'Field required' }]);
    expect(httpError(() => pricing.current({ provider: '  ' })).status).toBe(422);
    const foo = httpError(() => pricing.current({ provider: 'foo' }));
    expect(foo.status).toBe(404);
    expect(foo.body).toEqual({ detail: 'Pricing not found for provider: foo' });
    expect(httpError(() => pricing.current({ provider: 'dalle', quality: 'extreme' })).status).toBe(422);
  });
});

describe('GET /providers', () => {
  test('lists the seven priced providers with their configuration', () => {
    const body = pricing.providers(onlyOpenai);
    expect(body.total_providers).toBe(7);
    expect(body.supported_models).toEqual(['per_image', 'credit_based', 'per_second', 'token_based', 'free']);
    const list = body.providers as Record<string, unknown>[];
    expect(list.map((p) => p.name)).toEqual([
      'dalle',
      'stability',
      'meshy',
      'mubert',
      'local',
      'openai_gpt',
      'claude',
    ]);
    expect(list[0]).toEqual({
      name: 'dalle',
      pricing_model: 'per_image',
      status: 'active',
      configured: true,
      last_updated: NOW.toISOString(),
      capabilities: ['image_generation', 'texture_generation'],
    });
    expect(list[2]).toEqual({
      name: 'meshy',
      pricing_model: 'credit_based',
      status: 'unconfigured',
      configured: false,
      last_updated: NOW.toISOString(),
      capabilities: ['3d_generation'],
      operations: [
        'text_to_3d',
        'text_to_3d_with_texture',
        'image_to_3d',
        'mesh_refining',
        'texture_generation',
      ],
    });
    expect(list[6]).toMatchObject({
      status: 'pricing_only',
      configured: false,
      pricing_model: 'token_based',
    });
    // The token-priced models are never reported as configured, whatever the callback says.
    const all = pricing.providers(allConfigured).providers as Record<string, unknown>[];
    expect(all.map((p) => p.configured)).toEqual([true, true, true, true, true, false, false]);
  });
});

describe('POST /cost-estimator/estimate', () => {
  const noAssetRequest = {
    priceAssetRequest: (): PricedAssetRequest => {
      throw new Error('not expected');
    },
  };
  const est = (body: unknown) => pricing.estimateRoute(body, noAssetRequest);

  test('dalle hd × 2', async () => {
    expect(
      await est({ provider: 'dalle', operation: 'image_generation', quantity: 2, quality: 'hd' }),
    ).toEqual({
      provider: 'dalle',
      operation: 'image_generation',
      quantity: 2,
      quality: 'hd',
      cost_per_unit: 0.08,
      total_cost: 0.16,
      tier_fee: 0,
      currency: 'USD',
      estimate_time: NOW.toISOString(),
    });
    expect(await est({ provider: 'openai', size: '1792x1024' })).toMatchObject({
      provider: 'dalle',
      operation: 'image_generation',
      quantity: 1,
      quality: 'standard',
      total_cost: 0.08,
    });
  });

  test('meshy adds credits; the package sets the credit price', async () => {
    expect(await est({ provider: 'meshy', operation: 'text_to_3d_with_texture', quantity: 2 })).toEqual({
      provider: 'meshy',
      operation: 'text_to_3d_with_texture',
      quantity: 2,
      quality: 'standard',
      cost_per_unit: 0.3,
      total_cost: 0.6,
      tier_fee: 0,
      credits_per_operation: 15,
      total_credits: 30,
      cost_per_credit: 0.02,
      estimated_cost: 0.6,
      currency: 'USD',
      estimate_time: NOW.toISOString(),
    });
    expect(await est({ provider: 'meshy' })).toMatchObject({ operation: 'text_to_3d', total_cost: 0.1 });
    expect(await est({ provider: 'meshy', operation: 'text_to_3d', package: 'Starter' })).toMatchObject({
      cost_per_credit: 0.03,
      total_cost: 0.15,
    });
    expect((await httpErrorAsync(() => est({ provider: 'meshy', package: 'gold' }))).status).toBe(422);
  });

  test('token providers: output assumed half the tokens', async () => {
    expect(await est({ provider: 'claude', estimated_tokens: 1000 })).toEqual({
      provider: 'claude',
      operation: 'text_completion',
      quantity: 1,
      quality: 'standard',
      cost_per_unit: 0.0525,
      total_cost: 0.0525,
      tier_fee: 0,
      input_cost: 0.015,
      output_cost: 0.0375,
      tokens_estimated: 1000,
      currency: 'USD',
      estimate_time: NOW.toISOString(),
    });
    expect(await est({ provider: 'openai_gpt', estimated_tokens: 2000 })).toMatchObject({ total_cost: 0.12 });
  });

  test('mubert, stability and local', async () => {
    expect(await est({ provider: 'mubert', duration_seconds: 60, quality: 'high' })).toMatchObject({
      operation: 'audio_generation',
      cost_per_unit: 0.48,
      total_cost: 0.48,
      duration_seconds: 60,
    });
    expect(await est({ provider: 'mubert', duration_seconds: 5 })).toMatchObject({ total_cost: 0.05 });
    expect(await est({ provider: 'stability', quantity: 3, quality: 'hd' })).toMatchObject({
      total_cost: 0.12,
    });
    expect(await est({ provider: 'local', quantity: 10 })).toMatchObject({ total_cost: 0, tier_fee: 0 });
  });

  test('errors', async () => {
    for (const body of [{}, { provider: 'foo' }, { provider: 7 }]) {
      const err = await httpErrorAsync(() => est(body));
      expect(err.status).toBe(400);
      expect(err.body).toEqual({ detail: 'Valid provider required' });
    }
    const op = await httpErrorAsync(() => est({ provider: 'dalle', operation: 'text_to_3d' }));
    expect(op.status).toBe(400);
    expect(op.detail).toBe('Unknown operation: text_to_3d');
    for (const quantity of [0, 1001, 1.5, 'two', -1]) {
      const err = await httpErrorAsync(() => est({ provider: 'dalle', quantity }));
      expect(err.status).toBe(422);
      expect((err.body.errors as { path: string }[])[0]!.path).toBe('quantity');
    }
    expect((await httpErrorAsync(() => est({ provider: 'dalle', size: '4096x4096' }))).status).toBe(422);
    expect((await httpErrorAsync(() => est({ provider: 'dalle', quality: 'extreme' }))).status).toBe(422);
    expect((await httpErrorAsync(() => est({ provider: 'mubert', duration_seconds: 0 }))).status).toBe(422);
    expect((await httpErrorAsync(() => est({ provider: 'claude', estimated_tokens: 0 }))).status).toBe(422);
    expect((await httpErrorAsync(() => est([1]))).status).toBe(422);
  });

  test('asset_request: the price generate would charge', async () => {
    const prop = req('prop', { quality: 'high', maxCost: 250_000 });
    const seen: unknown[] = [];
    const deps = (reuseAvailable: boolean) => ({
      priceAssetRequest: async (raw: unknown): Promise<PricedAssetRequest> => {
        seen.push(raw);
        // The orchestrator prices with the Pricing table too; a textured Meshy model at 15 credits here.
        return {
          request: prop,
          estimate: {
            provider: 'meshy',
            cost: 300_000,
            operation: 'text_to_3d_with_texture',
            tier: 'textured',
          },
          reuseAvailable,
        };
      },
    });
    const raw = { category: 'prop', style: 'fantasy', description: 'A chest' };
    expect(await pricing.estimateRoute({ asset_request: raw }, deps(false))).toEqual({
      provider: 'meshy',
      category: 'prop',
      operation: 'text_to_3d_with_texture',
      estimated_cost: 0.3,
      cost_breakdown: { generation_cost: 0.3, total_cost: 0.3 },
      within_max_cost: false,
      max_cost: 0.25,
      reuse_available: false,
      currency: 'USD',
    });
    expect(seen).toEqual([raw]);
    expect(await pricing.estimateRoute({ asset_request: raw }, deps(true))).toMatchObject({
      estimated_cost: 0,
      cost_breakdown: { generation_cost: 0, total_cost: 0 },
      within_max_cost: true,
      reuse_available: true,
    });
    const invalid = {
      priceAssetRequest: () => {
        throw new HttpError(422, 'Invalid request body', {
          errors: [{ path: 'category', message: 'Field required' }],
        });
      },
    };
    const err = await httpErrorAsync(() => pricing.estimateRoute({ asset_request: {} }, invalid));
    expect(err.status).toBe(422);
  });
});

describe('cost-estimator information routes', () => {
  test('dalle tiers, exactly', () => {
    expect(pricing.dalleTiers()).toEqual({
      provider: 'dalle',
      pricing_model: 'per_image',
      tiers: [
        {
          name: 'Tier 1',
          monthly_fee: 5.0,
          images_per_minute: 5,
          monthly_limit: 15000,
          standard_cost: 0.04,
          hd_cost: 0.08,
        },
        {
          name: 'Tier 2',
          monthly_fee: 50.0,
          images_per_minute: 50,
          monthly_limit: 150000,
          standard_cost: 0.04,
          hd_cost: 0.08,
        },
        {
          name: 'Tier 3',
          monthly_fee: 500.0,
          images_per_minute: 500,
          monthly_limit: 1500000,
          standard_cost: 0.04,
          hd_cost: 0.08,
        },
      ],
      per_image_rates: {
        standard_1024x1024: 0.04,
        hd_1024x1024: 0.08,
        standard_1792x1024: 0.08,
        hd_1792x1024: 0.12,
      },
      currency: 'USD',
      billing_cycle: 'monthly',
      note: "Tier figures are informational; no tier fee is added to any generation's cost.",
    });
  });

  test('meshy packages, exactly', () => {
    expect(pricing.meshyPackages()).toEqual({
      provider: 'meshy',
      pricing_model: 'credit_based',
      packages: [
        { name: 'Starter', credits: 200, cost: 6.0, cost_per_credit: 0.03 },
        { name: 'Professional', credits: 1000, cost: 20.0, cost_per_credit: 0.02 },
        { name: 'Enterprise', credits: 5000, cost: 80.0, cost_per_credit: 0.016 },
      ],
      operations: {
        text_to_3d: 5,
        text_to_3d_with_texture: 15,
        image_to_3d: 10,
        mesh_refining: 8,
        texture_generation: 3,
      },
      default_package: 'professional',
      currency: 'USD',
    });
  });

  test('provider comparison: cheapest first, local excluded', () => {
    expect(
      pricing.providerComparison(
        { operation: 'image_generation', quantity: '1', quality: 'standard' },
        onlyOpenai,
      ),
    ).toEqual({
      operation: 'image_generation',
      quantity: 1,
      quality: 'standard',
      providers: [
        {
          provider: 'stability',
          cost_per_unit: 0.02,
          total_cost: 0.02,
          model: 'per_image',
          configured: false,
        },
        { provider: 'dalle', cost_per_unit: 0.04, total_cost: 0.04, model: 'per_image', configured: true },
      ],
      cheapest_provider: 'stability',
      comparison_time: NOW.toISOString(),
    });
    // Defaults: image_generation, 1, standard.
    expect(pricing.providerComparison({}, onlyOpenai)).toMatchObject({
      operation: 'image_generation',
      quantity: 1,
    });
    expect(
      pricing.providerComparison(
        { operation: 'texture_generation', quantity: '5', quality: 'hd' },
        allConfigured,
      ),
    ).toMatchObject({
      providers: [
        { provider: 'stability', total_cost: 0.2 },
        { provider: 'dalle', total_cost: 0.4 },
      ],
    });
    expect(
      pricing.providerComparison({ operation: '3d_generation', quality: 'high' }, allConfigured).providers,
    ).toEqual([
      { provider: 'meshy', cost_per_unit: 0.3, total_cost: 0.3, model: 'credit_based', configured: true },
    ]);
    expect(pricing.providerComparison({ operation: 'audio_generation' }, allConfigured).providers).toEqual([
      { provider: 'mubert', cost_per_unit: 0.15, total_cost: 0.15, model: 'per_second', configured: true },
    ]);
    const text = pricing.providerComparison({ operation: 'text_completion' }, allConfigured);
    expect(text.providers).toEqual([
      {
        provider: 'claude',
        cost_per_unit: 0.0525,
        total_cost: 0.0525,
        model: 'token_based',
        configured: false,
      },
      {
        provider: 'openai_gpt',
        cost_per_unit: 0.06,
        total_cost: 0.06,
        model: 'token_based',
        configured: false,
      },
    ]);
    expect(text.cheapest_provider).toBe('claude');
  });

  test('provider comparison: ties sort by name; errors', () => {
    const file = join(dir, 'tie.json');
    writeFileSync(file, JSON.stringify({ stability: { per_image: { standard: 0.04 } } }));
    const p = new Pricing({ file, now });
    expect(
      (p.providerComparison({}, allConfigured).providers as { provider: string }[]).map((r) => r.provider),
    ).toEqual(['dalle', 'stability']);
    const teleport = httpError(() => pricing.providerComparison({ operation: 'teleport' }, allConfigured));
    expect(teleport.status).toBe(400);
    expect(teleport.body).toEqual({ detail: 'Unknown operation: teleport' });
    expect(
      httpError(() => pricing.providerComparison({ operation: 'constructor' }, allConfigured)).status,
    ).toBe(400);
    expect(httpError(() => pricing.providerComparison({ quantity: '0' }, allConfigured)).status).toBe(422);
    expect(httpError(() => pricing.providerComparison({ quantity: 'abc' }, allConfigured)).status).toBe(422);
    expect(httpError(() => pricing.providerComparison({ quality: 'extreme' }, allConfigured)).status).toBe(
      422,
    );
  });
});

describe('POST /update errors', () => {
  test('non-admin 403, unknown provider 404, missing provider 422', () => {
    const forbidden = httpError(() => pricing.update('dalle', { admin: false }));
    expect(forbidden.status).toBe(403);
    const unknown = httpError(() => pricing.update('foo', { admin: true }));
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ detail: 'Provider not found: foo' });
    expect(httpError(() => pricing.update(undefined, { admin: true })).status).toBe(422);
    // Without a pricing file, an update reloads the defaults.
    expect(pricing.update('meshy', { admin: true }).status).toBe('completed');
  });
});

describe('GET /analytics', () => {
  const at = (iso: string) => new Date(iso);
  const row = (r: Partial<GenerationRow> & Pick<GenerationRow, 'created_at'>): GenerationRow => ({
    provider: 'openai',
    category: 'image',
    cost_micro: 42_000,
    status: 'completed',
    operation: 'image_generation',
    ...r,
  });
  const rows: GenerationRow[] = [
    row({ created_at: at('2025-11-02T08:00:00.000Z') }),
    row({ created_at: at('2025-11-02T23:59:59.999Z'), category: 'texture', operation: 'texture_generation' }),
    row({
      created_at: at('2025-11-10T12:00:00.000Z'),
      provider: 'meshy',
      category: 'prop',
      cost_micro: 600_000,
      operation: 'text_to_3d_with_texture',
      credits: 30,
    }),
    row({
      created_at: at('2025-11-11T12:00:00.000Z'),
      provider: 'meshy',
      category: 'character',
      cost_micro: 0,
      status: 'failed',
      operation: 'text_to_3d',
      credits: 5,
    }),
    row({
      created_at: at('2025-11-30T23:00:00.000Z'),
      provider: 'mubert',
      category: 'audio',
      cost_micro: 150_000,
      operation: 'audio_generation',
      audio_seconds: 30,
    }),
    // Outside the range: ignored even if the caller passed it.
    row({ created_at: at('2025-12-01T00:00:00.000Z'), cost_micro: 999_000 }),
    row({ created_at: at('2025-10-31T23:59:59.000Z'), cost_micro: 999_000 }),
  ];
  const user = { admin: false };

  test('sums real records', () => {
    expect(pricing.analytics(rows, { start_date: '2025-11-01', end_date: '2025-11-30' }, user)).toEqual({
      period: { start_date: '2025-11-01', end_date: '2025-11-30' },
      total_cost: 0.834,
      cost_breakdown: { dalle: 0.084, meshy: 0.6, mubert: 0.15 },
      usage_metrics: {
        total_images: 2,
        total_3d_models: 1,
        total_audio_seconds: 30,
        total_credits: 35,
        total_generations: 4,
        failed_generations: 1,
      },
      cost_trends: [
        { date: '2025-11-02', daily_cost: 0.084 },
        { date: '2025-11-10', daily_cost: 0.6 },
        { date: '2025-11-11', daily_cost: 0 },
        { date: '2025-11-30', daily_cost: 0.15 },
      ],
      top_cost_operations: [
        { operation: 'text_to_3d_with_texture', cost: 0.6, count: 1 },
        { operation: 'audio_generation', cost: 0.15, count: 1 },
        { operation: 'image_generation', cost: 0.042, count: 1 },
        { operation: 'texture_generation', cost: 0.042, count: 1 },
        { operation: 'text_to_3d', cost: 0, count: 1 },
      ],
    });
  });

  test('provider filter adds filtered_provider and provider_cost', () => {
    const body = pricing.analytics(
      rows,
      { start_date: '2025-11-01', end_date: '2025-11-30', provider: 'openai' },
      user,
    );
    expect(body.filtered_provider).toBe('dalle');
    expect(body.provider_cost).toBe(0.084);
    expect(body.total_cost).toBe(0.834);
    expect(
      pricing.analytics(rows, { start_date: '2025-11-01', end_date: '2025-11-30', provider: 'meshy' }, user)
        .provider_cost,
    ).toBe(0.6);
  });

  test('range: default last 30 days, one-sided, the orchestrator gets UTC bounds', () => {
    expect(pricing.analyticsRange({}, user)).toEqual({
      startDate: '2025-11-06',
      endDate: '2025-12-05',
      start: at('2025-11-06T00:00:00.000Z'),
      endExclusive: at('2025-12-06T00:00:00.000Z'),
      provider: null,
      providerId: null,
      all: false,
    });
    expect(pricing.analyticsRange({ start_date: '2025-01-01' }, user)).toMatchObject({
      endDate: '2025-01-30',
    });
    expect(pricing.analyticsRange({ end_date: '2025-03-01' }, user)).toMatchObject({
      startDate: '2025-01-31',
    });
    expect(pricing.analyticsRange({ all: 'true', provider: 'dalle' }, { admin: true })).toMatchObject({
      all: true,
      provider: 'dalle',
      providerId: 'openai',
    });
    // 366 days (a leap year) is allowed.
    expect(pricing.analyticsRange({ start_date: '2024-01-01', end_date: '2024-12-31' }, user).startDate).toBe(
      '2024-01-01',
    );
    expect(pricing.analytics([], {}, user)).toMatchObject({
      total_cost: 0,
      cost_breakdown: {},
      cost_trends: [],
    });
  });

  test('errors', () => {
    const bad = (q: Record<string, string | undefined>, caller = user) =>
      httpError(() => pricing.analytics(rows, q, caller));
    for (const q of [
      { start_date: '2025-13-01' },
      { start_date: '2025-02-30' },
      { end_date: 'yesterday' },
      { start_date: '2025-1-01' },
      { start_date: '2025-11-30', end_date: '2025-11-01' },
      { start_date: '2024-01-01', end_date: '2025-01-01' },
      { provider: 'foo' },
      { all: 'yes' },
    ]) {
      expect(bad(q).status).toBe(422);
    }
    expect(bad({ start_date: '2024-01-01', end_date: '2025-01-01' }).detail).toBe(
      'Date range of 367 days exceeds 366 days',
    );
    expect(bad({ all: 'true' }).status).toBe(403);
    expect(httpError(() => pricing.analyticsRange({ all: 'true' }, user)).status).toBe(403);
  });
});
