/**
 * Validation of a generate request body into an AssetRequest with every default applied. Each bad field gets
 * its own entry in the 422 `errors` list, so a client can fix them all in one round.
 */
import { randomUUID } from 'node:crypto';
import { type FieldError, HttpError } from '../../../src/http/errors.ts';
import type { AssetConfig } from '../config.ts';
import {
  type AssetRequest,
  CATEGORIES,
  type Category,
  type ImageSize,
  micro,
  PROVIDERS,
  type ProviderId,
  QUALITIES,
  type Quality,
} from '../types.ts';
import { requestHash } from './normalize.ts';

export interface ProviderCapabilities {
  configured: (p: ProviderId) => boolean;
  supports: (p: ProviderId, category: Category) => boolean;
  formats: (p: ProviderId, category: Category) => string[];
}

/** Built-in order per category; `local` only ever stands in when no real provider is configured. */
export const DEFAULT_PROVIDER_ORDER: Record<Category, ProviderId[]> = {
  image: ['openai', 'stability', 'local'],
  texture: ['openai', 'stability', 'local'],
  environment: ['meshy'],
  character: ['meshy'],
  prop: ['meshy'],
  audio: ['elevenlabs', 'mubert'],
  animation: [],
};

export const IMAGE_SIZES: readonly ImageSize[] = ['1024x1024', '1792x1024', '1024x1792'];
export const THREE_D: readonly Category[] = ['environment', 'character', 'prop'];
/** The longest synchronous wait, whatever the request or ASSET_DEFAULT_WAIT_MS say. */
export const MAX_SYNC_WAIT_MS = 120_000;
export const DEFAULT_MAX_COST_USD = 0.5;

/**
 * Keys that could carry a URL for the service to call. The service never fetches what a client names, and
 * refusing these outright (rather than ignoring them) tells a client that expected a callback that it gets none.
 */
const URL_KEYS = new Set(['url', 'uri', 'endpoint', 'host', 'api_base', 'base_url', 'callback', 'webhook']);
export function isUrlKey(key: string): boolean {
  const k = key.toLowerCase();
  return URL_KEYS.has(k) || k.endsWith('_url') || k.endsWith('_uri');
}

/** A description asking for a looping background track rather than a piece of music. */
export function isSoundtrack(description: string): boolean {
  return /soundtrack|background/i.test(description);
}

/** A description asking for a sound effect rather than music. */
export function isSoundEffect(description: string): boolean {
  return /sound[\s_-]*effect|\bsfx\b/i.test(description);
}

/** Characters as people count them (code points), not UTF-16 units. */
const charCount = (s: string): number => [...s].length;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every key, at any depth, that could carry a URL; paths like `requirements.reference_url` or `tags.0.url`. */
export function findUrlKeys(body: unknown): Array<{ key: string; path: string }> {
  const found: Array<{ key: string; path: string }> = [];
  // Iterative, depth-first in document order: a deeply nested body must not exhaust the call stack.
  const stack: Array<{ value: unknown; path: string; key: string | null }> = [
    { value: body, path: '', key: null },
  ];
  while (stack.length > 0) {
    const { value, path, key } = stack.pop()!;
    if (key !== null && isUrlKey(key)) found.push({ key, path });
    if (typeof value !== 'object' || value === null) continue;
    const isArray = Array.isArray(value);
    const entries = isArray ? value.map((v, i) => [String(i), v] as const) : Object.entries(value as Obj);
    // Pushed in reverse so the first member is visited first; array indexes are never keys to refuse.
    for (let i = entries.length - 1; i >= 0; i--) {
      const [k, child] = entries[i]!;
      stack.push({ value: child, path: path === '' ? k : `${path}.${k}`, key: isArray ? null : k });
    }
  }
  return found;
}

/**
 * Validates and normalises a generate body. Throws HttpError 422: `Field not allowed: <key>` for URL-carrying
 * keys, `No provider configured for category '<c>'` for a category no provider can make, else
 * `Invalid request body` with one entry per bad field.
 */
export function parseAssetRequest(body: unknown, cfg: AssetConfig, caps: ProviderCapabilities): AssetRequest {
  if (!isObj(body))
    throw new HttpError(422, 'Invalid request body', {
      errors: [{ path: '', message: 'Expected a JSON object' }],
    });

  const urlKeys = findUrlKeys(body);
  if (urlKeys.length > 0)
    throw new HttpError(422, `Field not allowed: ${urlKeys[0]!.key}`, {
      errors: urlKeys.map((k) => ({ path: k.path, message: 'URLs cannot be supplied to the asset service' })),
    });

  const errors: FieldError[] = [];
  const fail = (path: string, message: string): undefined => {
    errors.push({ path, message });
    return undefined;
  };

  // ── category, style, description ─────────────────────────────────────────────────────────────────
  let category: Category | undefined;
  if (body.category === undefined || body.category === null) fail('category', 'Required');
  else if (typeof body.category !== 'string' || !CATEGORIES.includes(body.category as Category))
    fail('category', `Must be one of: ${CATEGORIES.join(', ')}`);
  else category = body.category as Category;

  const text = (name: 'style' | 'description', max: number): string | undefined => {
    const v = body[name];
    if (v === undefined || v === null) return fail(name, 'Required');
    if (typeof v !== 'string') return fail(name, 'Expected a string');
    const t = v.trim();
    if (t === '') return fail(name, 'Must not be empty');
    if (charCount(t) > max) return fail(name, `Must be at most ${max} characters`);
    return t;
  };
  const style = text('style', 100);
  const description = text('description', 4000);

  // A category that no provider makes at all (animation today) is refused as such, not as a bad field.
  const makers = category ? PROVIDERS.filter((p) => caps.supports(p, category!)) : [];
  const noMaker = category !== undefined && makers.length === 0;

  // ── preferences (read first: a named provider decides which formats are possible) ────────────────
  const prefs = optionalObject(body, 'preferences', fail) ?? {};
  const allowDatabase = optionalBool(prefs, 'allow_database', 'preferences', true, fail);
  const allowGeneration = optionalBool(prefs, 'allow_generation', 'preferences', true, fail);
  optionalBool(prefs, 'allow_modifications', 'preferences', true, fail);

  let maxCost = micro(DEFAULT_MAX_COST_USD);
  if (prefs.max_cost !== undefined && prefs.max_cost !== null) {
    const v = prefs.max_cost;
    if (typeof v !== 'number' || !Number.isFinite(v)) fail('preferences.max_cost', 'Expected a number');
    else if (v < 0) fail('preferences.max_cost', 'Must be greater than or equal to 0');
    else maxCost = micro(v);
  }

  let maxWaitMs = Math.min(cfg.defaultWaitMs, MAX_SYNC_WAIT_MS);
  if (prefs.max_wait_time_ms !== undefined && prefs.max_wait_time_ms !== null) {
    const v = prefs.max_wait_time_ms;
    if (typeof v !== 'number' || !Number.isInteger(v))
      fail('preferences.max_wait_time_ms', 'Expected an integer');
    else if (v < 0 || v > 600_000) fail('preferences.max_wait_time_ms', 'Must be between 0 and 600000');
    else maxWaitMs = Math.min(v, MAX_SYNC_WAIT_MS);
  }

  let provider: ProviderId | null = null;
  if (prefs.provider !== undefined && prefs.provider !== null) {
    const v = prefs.provider;
    if (typeof v !== 'string' || !PROVIDERS.includes(v as ProviderId))
      fail('preferences.provider', `Must be one of: ${PROVIDERS.join(', ')}`);
    else if (!caps.configured(v as ProviderId))
      fail('preferences.provider', `Provider '${v}' is not configured`);
    else if (category && !noMaker && !caps.supports(v as ProviderId, category))
      fail('preferences.provider', `Provider '${v}' does not support category '${category}'`);
    else provider = v as ProviderId;
  }

  // ── requirements ─────────────────────────────────────────────────────────────────────────────────
  const reqs = optionalObject(body, 'requirements', fail);
  let platform: string | null = null;
  if (reqs) {
    const v = reqs.platform;
    if (v === undefined || v === null) fail('requirements.platform', 'Required');
    else if (typeof v !== 'string') fail('requirements.platform', 'Expected a string');
    else if (v.trim() === '') fail('requirements.platform', 'Must not be empty');
    else if (charCount(v.trim()) > 50) fail('requirements.platform', 'Must be at most 50 characters');
    else platform = v.trim();
  }
  const r = reqs ?? {};

  let quality: Quality = 'medium';
  if (r.quality !== undefined && r.quality !== null) {
    if (typeof r.quality !== 'string' || !QUALITIES.includes(r.quality as Quality))
      fail('requirements.quality', `Must be one of: ${QUALITIES.join(', ')}`);
    else quality = r.quality as Quality;
  }

  let polygonCountMax: number | null = null;
  if (r.polygon_count_max !== undefined && r.polygon_count_max !== null) {
    const v = r.polygon_count_max;
    if (typeof v !== 'number' || !Number.isInteger(v))
      fail('requirements.polygon_count_max', 'Expected an integer');
    else if (v < 100 || v > 500_000) fail('requirements.polygon_count_max', 'Must be between 100 and 500000');
    // Only 3D models have polygons; elsewhere the value is accepted and has no effect (nor a place in the hash).
    else if (category && THREE_D.includes(category)) polygonCountMax = v;
  }

  let fileSizeMaxMb: number | null = null;
  if (r.file_size_max_mb !== undefined && r.file_size_max_mb !== null) {
    const v = r.file_size_max_mb;
    if (typeof v !== 'number' || !Number.isFinite(v))
      fail('requirements.file_size_max_mb', 'Expected a number');
    else if (v <= 0 || v > cfg.maxFileMb)
      fail('requirements.file_size_max_mb', `Must be greater than 0 and at most ${cfg.maxFileMb}`);
    else fileSizeMaxMb = v;
  }

  let size: ImageSize | null = null;
  if (r.size !== undefined && r.size !== null) {
    if (typeof r.size !== 'string' || !IMAGE_SIZES.includes(r.size as ImageSize))
      fail('requirements.size', `Must be one of: ${IMAGE_SIZES.join(', ')}`);
    else if (category === 'image' || category === 'texture') size = r.size as ImageSize;
  }
  if (size === null && (category === 'image' || category === 'texture')) size = '1024x1024';

  const soundtrack = category === 'audio' && description !== undefined && isSoundtrack(description);
  let durationSeconds: number | null = null;
  if (category === 'audio') durationSeconds = soundtrack ? 60 : 30;
  if (r.duration_seconds !== undefined && r.duration_seconds !== null) {
    const v = r.duration_seconds;
    // Music runs 15–300 s and soundtracks 30–600 s; a sound effect may be as short as half a second.
    const [min, max] = soundtrack
      ? [30, 600]
      : category === 'audio' && description !== undefined && isSoundEffect(description)
        ? [0.5, 300]
        : [15, 300];
    if (typeof v !== 'number' || !Number.isFinite(v))
      fail('requirements.duration_seconds', 'Expected a number');
    else if (v < min || v > max) fail('requirements.duration_seconds', `Must be between ${min} and ${max}`);
    else if (category === 'audio') durationSeconds = v;
  }

  let format: string | undefined;
  if (category && !noMaker) {
    // With a named provider only its formats are possible; otherwise any provider for the category may serve.
    const offered = provider
      ? caps.formats(provider, category)
      : unique(makers.flatMap((p) => caps.formats(p, category!)));
    if (r.format !== undefined && r.format !== null) {
      const v = typeof r.format === 'string' ? r.format.trim().toLowerCase() : undefined;
      if (v === undefined) fail('requirements.format', 'Expected a string');
      else if (!offered.includes(v))
        fail(
          'requirements.format',
          provider
            ? `Provider '${provider}' makes ${offered.join(', ')} for category '${category}'`
            : `Must be one of: ${offered.join(', ')} for category '${category}'`,
        );
      else format = v;
    } else format = defaultFormat(category, provider, cfg, caps);
  }

  let sessionId: string = randomUUID();
  if (body.session_id !== undefined && body.session_id !== null) {
    const v = body.session_id;
    if (typeof v !== 'string') fail('session_id', 'Expected a string');
    else if (charCount(v) > 255) fail('session_id', 'Must be at most 255 characters');
    else if (v.trim() !== '') sessionId = v.trim();
  }

  if (noMaker) {
    const detail = `No provider configured for category '${category}'`;
    if (errors.length === 0)
      throw new HttpError(422, detail, { errors: [{ path: 'category', message: detail }] });
    errors.unshift({ path: 'category', message: detail });
  }
  if (errors.length > 0) throw new HttpError(422, 'Invalid request body', { errors });

  const req: Omit<AssetRequest, 'requestHash'> = {
    category: category!,
    style: style!,
    description: description!,
    requirements: {
      platform,
      quality,
      polygonCountMax,
      fileSizeMaxMb,
      format: format!,
      size,
      durationSeconds,
    },
    preferences: { allowDatabase, allowGeneration, maxCost, maxWaitMs, provider },
    sessionId,
    soundtrack,
  };
  return { ...req, requestHash: requestHash(req) };
}

/**
 * The format made when the request names none: that of the provider which will most likely serve it (named,
 * else the first configured real one in the configured order, else `local`, else the first that could), so the
 * stored file and the hashed request agree.
 */
function defaultFormat(
  category: Category,
  provider: ProviderId | null,
  cfg: AssetConfig,
  caps: ProviderCapabilities,
): string {
  const order = cfg.providerOrder[category] ?? DEFAULT_PROVIDER_ORDER[category];
  const supporting = unique([...order, ...PROVIDERS]).filter((p) => caps.supports(p, category));
  const chosen =
    provider ??
    supporting.find((p) => p !== 'local' && caps.configured(p)) ??
    supporting.find((p) => p === 'local' && caps.configured(p)) ??
    supporting[0]!;
  return caps.formats(chosen, category)[0]!;
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}

function optionalObject(
  body: Obj,
  name: string,
  fail: (path: string, message: string) => undefined,
): Obj | undefined {
  const v = body[name];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) return fail(name, 'Expected an object');
  return v;
}

function optionalBool(
  obj: Obj,
  name: string,
  parent: string,
  dflt: boolean,
  fail: (path: string, message: string) => undefined,
): boolean {
  const v = obj[name];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') {
    fail(`${parent}.${name}`, 'Expected true or false');
    return dflt;
  }
  return v;
}
