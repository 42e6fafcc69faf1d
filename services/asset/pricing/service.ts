/**
 * Asset prices: what a generation is estimated (and reserved) at before a provider is called, what it
 * actually cost afterwards, and the logic of the informational pricing and cost-estimator routes.
 *
 * Costs are integer micro-dollars; a unit count is multiplied by a unit price and rounded once, so no
 * fee, package price or multiplier ever slips into what a user is charged.
 */
import { HttpError, validationError } from '../../../src/http/errors.ts';
import type { AssetRequest, Estimate, Micro, ProviderId, ProviderResult, Quality } from '../types.ts';
import { micro, usd } from '../types.ts';
import {
  type AnalyticsQuery,
  type AnalyticsRange,
  analyticsBody,
  analyticsRange,
  type GenerationRow,
} from './analytics.ts';
import { loadPriceTable, meshyCreditPrice, type PriceTable, PricingFileError } from './table.ts';

export type { AnalyticsQuery, AnalyticsRange, GenerationRow } from './analytics.ts';

/** Provider names the pricing routes know; `openai` is accepted as another name for `dalle`. */
export const PRICING_KEYS = [
  'dalle',
  'stability',
  'meshy',
  'mubert',
  'local',
  'openai_gpt',
  'claude',
] as const;
export type PricingKey = (typeof PRICING_KEYS)[number];

const PRICING_MODEL: Record<PricingKey, string> = {
  dalle: 'per_image',
  stability: 'per_image',
  meshy: 'credit_based',
  mubert: 'per_second',
  local: 'free',
  openai_gpt: 'token_based',
  claude: 'token_based',
};

/** The asset provider behind a pricing key; the token-priced models are listed but never called here. */
const KEY_PROVIDER: Record<PricingKey, ProviderId | null> = {
  dalle: 'openai',
  stability: 'stability',
  meshy: 'meshy',
  mubert: 'mubert',
  local: 'local',
  openai_gpt: null,
  claude: null,
};

/** Which sections of the table each key's prices come from, to tell whose prices a reload changed. */
const KEY_SECTIONS: Record<PricingKey, (keyof PriceTable)[]> = {
  dalle: ['gpt_image', 'dalle'],
  stability: ['stability'],
  meshy: ['meshy'],
  mubert: ['mubert'],
  local: [],
  openai_gpt: ['openai_gpt'],
  claude: ['claude'],
};

const CAPABILITIES: Record<PricingKey, string[]> = {
  dalle: ['image_generation', 'texture_generation'],
  stability: ['image_generation', 'texture_generation'],
  meshy: ['3d_generation'],
  mubert: ['audio_generation'],
  local: ['image_generation', 'texture_generation'],
  openai_gpt: ['text_completion'],
  claude: ['text_completion'],
};

const DEFAULT_CATEGORY: Record<PricingKey, string> = {
  dalle: 'image',
  stability: 'image',
  meshy: 'prop',
  mubert: 'audio',
  local: 'image',
  openai_gpt: 'text',
  claude: 'text',
};

/** Quality words the routes accept: the request's four levels plus the providers' `standard`/`hd`. */
const QUALITY_LEVEL: Record<string, Quality> = {
  low: 'low',
  medium: 'medium',
  standard: 'medium',
  high: 'high',
  hd: 'high',
  ultra: 'ultra',
};

const COMPARISON_OPERATIONS: Record<string, PricingKey[]> = {
  image_generation: ['dalle', 'stability'],
  texture_generation: ['dalle', 'stability'],
  '3d_generation': ['meshy'],
  audio_generation: ['mubert'],
  text_completion: ['openai_gpt', 'claude'],
};

/** Per 30 s of audio, as the comparison route quotes it. */
const COMPARISON_AUDIO_SECONDS = 30;
/** Tokens per unit in the comparison route (its unit is 1K tokens). */
const COMPARISON_TOKENS = 1000;
const MAX_QUANTITY = 1000;

export interface PricingOptions {
  /** JSON file laid over the default prices; unset = defaults. */
  file?: string | null;
  /** `OPENAI_IMAGE_MODEL`; a `dall-e-*` model is priced per image from the dall-e table. */
  openaiImageModel?: string;
  /** `STABILITY_API_VERSION`: `v2beta` (credits) or `v1` (per image). */
  stabilityApiVersion?: string;
  now?: () => Date;
}

/** What the orchestrator answers for the `asset_request` form of the estimate route. */
export interface PricedAssetRequest {
  request: AssetRequest;
  /** The chosen provider's estimate, as `generate` would reserve it. */
  estimate: Estimate;
  /** A stored identical asset would be reused (only when the request allows reuse). */
  reuseAvailable: boolean;
}

export interface EstimateDeps {
  /** Validates the raw request (throwing the same 422s as `generate`), chooses the provider and prices it. */
  priceAssetRequest(raw: unknown): Promise<PricedAssetRequest> | PricedAssetRequest;
}

export type Query = Record<string, string | undefined>;

/** True when an ElevenLabs request goes to the sound-effects endpoint instead of music. */
export function isSoundEffect(req: AssetRequest): boolean {
  if (/\bsound effects?\b|\bsfx\b/i.test(req.description)) return true;
  return req.requirements.durationSeconds !== null && req.requirements.durationSeconds < 15;
}

/** The audio length a request asks for, with the defaults of generate (60 s for soundtracks, else 30 s). */
export function audioSeconds(req: AssetRequest): number {
  return req.requirements.durationSeconds ?? (req.soundtrack ? 60 : 30);
}

/** The sound-effects endpoint accepts 0.5–30 s, so that is what is generated and paid for. */
export function soundEffectSeconds(req: AssetRequest): number {
  return Math.min(30, Math.max(0.5, audioSeconds(req)));
}

const isWide = (req: AssetRequest): boolean =>
  req.requirements.size !== null && req.requirements.size !== '1024x1024';

/** units × USD unit price, in (unrounded) micro-dollars. */
const cost = (units: number, unitUsd: number): number => units * unitUsd * 1_000_000;

const nonNegative = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

function badQuery(path: string, message: string, detail = `Invalid ${path}: ${message}`): HttpError {
  return validationError([{ path, message }], detail);
}

export class Pricing {
  #table: PriceTable;
  readonly #file: string | null;
  readonly #dalleImages: boolean;
  readonly #stabilityV1: boolean;
  readonly #now: () => Date;
  readonly #updated = new Map<PricingKey, Date>();

  constructor(opts: PricingOptions = {}) {
    this.#file = opts.file || null;
    this.#dalleImages = (opts.openaiImageModel ?? 'gpt-image-1').toLowerCase().startsWith('dall-e');
    this.#stabilityV1 = (opts.stabilityApiVersion ?? 'v2beta').toLowerCase() === 'v1';
    this.#now = opts.now ?? (() => new Date());
    // A broken pricing file stops the service at start rather than charging defaults the operator replaced.
    this.#table = deepFreeze(loadPriceTable(this.#file));
    const at = this.#now();
    for (const key of PRICING_KEYS) this.#updated.set(key, at);
  }

  /** The prices in force; frozen, because route bodies hand parts of it out and nobody may edit a price in place. */
  get table(): Readonly<PriceTable> {
    return this.#table;
  }

  /** Re-reads the pricing file; on error the old prices stay and PricingFileError is thrown. */
  reload(touch: PricingKey | null = null): void {
    const next = deepFreeze(loadPriceTable(this.#file));
    const at = this.#now();
    for (const key of PRICING_KEYS) {
      const changed = KEY_SECTIONS[key].some(
        (s) => JSON.stringify(this.#table[s]) !== JSON.stringify(next[s]),
      );
      if (changed || key === touch) this.#updated.set(key, at);
    }
    this.#table = next;
  }

  // ---------------------------------------------------------------- generation prices

  /** The price of one generation by `provider`, reserved before the call. */
  estimate(provider: ProviderId, req: AssetRequest): Estimate {
    const t = this.#table;
    const q = req.requirements.quality;
    const imageOp = req.category === 'texture' ? 'texture_generation' : 'image_generation';
    switch (provider) {
      case 'openai': {
        if (this.#dalleImages) {
          const tier = q === 'low' || q === 'medium' ? 'standard' : 'hd';
          const price = t.dalle.rates[tier][req.requirements.size ?? '1024x1024'];
          return { provider, cost: micro(price), operation: imageOp, tier };
        }
        const tier = q === 'ultra' ? 'high' : q;
        const row = t.gpt_image.per_image[tier];
        return { provider, cost: micro(isWide(req) ? row.wide : row.square), operation: imageOp, tier };
      }
      case 'stability': {
        if (this.#stabilityV1) {
          const tier = q === 'low' || q === 'medium' ? 'standard' : q === 'high' ? 'hd' : 'ultra';
          return { provider, cost: micro(t.stability.per_image[tier]), operation: imageOp, tier };
        }
        const tier = q === 'low' || q === 'medium' ? 'core' : q === 'high' ? 'sd3' : 'ultra';
        const price = cost(t.stability.credits[tier], t.stability.credit_price);
        return { provider, cost: Math.round(price), operation: imageOp, tier };
      }
      case 'meshy': {
        const textured = q === 'high' || q === 'ultra';
        const credits = t.meshy.credits.preview + (textured ? t.meshy.credits.refine : 0);
        return {
          provider,
          cost: Math.round(cost(credits, meshyCreditPrice(t))),
          operation: textured ? 'text_to_3d_with_texture' : 'text_to_3d',
          tier: textured ? 'textured' : 'preview',
        };
      }
      case 'elevenlabs': {
        const e = t.elevenlabs;
        if (isSoundEffect(req)) {
          const price = Math.max(cost(soundEffectSeconds(req), e.sfx_per_second), micro(e.sfx_minimum));
          return { provider, cost: Math.round(price), operation: 'audio_generation', tier: 'sfx' };
        }
        const price = cost(audioSeconds(req), e.music_per_second);
        return { provider, cost: Math.round(price), operation: 'audio_generation', tier: 'music' };
      }
      case 'mubert': {
        const tier = q === 'low' || q === 'medium' ? 'standard' : 'high';
        const price = Math.max(cost(audioSeconds(req), t.mubert.per_second[tier]), micro(t.mubert.minimum));
        return { provider, cost: Math.round(price), operation: 'audio_generation', tier };
      }
      case 'local':
        return { provider, cost: 0, operation: imageOp, tier: 'free' };
    }
  }

  /**
   * What a finished generation really cost: from the provider's own report when it gives one (OpenAI
   * token usage, Stability/Meshy credits), otherwise the estimate. Meshy's test mode consumes nothing.
   */
  actual(provider: ProviderId, _req: AssetRequest, result: ProviderResult, estimate: Estimate): Micro {
    const meta = result.metadata ?? {};
    const t = this.#table;
    switch (provider) {
      case 'openai':
        return this.#tokenCost(meta.usage) ?? estimate.cost;
      case 'stability':
        return nonNegative(meta.credits_used)
          ? Math.round(cost(meta.credits_used, t.stability.credit_price))
          : estimate.cost;
      case 'meshy':
        if (meta.test_mode === true) return 0;
        return nonNegative(meta.credits_used)
          ? Math.round(cost(meta.credits_used, meshyCreditPrice(t)))
          : estimate.cost;
      case 'local':
        return 0;
      default:
        return estimate.cost;
    }
  }

  /** gpt-image token usage priced per million tokens; null when the usage is missing or malformed. */
  #tokenCost(usage: unknown): Micro | null {
    if (typeof usage !== 'object' || usage === null) return null;
    const u = usage as Record<string, unknown>;
    if (!nonNegative(u.input_tokens) || !nonNegative(u.output_tokens)) return null;
    let text = u.input_tokens;
    let image = 0;
    const details = u.input_tokens_details;
    if (typeof details === 'object' && details !== null) {
      const d = details as Record<string, unknown>;
      image = nonNegative(d.image_tokens) ? d.image_tokens : 0;
      text = nonNegative(d.text_tokens) ? d.text_tokens : Math.max(0, u.input_tokens - image);
    }
    const r = this.#table.gpt_image.tokens;
    // USD per million tokens is exactly micro-dollars per token.
    return Math.round(
      text * r.input_text_per_million +
        image * r.input_image_per_million +
        u.output_tokens * r.output_per_million,
    );
  }

  // ---------------------------------------------------------------- route logic

  /** `GET /current`. */
  current(query: Query): Record<string, unknown> {
    const raw = query.provider?.trim();
    if (!raw) throw badQuery('provider', 'Field required', 'provider is required');
    const key = pricingKey(raw);
    if (!key) throw new HttpError(404, `Pricing not found for provider: ${raw}`);
    const quality = query.quality?.trim() || 'standard';
    const level = qualityLevel(quality);
    const { rates, perUnit } = this.#rates(key, level);
    const updated = this.#updated.get(key)!.toISOString();
    return {
      pricing: {
        provider: key,
        model: PRICING_MODEL[key],
        category: query.category?.trim() || DEFAULT_CATEGORY[key],
        quality,
        rates,
        cost_per_unit: usd(perUnit),
        last_updated: updated,
      },
      effective_date: updated,
      currency: 'USD',
    };
  }

  #rates(key: PricingKey, level: Quality): { rates: Record<string, unknown>; perUnit: Micro } {
    const t = this.#table;
    switch (key) {
      case 'dalle':
        return { rates: t.dalle.rates, perUnit: micro(t.dalle.rates[dalleTier(level)]['1024x1024']) };
      case 'stability':
        return { rates: t.stability.per_image, perUnit: micro(t.stability.per_image[stabilityTier(level)]) };
      case 'meshy': {
        const perCredit = meshyCreditPrice(t);
        return {
          rates: { cost_per_credit: round4(perCredit), operations: t.meshy.operations },
          perUnit: micro(perCredit),
        };
      }
      case 'mubert':
        return {
          rates: { ...t.mubert.per_second, minimum_per_track: t.mubert.minimum },
          perUnit: micro(t.mubert.per_second[mubertTier(level)]),
        };
      case 'local':
        return { rates: {}, perUnit: 0 };
      case 'openai_gpt':
      case 'claude':
        return { rates: { ...t[key] }, perUnit: micro(t[key].input_per_1k) };
    }
  }

  /** `GET /providers`: every priced provider and whether this service can call it. */
  providers(configured: (provider: ProviderId) => boolean): Record<string, unknown> {
    const list = PRICING_KEYS.map((key) => {
      const id = KEY_PROVIDER[key];
      const isConfigured = id !== null && configured(id);
      const entry: Record<string, unknown> = {
        name: key,
        pricing_model: PRICING_MODEL[key],
        // The token-priced models are only listed for comparison; the asset service never calls them.
        status: id === null ? 'pricing_only' : isConfigured ? 'active' : 'unconfigured',
        configured: isConfigured,
        last_updated: this.#updated.get(key)!.toISOString(),
        capabilities: CAPABILITIES[key],
      };
      if (key === 'meshy') entry.operations = Object.keys(this.#table.meshy.operations);
      return entry;
    });
    return {
      providers: list,
      total_providers: list.length,
      supported_models: ['per_image', 'credit_based', 'per_second', 'token_based', 'free'],
    };
  }

  /** `POST /cost-estimator/estimate`, either by provider and operation or for a whole asset request. */
  async estimateRoute(body: unknown, deps: EstimateDeps): Promise<Record<string, unknown>> {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw validationError([{ path: '', message: 'Expected a JSON object' }], 'Invalid request body');
    }
    const b = body as Record<string, unknown>;
    if ('asset_request' in b) return this.#estimateAssetRequest(b.asset_request, deps);

    const key = typeof b.provider === 'string' ? pricingKey(b.provider) : null;
    if (!key) throw new HttpError(400, 'Valid provider required');
    const quantity = parseQuantity(b.quantity);
    const quality = b.quality === undefined || b.quality === null ? 'standard' : String(b.quality);
    const level = qualityLevel(quality);
    const base = { provider: key, quantity, quality };
    const t = this.#table;

    const operation = b.operation === undefined || b.operation === null ? null : String(b.operation);
    const checkOp = (allowed: string[], fallback: string): string => {
      const op = operation ?? fallback;
      if (!allowed.includes(op)) throw new HttpError(400, `Unknown operation: ${op}`);
      return op;
    };
    const priced = (op: string, perUnit: number, extra: Record<string, unknown> = {}) => ({
      ...base,
      operation: op,
      cost_per_unit: usd(Math.round(perUnit)),
      total_cost: usd(Math.round(perUnit * quantity)),
      tier_fee: 0,
      ...extra,
      currency: 'USD',
      estimate_time: this.#now().toISOString(),
    });

    switch (key) {
      case 'dalle': {
        const op = checkOp(CAPABILITIES.dalle, 'image_generation');
        const size = b.size === undefined || b.size === null ? '1024x1024' : String(b.size);
        const rates = t.dalle.rates[dalleTier(level)];
        if (!Object.hasOwn(rates, size)) {
          throw validationError(
            [{ path: 'size', message: `Must be one of ${Object.keys(rates).join(', ')}` }],
            `Invalid size: ${size}`,
          );
        }
        return priced(op, micro(rates[size as keyof typeof rates]));
      }
      case 'stability':
        return priced(
          checkOp(CAPABILITIES.stability, 'image_generation'),
          micro(t.stability.per_image[stabilityTier(level)]),
        );
      case 'local':
        return priced(checkOp(CAPABILITIES.local, 'image_generation'), 0);
      case 'meshy': {
        const ops = Object.keys(t.meshy.operations);
        const op = checkOp(
          ops,
          level === 'high' || level === 'ultra' ? 'text_to_3d_with_texture' : 'text_to_3d',
        );
        const perCredit = this.#meshyPackagePrice(b.package);
        const credits = t.meshy.operations[op]!;
        const perUnit = cost(credits, perCredit);
        const total = usd(Math.round(perUnit * quantity));
        return priced(op, perUnit, {
          credits_per_operation: credits,
          total_credits: credits * quantity,
          cost_per_credit: round4(perCredit),
          estimated_cost: total,
        });
      }
      case 'mubert': {
        const op = checkOp(CAPABILITIES.mubert, 'audio_generation');
        const seconds = parseDuration(b.duration_seconds);
        const perUnit = Math.max(
          cost(seconds, t.mubert.per_second[mubertTier(level)]),
          micro(t.mubert.minimum),
        );
        return priced(op, perUnit, { duration_seconds: seconds });
      }
      case 'openai_gpt':
      case 'claude': {
        const op = checkOp(CAPABILITIES[key], 'text_completion');
        const tokens = parseTokens(b.estimated_tokens);
        // Without a real prompt the answer's length is a guess: half as many tokens as were sent.
        const input = cost(tokens / 1000, t[key].input_per_1k);
        const output = cost(tokens / 2 / 1000, t[key].output_per_1k);
        return priced(op, input + output, {
          input_cost: usd(Math.round(input * quantity)),
          output_cost: usd(Math.round(output * quantity)),
          tokens_estimated: tokens * quantity,
        });
      }
    }
  }

  async #estimateAssetRequest(raw: unknown, deps: EstimateDeps): Promise<Record<string, unknown>> {
    const { request, estimate, reuseAvailable } = await deps.priceAssetRequest(raw);
    // A reusable stored asset is what generate would return, and it costs nothing.
    const charged = reuseAvailable ? 0 : estimate.cost;
    return {
      provider: estimate.provider,
      category: request.category,
      operation: estimate.operation,
      estimated_cost: usd(charged),
      cost_breakdown: { generation_cost: usd(charged), total_cost: usd(charged) },
      within_max_cost: charged <= request.preferences.maxCost,
      max_cost: usd(request.preferences.maxCost),
      reuse_available: reuseAvailable,
      currency: 'USD',
    };
  }

  /** USD per credit of a named package (default: the configured default package). */
  #meshyPackagePrice(pkg: unknown): number {
    if (pkg === undefined || pkg === null) return meshyCreditPrice(this.#table);
    const name = String(pkg).toLowerCase();
    const found = this.#table.meshy.packages.find((p) => p.name.toLowerCase() === name);
    if (!found) {
      const names = this.#table.meshy.packages.map((p) => p.name.toLowerCase()).join(', ');
      throw validationError(
        [{ path: 'package', message: `Must be one of ${names}` }],
        `Unknown package: ${name}`,
      );
    }
    return found.cost / found.credits;
  }

  /** `GET /cost-estimator/dalle-tiers`: OpenAI's tiers, for information only. */
  dalleTiers(): Record<string, unknown> {
    const r = this.#table.dalle.rates;
    return {
      provider: 'dalle',
      pricing_model: 'per_image',
      tiers: this.#table.dalle.tiers.map((tier) => ({
        name: tier.name,
        monthly_fee: tier.monthly_fee,
        images_per_minute: tier.images_per_minute,
        monthly_limit: tier.monthly_limit,
        standard_cost: r.standard['1024x1024'],
        hd_cost: r.hd['1024x1024'],
      })),
      per_image_rates: {
        standard_1024x1024: r.standard['1024x1024'],
        hd_1024x1024: r.hd['1024x1024'],
        standard_1792x1024: r.standard['1792x1024'],
        hd_1792x1024: r.hd['1792x1024'],
      },
      currency: 'USD',
      billing_cycle: 'monthly',
      note: "Tier figures are informational; no tier fee is added to any generation's cost.",
    };
  }

  /** `GET /cost-estimator/meshy-packages`. */
  meshyPackages(): Record<string, unknown> {
    const m = this.#table.meshy;
    return {
      provider: 'meshy',
      pricing_model: 'credit_based',
      packages: m.packages.map((p) => ({
        name: p.name,
        credits: p.credits,
        cost: p.cost,
        cost_per_credit: round4(p.cost / p.credits),
      })),
      operations: m.operations,
      default_package: m.default_package.toLowerCase(),
      currency: 'USD',
    };
  }

  /** `GET /cost-estimator/provider-comparison`: one unit of an operation across providers, cheapest first. */
  providerComparison(query: Query, configured: (provider: ProviderId) => boolean): Record<string, unknown> {
    const operation = query.operation?.trim() || 'image_generation';
    const keys = COMPARISON_OPERATIONS[operation];
    if (!keys || !Object.hasOwn(COMPARISON_OPERATIONS, operation)) {
      throw new HttpError(400, `Unknown operation: ${operation}`);
    }
    const quantity = parseQuantity(query.quantity);
    const quality = query.quality?.trim() || 'standard';
    const level = qualityLevel(quality);
    const t = this.#table;
    const unitPrice = (key: PricingKey): number => {
      switch (key) {
        case 'dalle':
          return micro(t.dalle.rates[dalleTier(level)]['1024x1024']);
        case 'stability':
          return micro(t.stability.per_image[stabilityTier(level)]);
        case 'meshy': {
          const op = level === 'high' || level === 'ultra' ? 'text_to_3d_with_texture' : 'text_to_3d';
          return cost(t.meshy.operations[op] ?? 0, meshyCreditPrice(t));
        }
        case 'mubert':
          return Math.max(
            cost(COMPARISON_AUDIO_SECONDS, t.mubert.per_second[mubertTier(level)]),
            micro(t.mubert.minimum),
          );
        case 'openai_gpt':
        case 'claude':
          return (
            cost(COMPARISON_TOKENS / 1000, t[key].input_per_1k) +
            cost(COMPARISON_TOKENS / 2000, t[key].output_per_1k)
          );
        case 'local':
          return 0;
      }
    };
    const rows = keys
      .map((key) => {
        const perUnit = unitPrice(key);
        const id = KEY_PROVIDER[key];
        return {
          provider: key,
          perUnit: Math.round(perUnit),
          total: Math.round(perUnit * quantity),
          model: PRICING_MODEL[key],
          configured: id !== null && configured(id),
        };
      })
      .sort((a, b) => a.total - b.total || (a.provider < b.provider ? -1 : a.provider > b.provider ? 1 : 0));
    return {
      operation,
      quantity,
      quality,
      providers: rows.map((r) => ({
        provider: r.provider,
        cost_per_unit: usd(r.perUnit),
        total_cost: usd(r.total),
        model: r.model,
        configured: r.configured,
      })),
      cheapest_provider: rows[0]?.provider ?? null,
      comparison_time: this.#now().toISOString(),
    };
  }

  /** `POST /update` (admins): re-reads the pricing file. */
  update(provider: string | undefined, caller: { admin: boolean }): Record<string, unknown> {
    if (!caller.admin) throw new HttpError(403, 'Admin access required');
    const raw = provider?.trim();
    if (!raw) throw badQuery('provider', 'Field required', 'provider is required');
    const key = pricingKey(raw);
    if (!key) throw new HttpError(404, `Provider not found: ${raw}`);
    try {
      this.reload(key);
    } catch (err) {
      // The previous prices stay in force; the admin learns why the file was refused.
      if (err instanceof PricingFileError) throw new HttpError(500, `Pricing update failed: ${err.message}`);
      throw err;
    }
    return {
      message: `Pricing update triggered for ${key}`,
      provider: key,
      update_time: this.#updated.get(key)!.toISOString(),
      status: 'completed',
    };
  }

  /**
   * Checks the analytics query (dates, range, provider, `all`) and returns the UTC range to read
   * generation records for; `analytics` then turns those records into the response body.
   */
  analyticsRange(query: AnalyticsQuery, caller: { admin: boolean }): AnalyticsRange {
    return analyticsRange(query, caller, this.#now());
  }

  /** `GET /analytics` body from the caller's generation records (rows outside the range are ignored). */
  analytics(
    rows: readonly GenerationRow[],
    query: AnalyticsQuery,
    caller: { admin: boolean },
  ): Record<string, unknown> {
    return analyticsBody(rows, analyticsRange(query, caller, this.#now()));
  }
}

/** `openai` → `dalle`; unknown names → null. */
export function pricingKey(name: string): PricingKey | null {
  const n = name.trim().toLowerCase();
  if (n === 'openai') return 'dalle';
  return (PRICING_KEYS as readonly string[]).includes(n) ? (n as PricingKey) : null;
}

/** The pricing-route name of an asset provider (`openai` is listed as `dalle`). */
export function providerKey(provider: ProviderId): string {
  return provider === 'openai' ? 'dalle' : provider;
}

function qualityLevel(quality: string): Quality {
  const level = QUALITY_LEVEL[quality.toLowerCase()];
  if (!level || !Object.hasOwn(QUALITY_LEVEL, quality.toLowerCase())) {
    throw badQuery(
      'quality',
      `Must be one of ${Object.keys(QUALITY_LEVEL).join(', ')}`,
      `Invalid quality: ${quality}`,
    );
  }
  return level;
}

const dalleTier = (q: Quality): 'standard' | 'hd' => (q === 'low' || q === 'medium' ? 'standard' : 'hd');
const stabilityTier = (q: Quality): 'standard' | 'hd' | 'ultra' =>
  q === 'low' || q === 'medium' ? 'standard' : q === 'high' ? 'hd' : 'ultra';
const mubertTier = (q: Quality): 'standard' | 'high' => (q === 'low' || q === 'medium' ? 'standard' : 'high');

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

const round4 = (n: number): number => Math.round(n * 10_000) / 10_000;

/** An integer 1–1000 from a JSON number or a query string; absent = 1. */
function parseQuantity(raw: unknown): number {
  if (raw === undefined || raw === null || raw === '') return 1;
  const n = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_QUANTITY) {
    throw badQuery('quantity', `Must be an integer between 1 and ${MAX_QUANTITY}`);
  }
  return n;
}

function parseDuration(raw: unknown): number {
  if (raw === undefined || raw === null) return 30;
  if (typeof raw !== 'number' || !Number.isFinite(raw) || raw <= 0 || raw > 600) {
    throw badQuery('duration_seconds', 'Must be a number greater than 0 and at most 600');
  }
  return raw;
}

function parseTokens(raw: unknown): number {
  if (raw === undefined || raw === null) return 1000;
  if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 1 || raw > 10_000_000) {
    throw badQuery('estimated_tokens', 'Must be an integer between 1 and 10000000');
  }
  return raw;
}
