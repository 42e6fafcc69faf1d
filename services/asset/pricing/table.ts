/**
 * The asset price table: built-in list prices, optionally replaced piece by piece from a JSON file
 * (`ASSET_PRICING_FILE`). Prices here are USD as published by the providers, because that is what an
 * operator copies into the file; they become integer micro-dollars only when a cost is computed.
 *
 * A cost is units × unit price and nothing else. Tier fees and package prices are listed for the
 * informational pricing routes only and never enter a generation's cost.
 */
import { readFileSync } from 'node:fs';
import type { ImageSize } from '../types.ts';

export interface DalleTier {
  name: string;
  monthly_fee: number;
  images_per_minute: number;
  monthly_limit: number;
}

export interface MeshyPackage {
  name: string;
  credits: number;
  cost: number;
}

export interface TokenRates {
  /** USD per 1,000 input tokens. */
  input_per_1k: number;
  /** USD per 1,000 output tokens. */
  output_per_1k: number;
}

export interface PriceTable {
  /** OpenAI gpt-image models (the current image API). */
  gpt_image: {
    per_image: Record<'low' | 'medium' | 'high', { square: number; wide: number }>;
    /** USD per million tokens, used when the answer reports its usage. */
    tokens: { input_text_per_million: number; input_image_per_million: number; output_per_million: number };
  };
  stability: {
    /** USD per credit of the v2beta stable-image API. */
    credit_price: number;
    /** Credits per image by v2beta service. */
    credits: { core: number; sd3: number; ultra: number };
    /** Legacy v1 per-image prices (also what the informational routes list). */
    per_image: { standard: number; hd: number; ultra: number };
  };
  meshy: {
    /** Credits per task of the current text-to-3d API. */
    credits: { preview: number; refine: number };
    /** Credits per operation as the informational routes list them. */
    operations: Record<string, number>;
    packages: MeshyPackage[];
    /** Lower-case name of the package whose credit price generations are charged at. */
    default_package: string;
  };
  elevenlabs: { music_per_second: number; sfx_per_second: number; sfx_minimum: number };
  /** OpenAI dall-e-3 (legacy image API, and the informational routes). */
  dalle: {
    rates: Record<'standard' | 'hd', Record<ImageSize, number>>;
    tiers: DalleTier[];
  };
  mubert: { per_second: { standard: number; high: number }; minimum: number };
  /** Listed for the informational routes only; the asset service never calls these. */
  openai_gpt: TokenRates;
  claude: TokenRates;
}

export function defaultPriceTable(): PriceTable {
  return {
    gpt_image: {
      per_image: {
        low: { square: 0.011, wide: 0.016 },
        medium: { square: 0.042, wide: 0.063 },
        high: { square: 0.167, wide: 0.25 },
      },
      tokens: { input_text_per_million: 5, input_image_per_million: 10, output_per_million: 40 },
    },
    stability: {
      credit_price: 0.01,
      credits: { core: 3, sd3: 6.5, ultra: 8 },
      per_image: { standard: 0.02, hd: 0.04, ultra: 0.08 },
    },
    meshy: {
      credits: { preview: 20, refine: 10 },
      operations: {
        text_to_3d: 5,
        text_to_3d_with_texture: 15,
        image_to_3d: 10,
        mesh_refining: 8,
        texture_generation: 3,
      },
      packages: [
        { name: 'Starter', credits: 200, cost: 6 },
        { name: 'Professional', credits: 1000, cost: 20 },
        { name: 'Enterprise', credits: 5000, cost: 80 },
      ],
      default_package: 'professional',
    },
    elevenlabs: { music_per_second: 0.0125, sfx_per_second: 0.002, sfx_minimum: 0.01 },
    dalle: {
      rates: {
        standard: { '1024x1024': 0.04, '1792x1024': 0.08, '1024x1792': 0.08 },
        hd: { '1024x1024': 0.08, '1792x1024': 0.12, '1024x1792': 0.12 },
      },
      tiers: [
        { name: 'Tier 1', monthly_fee: 5, images_per_minute: 5, monthly_limit: 15000 },
        { name: 'Tier 2', monthly_fee: 50, images_per_minute: 50, monthly_limit: 150000 },
        { name: 'Tier 3', monthly_fee: 500, images_per_minute: 500, monthly_limit: 1500000 },
      ],
    },
    mubert: { per_second: { standard: 0.005, high: 0.008 }, minimum: 0.05 },
    openai_gpt: { input_per_1k: 0.03, output_per_1k: 0.06 },
    claude: { input_per_1k: 0.015, output_per_1k: 0.075 },
  };
}

/** The pricing file is unreadable, not JSON, or names a key or value the table does not have. */
export class PricingFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PricingFileError';
  }
}

/**
 * Records whose keys are names rather than a fixed shape: an operator may add a Meshy operation. Every
 * other object is closed, so a misspelt key in the file is an error instead of a silently ignored price.
 */
const OPEN_RECORDS = new Set(['meshy.operations']);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `base` with `override` laid over it, checked against the shape of `base`. */
function overlay(base: unknown, override: unknown, path: string): unknown {
  const where = path || '(root)';
  if (typeof base === 'number') {
    if (typeof override !== 'number' || !Number.isFinite(override) || override < 0) {
      throw new PricingFileError(`${where} must be a number >= 0`);
    }
    return override;
  }
  if (typeof base === 'string') {
    if (typeof override !== 'string' || override.trim() === '') {
      throw new PricingFileError(`${where} must be a non-empty string`);
    }
    return override;
  }
  if (Array.isArray(base)) {
    // A list (tiers, packages) is replaced as a whole; each entry must have the full shape.
    if (!Array.isArray(override) || override.length === 0) {
      throw new PricingFileError(`${where} must be a non-empty array`);
    }
    const shape = base[0];
    return override.map((item, i) => {
      const entry = overlay(shape, item, `${path}[${i}]`) as Record<string, unknown>;
      for (const key of Object.keys(shape as object)) {
        if (!isObject(item) || !(key in item)) throw new PricingFileError(`${path}[${i}].${key} is required`);
      }
      return entry;
    });
  }
  if (isObject(base)) {
    if (!isObject(override)) throw new PricingFileError(`${where} must be an object`);
    const open = OPEN_RECORDS.has(path);
    const out: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(override)) {
      const childPath = path ? `${path}.${key}` : key;
      if (key in base) out[key] = overlay(base[key], value, childPath);
      else if (open) out[key] = overlay(0, value, childPath);
      else throw new PricingFileError(`Unknown pricing key: ${childPath}`);
    }
    return out;
  }
  throw new PricingFileError(`${where} cannot be overridden`);
}

/** Rules the shape alone cannot express. */
function checkTable(table: PriceTable): void {
  const meshy = table.meshy;
  const chosen = meshy.packages.find((p) => p.name.toLowerCase() === meshy.default_package.toLowerCase());
  if (!chosen) throw new PricingFileError(`meshy.default_package names no package: ${meshy.default_package}`);
  for (const [i, p] of meshy.packages.entries()) {
    if (p.credits <= 0) throw new PricingFileError(`meshy.packages[${i}].credits must be > 0`);
  }
}

/** Lays an override object over the defaults (or over `base`), throwing PricingFileError when it does not fit. */
export function applyOverrides(override: unknown, base: PriceTable = defaultPriceTable()): PriceTable {
  const table = overlay(base, override, '') as PriceTable;
  checkTable(table);
  return table;
}

/** The defaults, with the pricing file laid over them when one is configured. Reads the file every call. */
export function loadPriceTable(file?: string | null): PriceTable {
  if (!file) return defaultPriceTable();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PricingFileError(
      `Cannot read pricing file ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new PricingFileError(`Pricing file ${file} is not valid JSON`);
  }
  try {
    return applyOverrides(parsed);
  } catch (err) {
    if (err instanceof PricingFileError) throw new PricingFileError(`Pricing file ${file}: ${err.message}`);
    throw err;
  }
}

/** USD per Meshy credit at the default package: what a Meshy credit costs Gaia. */
export function meshyCreditPrice(table: PriceTable): number {
  const pkg = table.meshy.packages.find(
    (p) => p.name.toLowerCase() === table.meshy.default_package.toLowerCase(),
  );
  // checkTable guarantees the package exists; the fallback only keeps the type honest.
  return pkg ? pkg.cost / pkg.credits : 0;
}
