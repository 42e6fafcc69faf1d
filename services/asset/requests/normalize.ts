/**
 * The normalised form of a generate request and its hash. Two requests that differ only in spelling details
 * (case, spacing, Unicode composition) or in settings that do not change the produced file (session, budget,
 * wait) get the same hash, so the second can reuse the first one's asset.
 */
import type { AssetRequest } from '../types.ts';

/** NFC, trimmed, inner whitespace collapsed to one space, lower-cased. */
export function normalizeText(s: string): string {
  return s.normalize('NFC').trim().replace(/\s+/gu, ' ').toLowerCase();
}

/**
 * JSON with object keys sorted at every level and no insignificant whitespace, so equal values always give
 * equal bytes. Undefined members are left out, as JSON.stringify does.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('Not a finite number');
    return JSON.stringify(value);
  }
  if (Array.isArray(value))
    return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The fields that decide what file comes out, with defaults applied, in their normalised forms. */
export function normalizedRequest(req: Omit<AssetRequest, 'requestHash'>): Record<string, unknown> {
  const r = req.requirements;
  const out: Record<string, unknown> = {
    category: req.category,
    style: normalizeText(req.style),
    description: normalizeText(req.description),
    requirements: {
      platform: r.platform === null ? null : normalizeText(r.platform),
      quality: r.quality,
      format: r.format,
      size: r.size,
      duration_seconds: r.durationSeconds,
      polygon_count_max: r.polygonCountMax,
    },
  };
  // Only a named provider changes the result; leaving it out keeps the hash of requests without one stable
  // when the provider order changes.
  if (req.preferences.provider !== null) out.preferences = { provider: req.preferences.provider };
  return out;
}

/** Lowercase hex SHA-256 of the canonical normalised request. */
export function requestHash(req: Omit<AssetRequest, 'requestHash'>): string {
  return new Bun.CryptoHasher('sha256').update(canonicalJson(normalizedRequest(req))).digest('hex');
}
