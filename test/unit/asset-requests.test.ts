/**
 * Generate requests: validation (exact 422 bodies and paths), defaults, URL-carrying keys, the request hash and
 * prompt enhancement.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AssetConfig, readAssetConfig } from '../../services/asset/config.ts';
import { canonicalJson, normalizeText, requestHash } from '../../services/asset/requests/normalize.ts';
import {
  CATEGORY_HINTS,
  cutAtWord,
  enhancePrompt,
  TEXTURE_HINT,
} from '../../services/asset/requests/prompt.ts';
import {
  findUrlKeys,
  type ProviderCapabilities,
  parseAssetRequest,
} from '../../services/asset/requests/validate.ts';
import type { AssetRequest, Category, ProviderId } from '../../services/asset/types.ts';
import { type Env, loadConfig } from '../../src/config.ts';
import { HttpError } from '../../src/http/errors.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'gaia-asset-requests-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

function assetConfig(env: Env = {}): AssetConfig {
  return readAssetConfig(loadConfig({ GAIA_DATA_DIR: dataDir, ...env }));
}
const CFG = assetConfig();

const MAKES: Record<ProviderId, { categories: Category[]; formats: string[] }> = {
  openai: { categories: ['image', 'texture'], formats: ['png'] },
  stability: { categories: ['image', 'texture'], formats: ['png'] },
  local: { categories: ['image', 'texture'], formats: ['png'] },
  meshy: { categories: ['environment', 'character', 'prop'], formats: ['glb', 'fbx', 'obj', 'usdz'] },
  elevenlabs: { categories: ['audio'], formats: ['mp3'] },
  mubert: { categories: ['audio'], formats: ['wav', 'mp3', 'ogg'] },
};

/** The providers' capabilities as the spec's table gives them, with a chosen set configured. */
function caps(
  configured: ProviderId[] = ['openai', 'stability', 'local', 'meshy', 'elevenlabs', 'mubert'],
): ProviderCapabilities {
  return {
    configured: (p) => configured.includes(p),
    supports: (p, c) => MAKES[p].categories.includes(c),
    formats: (p, c) => (MAKES[p].categories.includes(c) ? MAKES[p].formats : []),
  };
}

const BASE = { category: 'image', style: 'fantasy', description: 'A glowing magical sword with runes' };

function parse(body: unknown, opts: { cfg?: AssetConfig; configured?: ProviderId[] } = {}): AssetRequest {
  return parseAssetRequest(body, opts.cfg ?? CFG, caps(opts.configured));
}

/** The HttpError a body is refused with. */
function refusal(body: unknown, opts: { cfg?: AssetConfig; configured?: ProviderId[] } = {}): HttpError {
  try {
    parse(body, opts);
  } catch (err) {
    expect(err).toBeInstanceOf(HttpError);
    return err as HttpError;
  }
  throw new Error('expected the request to be refused');
}

/** Paths of the errors a body is refused with (422 'Invalid request body'). */
function badPaths(body: unknown, opts?: { cfg?: AssetConfig; configured?: ProviderId[] }): string[] {
  const e = refusal(body, opts);
  expect(e.status).toBe(422);
  expect(e.detail).toBe('Invalid request body');
  return (e.body.errors as Array<{ path: string }>).map((x) => x.path);
}

describe('defaults', () => {
  test('the spec example, with everything not given defaulted', () => {
    const r = parse({
      ...BASE,
      requirements: { platform: 'mobile_vr', quality: 'medium' },
      preferences: { max_cost: 0.1, max_wait_time_ms: 20000 },
      session_id: 'quest-7',
    });
    expect(r).toEqual({
      category: 'image',
      style: 'fantasy',
      description: 'A glowing magical sword with runes',
      requirements: {
        platform: 'mobile_vr',
        quality: 'medium',
        polygonCountMax: null,
        fileSizeMaxMb: null,
        format: 'png',
        size: '1024x1024',
        durationSeconds: null,
      },
      preferences: {
        allowDatabase: true,
        allowGeneration: true,
        maxCost: 100_000,
        maxWaitMs: 20_000,
        provider: null,
      },
      sessionId: 'quest-7',
      requestHash: expect.stringMatching(/^[0-9a-f]{64}$/),
      soundtrack: false,
    });
  });

  test('minimal body: medium quality, $0.50, ASSET_DEFAULT_WAIT_MS, a generated UUID session', () => {
    const r = parse({ ...BASE, style: '  fantasy ', description: '\n sword \t' });
    expect(r.style).toBe('fantasy');
    expect(r.description).toBe('sword');
    expect(r.requirements.platform).toBeNull();
    expect(r.requirements.quality).toBe('medium');
    expect(r.preferences.maxCost).toBe(500_000);
    expect(r.preferences.maxWaitMs).toBe(25_000);
    expect(r.sessionId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parse(BASE).sessionId).not.toBe(r.sessionId);
  });

  test('the synchronous wait is capped at 120000 ms, whether asked for or configured', () => {
    expect(parse({ ...BASE, preferences: { max_wait_time_ms: 600_000 } }).preferences.maxWaitMs).toBe(
      120_000,
    );
    expect(parse({ ...BASE, preferences: { max_wait_time_ms: 0 } }).preferences.maxWaitMs).toBe(0);
    const cfg = assetConfig({ ASSET_DEFAULT_WAIT_MS: '300000' });
    expect(parse(BASE, { cfg }).preferences.maxWaitMs).toBe(120_000);
    expect(parse(BASE, { cfg: assetConfig({ ASSET_DEFAULT_WAIT_MS: '1500' }) }).preferences.maxWaitMs).toBe(
      1500,
    );
  });

  test('max_cost becomes micro-dollars; 0 is allowed', () => {
    expect(parse({ ...BASE, preferences: { max_cost: 0.25 } }).preferences.maxCost).toBe(250_000);
    expect(parse({ ...BASE, preferences: { max_cost: 0 } }).preferences.maxCost).toBe(0);
    expect(parse({ ...BASE, preferences: { max_cost: 12 } }).preferences.maxCost).toBe(12_000_000);
  });

  test('3D: glb by default, other formats on request, polygon cap kept', () => {
    const r = parse({ category: 'prop', style: 'low_poly', description: 'barrel' });
    expect(r.requirements).toMatchObject({
      format: 'glb',
      size: null,
      durationSeconds: null,
      polygonCountMax: null,
    });
    const f = parse({
      category: 'prop',
      style: 'x',
      description: 'barrel',
      requirements: { platform: 'ar', format: 'FBX', polygon_count_max: 2000 },
    });
    expect(f.requirements.format).toBe('fbx');
    expect(f.requirements.polygonCountMax).toBe(2000);
  });

  test('images and textures take a size; other categories none', () => {
    expect(parse({ ...BASE, requirements: { platform: 'pc', size: '1792x1024' } }).requirements.size).toBe(
      '1792x1024',
    );
    expect(parse({ ...BASE, category: 'texture' }).requirements.size).toBe('1024x1024');
    // A valid size on a 3D request is accepted and has no effect.
    expect(
      parse({
        category: 'prop',
        style: 'x',
        description: 'crate',
        requirements: { platform: 'pc', size: '1024x1792' },
      }).requirements.size,
    ).toBeNull();
  });

  test('audio: 30 s by default, 60 s for a soundtrack; format follows the provider that will make it', () => {
    const music = parse({ category: 'audio', style: 'ambient-calm', description: 'gentle harp melody' });
    expect(music.requirements.durationSeconds).toBe(30);
    expect(music.soundtrack).toBe(false);
    expect(music.requirements.format).toBe('mp3');
    const track = parse({ category: 'audio', style: 'epic-tense', description: 'Battle SOUNDTRACK' });
    expect(track.soundtrack).toBe(true);
    expect(track.requirements.durationSeconds).toBe(60);
    const bg = parse({ category: 'audio', style: 'lofi', description: 'background music for a menu' });
    expect(bg.soundtrack).toBe(true);
    // Only Mubert configured: its first format; named Mubert likewise.
    expect(
      parse({ category: 'audio', style: 'x', description: 'y' }, { configured: ['mubert'] }).requirements
        .format,
    ).toBe('wav');
    expect(
      parse({ category: 'audio', style: 'x', description: 'y', preferences: { provider: 'mubert' } })
        .requirements.format,
    ).toBe('wav');
    // A configured order puts Mubert first.
    const cfg = assetConfig({ ASSET_PROVIDER_ORDER_AUDIO: 'mubert,elevenlabs' });
    expect(parse({ category: 'audio', style: 'x', description: 'y' }, { cfg }).requirements.format).toBe(
      'wav',
    );
  });

  test('audio durations: 15–300 for music, 30–600 for soundtracks, down to 0.5 s for sound effects', () => {
    const audio = (description: string, duration_seconds: number) => ({
      category: 'audio',
      style: 'x',
      description,
      requirements: { platform: 'pc', duration_seconds },
    });
    expect(parse(audio('music', 15)).requirements.durationSeconds).toBe(15);
    expect(parse(audio('music', 300)).requirements.durationSeconds).toBe(300);
    expect(badPaths(audio('music', 301))).toEqual(['requirements.duration_seconds']);
    expect(badPaths(audio('music', 5))).toEqual(['requirements.duration_seconds']);
    expect(parse(audio('a background soundtrack', 600)).requirements.durationSeconds).toBe(600);
    expect(badPaths(audio('a background soundtrack', 20))).toEqual(['requirements.duration_seconds']);
    expect(parse(audio('door creak sound effect', 2)).requirements.durationSeconds).toBe(2);
    expect(parse(audio('laser SFX', 0.5)).requirements.durationSeconds).toBe(0.5);
    expect(badPaths(audio('laser sfx', 0.2))).toEqual(['requirements.duration_seconds']);
  });

  test('a named provider that is configured and makes the category is kept', () => {
    expect(parse({ ...BASE, preferences: { provider: 'stability' } }).preferences.provider).toBe('stability');
    expect(
      parse({ ...BASE, preferences: { provider: 'local' } }, { configured: ['local'] }).preferences.provider,
    ).toBe('local');
  });

  test('unknown fields are ignored; null optional objects count as absent', () => {
    const r = parse({
      ...BASE,
      extra: { nested: 1 },
      requirements: null,
      preferences: { allow_modifications: false, foo: 1 },
    });
    expect(r.category).toBe('image');
  });
});

describe('422 bodies (bad input)', () => {
  test('not an object', () => {
    for (const body of [null, [], 'text', 42]) {
      const e = refusal(body);
      expect(e.status).toBe(422);
      expect(e.body).toEqual({
        detail: 'Invalid request body',
        errors: [{ path: '', message: 'Expected a JSON object' }],
      });
    }
  });

  test('missing category, style and description: one entry each', () => {
    expect(refusal({}).body).toEqual({
      detail: 'Invalid request body',
      errors: [
        { path: 'category', message: 'Required' },
        { path: 'style', message: 'Required' },
        { path: 'description', message: 'Required' },
      ],
    });
  });

  test('an unknown category lists the seven', () => {
    const e = refusal({ ...BASE, category: 'vehicle' });
    expect(e.body.errors).toEqual([
      {
        path: 'category',
        message: 'Must be one of: environment, character, prop, audio, texture, animation, image',
      },
    ]);
  });

  test("animation: No provider configured for category 'animation'", () => {
    const e = refusal({ ...BASE, category: 'animation' });
    expect(e.status).toBe(422);
    expect(e.body).toEqual({
      detail: "No provider configured for category 'animation'",
      errors: [{ path: 'category', message: "No provider configured for category 'animation'" }],
    });
    // With other faults as well, all are listed.
    const both = refusal({ category: 'animation', style: 'x' });
    expect(both.detail).toBe('Invalid request body');
    expect((both.body.errors as Array<{ path: string }>).map((x) => x.path)).toEqual([
      'category',
      'description',
    ]);
  });

  test('style and description lengths count after trimming, in characters', () => {
    expect(badPaths({ ...BASE, description: '    ' })).toEqual(['description']);
    expect(badPaths({ ...BASE, description: 'x'.repeat(4001) })).toEqual(['description']);
    expect(parse({ ...BASE, description: ` ${'x'.repeat(4000)} ` }).description.length).toBe(4000);
    // 4000 emoji are 8000 UTF-16 units but 4000 characters.
    expect(parse({ ...BASE, description: '🗡'.repeat(4000) }).description).toBe('🗡'.repeat(4000));
    expect(badPaths({ ...BASE, style: '' })).toEqual(['style']);
    expect(badPaths({ ...BASE, style: 's'.repeat(101) })).toEqual(['style']);
    expect(badPaths({ ...BASE, style: 5, description: ['a'] })).toEqual(['style', 'description']);
    expect(refusal({ ...BASE, description: 'x'.repeat(4001) }).body.errors).toEqual([
      { path: 'description', message: 'Must be at most 4000 characters' },
    ]);
  });

  test('requirements rules', () => {
    expect(refusal({ ...BASE, requirements: { quality: 'high' } }).body.errors).toEqual([
      { path: 'requirements.platform', message: 'Required' },
    ]);
    expect(badPaths({ ...BASE, requirements: { platform: 'p'.repeat(51) } })).toEqual([
      'requirements.platform',
    ]);
    expect(badPaths({ ...BASE, requirements: 'mobile' })).toEqual(['requirements']);
    expect(refusal({ ...BASE, requirements: { platform: 'pc', quality: 'extreme' } }).body.errors).toEqual([
      { path: 'requirements.quality', message: 'Must be one of: low, medium, high, ultra' },
    ]);
    expect(refusal({ ...BASE, requirements: { platform: 'pc', format: 'exe' } }).body.errors).toEqual([
      { path: 'requirements.format', message: "Must be one of: png for category 'image'" },
    ]);
    expect(
      badPaths({
        category: 'prop',
        style: 'x',
        description: 'y',
        requirements: { platform: 'pc', format: 'png' },
      }),
    ).toEqual(['requirements.format']);
    expect(refusal({ ...BASE, requirements: { platform: 'pc', size: '4096x4096' } }).body.errors).toEqual([
      { path: 'requirements.size', message: 'Must be one of: 1024x1024, 1792x1024, 1024x1792' },
    ]);
    expect(
      badPaths({
        category: 'audio',
        style: 'x',
        description: 'y',
        requirements: { platform: 'pc', duration_seconds: 5 },
      }),
    ).toEqual(['requirements.duration_seconds']);
    for (const polygon_count_max of [99, 500_001, 1000.5, '1000'])
      expect(
        badPaths({
          category: 'prop',
          style: 'x',
          description: 'y',
          requirements: { platform: 'pc', polygon_count_max },
        }),
      ).toEqual(['requirements.polygon_count_max']);
    for (const file_size_max_mb of [0, -1, 101, 'big'])
      expect(badPaths({ ...BASE, requirements: { platform: 'pc', file_size_max_mb } })).toEqual([
        'requirements.file_size_max_mb',
      ]);
    expect(
      parse({ ...BASE, requirements: { platform: 'pc', file_size_max_mb: 2.5 } }).requirements.fileSizeMaxMb,
    ).toBe(2.5);
    const small = assetConfig({ ASSET_MAX_FILE_MB: '3' });
    expect(
      badPaths({ ...BASE, requirements: { platform: 'pc', file_size_max_mb: 4 } }, { cfg: small }),
    ).toEqual(['requirements.file_size_max_mb']);
  });

  test('a provider that makes only mp3 refuses other formats', () => {
    const body = {
      category: 'audio',
      style: 'x',
      description: 'y',
      requirements: { platform: 'pc', format: 'wav' },
      preferences: { provider: 'elevenlabs' },
    };
    expect(refusal(body).body.errors).toEqual([
      { path: 'requirements.format', message: "Provider 'elevenlabs' makes mp3 for category 'audio'" },
    ]);
    // Without a named provider wav is fine: Mubert makes it.
    expect(parse({ ...body, preferences: {} }).requirements.format).toBe('wav');
  });

  test('preferences ranges', () => {
    expect(refusal({ ...BASE, preferences: { max_cost: -1 } }).body.errors).toEqual([
      { path: 'preferences.max_cost', message: 'Must be greater than or equal to 0' },
    ]);
    expect(badPaths({ ...BASE, preferences: { max_cost: '0.5' } })).toEqual(['preferences.max_cost']);
    expect(badPaths({ ...BASE, preferences: { max_wait_time_ms: -5 } })).toEqual([
      'preferences.max_wait_time_ms',
    ]);
    expect(badPaths({ ...BASE, preferences: { max_wait_time_ms: 700_000 } })).toEqual([
      'preferences.max_wait_time_ms',
    ]);
    expect(badPaths({ ...BASE, preferences: { max_wait_time_ms: 10.5 } })).toEqual([
      'preferences.max_wait_time_ms',
    ]);
    expect(badPaths({ ...BASE, preferences: { allow_database: 'yes', allow_generation: 1 } })).toEqual([
      'preferences.allow_database',
      'preferences.allow_generation',
    ]);
    expect(badPaths({ ...BASE, preferences: { provider: 'dalle' } })).toEqual(['preferences.provider']);
  });

  test('session_id at most 255 characters', () => {
    expect(refusal({ ...BASE, session_id: 's'.repeat(300) }).body.errors).toEqual([
      { path: 'session_id', message: 'Must be at most 255 characters' },
    ]);
    expect(parse({ ...BASE, session_id: 's'.repeat(255) }).sessionId).toBe('s'.repeat(255));
    expect(badPaths({ ...BASE, session_id: 7 })).toEqual(['session_id']);
  });

  test('a named provider must be configured and make the category', () => {
    expect(refusal({ ...BASE, preferences: { provider: 'meshy' } }).body.errors).toEqual([
      { path: 'preferences.provider', message: "Provider 'meshy' does not support category 'image'" },
    ]);
    const prop = { category: 'prop', style: 'x', description: 'crate', preferences: { provider: 'meshy' } };
    expect(refusal(prop, { configured: ['openai', 'local'] }).body.errors).toEqual([
      { path: 'preferences.provider', message: "Provider 'meshy' is not configured" },
    ]);
    expect(badPaths({ ...BASE, preferences: { provider: 'local' } }, { configured: ['openai'] })).toEqual([
      'preferences.provider',
    ]);
  });

  test('several faults at once are all listed', () => {
    expect(
      badPaths({
        category: 'image',
        style: '',
        description: 'ok',
        requirements: { quality: 'extreme', size: '1x1' },
        preferences: { max_cost: -1 },
        session_id: 'x'.repeat(256),
      }),
    ).toEqual([
      'style',
      'preferences.max_cost',
      'requirements.platform',
      'requirements.quality',
      'requirements.size',
      'session_id',
    ]);
  });
});

describe('URL-carrying keys are refused at any depth', () => {
  test('callback_url: the exact body', () => {
    const e = refusal({ ...BASE, callback_url: 'https://example.com/hook' });
    expect(e.status).toBe(422);
    expect(e.body).toEqual({
      detail: 'Field not allowed: callback_url',
      errors: [{ path: 'callback_url', message: 'URLs cannot be supplied to the asset service' }],
    });
  });

  test('every listed name and suffix, top level and nested, whatever the value', () => {
    for (const key of [
      'url',
      'uri',
      'endpoint',
      'host',
      'api_base',
      'base_url',
      'callback',
      'webhook',
      'image_url',
      'model_uri',
      'URL',
      'Callback_Url',
    ]) {
      expect(refusal({ ...BASE, [key]: null }).detail).toBe(`Field not allowed: ${key}`);
      expect(refusal({ ...BASE, requirements: { platform: 'pc', [key]: 1 } }).body.errors).toEqual([
        { path: `requirements.${key}`, message: 'URLs cannot be supplied to the asset service' },
      ]);
    }
    const e = refusal({ ...BASE, preferences: { extra: [{ ok: 1 }, { deep: { webhook: 'x' } }] } });
    expect(e.detail).toBe('Field not allowed: webhook');
    expect(e.body.errors).toEqual([
      { path: 'preferences.extra.1.deep.webhook', message: 'URLs cannot be supplied to the asset service' },
    ]);
  });

  test('checked before anything else; all offending keys listed in document order', () => {
    const e = refusal({ api_base: 'x', requirements: { reference_url: 'y' }, base_url: 'z' });
    expect(e.detail).toBe('Field not allowed: api_base');
    expect((e.body.errors as Array<{ path: string }>).map((x) => x.path)).toEqual([
      'api_base',
      'requirements.reference_url',
      'base_url',
    ]);
  });

  test('names that merely contain the words are fine, and URLs in text are just text', () => {
    const r = parse({
      ...BASE,
      description: 'A poster showing http://169.254.169.254/latest/meta-data in neon',
      urls_seen: 1,
      hostname_hint: 'x',
      uri_like: true,
      meta: { curl: 'http://x', web_hook: 1 },
    });
    expect(r.description).toContain('169.254.169.254');
  });

  test('a very deeply nested body is walked without exhausting the stack', () => {
    let deep: unknown = { webhook: 1 };
    for (let i = 0; i < 50_000; i++) deep = [deep];
    expect(findUrlKeys({ a: deep }).map((k) => k.key)).toEqual(['webhook']);
  });
});

describe('request hash', () => {
  const hash = (body: Record<string, unknown>) => parse(body).requestHash;
  const H = hash(BASE);

  test('session_id, max_cost, waits, allow_* and unknown fields do not change it', () => {
    expect(hash({ ...BASE, session_id: 'other' })).toBe(H);
    expect(
      hash({
        ...BASE,
        preferences: { max_cost: 3, max_wait_time_ms: 1, allow_database: false, allow_generation: false },
      }),
    ).toBe(H);
    expect(hash({ ...BASE, whatever: 1 })).toBe(H);
  });

  test('defaults applied: explicit defaults hash like absent ones', () => {
    expect(hash({ ...BASE, requirements: { platform: 'MOBILE_VR' } })).toBe(
      hash({
        ...BASE,
        requirements: { platform: 'mobile_vr', quality: 'medium', size: '1024x1024', format: 'png' },
      }),
    );
  });

  test('NFC, whitespace and case are normalised', () => {
    expect(
      hash({ ...BASE, style: ' FANTASY ', description: 'a  GLOWING\nmagical\tsword with runes  ' }),
    ).toBe(H);
    const composed = { ...BASE, description: 'Caf\u00e9 sword' };
    const decomposed = { ...BASE, description: 'Cafe\u0301 sword' };
    expect(hash(composed)).toBe(hash(decomposed));
  });

  test('quality, size, format, category, platform, provider and text do change it', () => {
    const others = [
      hash({ ...BASE, requirements: { platform: 'pc', quality: 'high' } }),
      hash({ ...BASE, requirements: { platform: 'pc' } }),
      hash({ ...BASE, requirements: { platform: 'pc', size: '1792x1024' } }),
      hash({ ...BASE, category: 'texture' }),
      hash({ ...BASE, preferences: { provider: 'openai' } }),
      hash({ ...BASE, description: 'A glowing magical axe with runes' }),
      hash({ ...BASE, style: 'realistic' }),
    ];
    expect(new Set([H, ...others]).size).toBe(others.length + 1);
  });

  test('is the SHA-256 of the canonical normalised object', () => {
    const r = parse({ ...BASE, requirements: { platform: 'Mobile_VR' } });
    const canonical =
      '{"category":"image","description":"a glowing magical sword with runes","requirements":{"duration_seconds":null,"format":"png","platform":"mobile_vr","polygon_count_max":null,"quality":"medium","size":"1024x1024"},"style":"fantasy"}';
    expect(r.requestHash).toBe(new Bun.CryptoHasher('sha256').update(canonical).digest('hex'));
    expect(requestHash(r)).toBe(r.requestHash);
  });

  test('canonical JSON sorts keys at every level and is stable', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: null }], c: 'x' }, u: undefined })).toBe(
      '{"a":{"c":"x","d":[3,{"y":null,"z":1}]},"b":1}',
    );
    expect(normalizeText('  A\u00a0 B\n\nC ')).toBe('a b c');
  });
});

describe('prompt enhancement', () => {
  const req = (body: Record<string, unknown>) => parse(body);

  test('known styles add their phrase, unknown styles are appended as written', () => {
    const p = enhancePrompt(req(BASE), 4000);
    expect(p.prompt.startsWith('A glowing magical sword with runes, ')).toBe(true);
    expect(p.prompt).toContain('fantasy art');
    expect(p.warnings).toEqual([]);
    expect(enhancePrompt(req({ ...BASE, style: 'Sci-Fi' }), 4000).prompt).toContain('science fiction');
    expect(enhancePrompt(req({ ...BASE, style: 'low poly' }), 4000).prompt).toContain(
      'low poly, flat shaded',
    );
    expect(enhancePrompt(req({ ...BASE, style: 'ukiyo-e woodblock' }), 4000).prompt).toBe(
      'A glowing magical sword with runes, ukiyo-e woodblock',
    );
  });

  test('3D categories get their hint; textures the seamless hint; images neither', () => {
    for (const c of ['character', 'prop', 'environment'] as const) {
      const p = enhancePrompt(req({ category: c, style: 'realistic', description: 'knight' }), 600).prompt;
      expect(p).toBe(`knight, photorealistic, highly detailed, natural lighting, ${CATEGORY_HINTS[c]}`);
    }
    expect(enhancePrompt(req({ ...BASE, category: 'texture', style: 'stone' }), 4000).prompt).toBe(
      `A glowing magical sword with runes, stone, ${TEXTURE_HINT}`,
    );
    expect(enhancePrompt(req(BASE), 4000).prompt).not.toContain('seamless');
  });

  test('audio styles are used as written', () => {
    const p = enhancePrompt(
      req({ category: 'audio', style: 'fantasy-calm', description: 'harp melody' }),
      1000,
    );
    expect(p.prompt).toBe('harp melody, fantasy-calm');
  });

  test('an overlong prompt is cut at a word boundary, with a warning', () => {
    const long = req({ ...BASE, category: 'prop', description: `${'word '.repeat(200)}end` });
    const p = enhancePrompt(long, 600);
    expect([...p.prompt].length).toBeLessThanOrEqual(600);
    expect(p.prompt.endsWith('word')).toBe(true);
    expect(p.warnings).toHaveLength(1);
    expect(p.warnings[0]).toMatch(
      /^Prompt shortened from \d+ to \d+ characters to fit the provider's limit of 600$/,
    );
  });

  test('cutAtWord: boundaries, trailing separators, overlong words, emoji', () => {
    expect(cutAtWord('short', 10)).toBe('short');
    expect(cutAtWord('alpha beta gamma', 10)).toBe('alpha beta');
    expect(cutAtWord('alpha beta gamma', 12)).toBe('alpha beta');
    expect(cutAtWord('alpha, beta, gamma', 12)).toBe('alpha, beta');
    expect(cutAtWord('x'.repeat(50), 10)).toBe('x'.repeat(10));
    expect(cutAtWord('a bbbbbbbbbbbbbbbbbbbb', 10)).toBe('a bbbbbbbb');
    expect(cutAtWord('🗡🗡🗡 🗡🗡', 4)).toBe('🗡🗡🗡');
    expect(cutAtWord('anything', 0)).toBe('');
  });
});
