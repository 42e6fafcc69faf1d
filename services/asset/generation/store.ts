/**
 * Turns a provider result into a stored asset: the file (downloaded safely when the provider gave a URL)
 * and its preview go to storage first, then the asset row records size, SHA-256, type and the answer as
 * first produced. Only after that can any URL to it exist.
 */
import type { Db } from '../../../db/index.ts';
import { HttpError } from '../../../src/http/errors.ts';
import { contentTypeFor } from '../downloads/serve.ts';
import {
  type AssetRequest,
  type AssetStorage,
  type Category,
  type Micro,
  type ProviderFile,
  type ProviderId,
  type ProviderResult,
  usd,
} from '../types.ts';

export type FetchFile = (
  url: string,
  opts: { maxBytes: number; provider: ProviderId },
) => Promise<{ bytes: Uint8Array; contentType: string }>;

export interface Previewer {
  /** The image scaled to fit 512×512, as PNG. */
  image(png: Uint8Array): Uint8Array;
  /** A 512×512 solid-colour PNG for a category without a picture of its own. */
  solid(category: Category): Uint8Array;
}

const IMAGE_CATEGORIES: Category[] = ['image', 'texture'];

interface StoreDeps {
  db: Db;
  storage: AssetStorage;
  fetchFile: FetchFile;
  previews: Previewer;
  maxBytes: number;
  cost: Micro;
}

interface StoreInput {
  assetId: string;
  jobId: string;
  userId: string;
  req: AssetRequest;
  provider: ProviderId;
  prompt: string;
  warnings: string[];
  result: ProviderResult;
  generationTimeMs: number;
}

async function bytesOf(
  deps: StoreDeps,
  file: ProviderFile,
  provider: ProviderId,
): Promise<{ bytes: Uint8Array; contentType: string }> {
  if (file.kind === 'bytes') {
    if (file.bytes.byteLength > deps.maxBytes)
      throw new HttpError(502, `Provider ${provider} failed: the file is larger than the size limit`);
    return { bytes: file.bytes, contentType: file.contentType };
  }
  return deps.fetchFile(file.url, { maxBytes: deps.maxBytes, provider });
}

export function titleOf(description: string): string {
  const t = description.trim().replace(/\s+/g, ' ');
  return t.length <= 100 ? t : `${t.slice(0, 97)}...`;
}

export async function storeResult(deps: StoreDeps, input: StoreInput): Promise<void> {
  const { req, result, provider, assetId } = input;
  const format = result.format;
  const main = await bytesOf(deps, result.file, provider);
  const contentType = contentTypeFor(format);
  const key = `generated/${req.category}/${assetId}.${format}`;
  // The file's durable write (data and directory fsyncs) starts now and overlaps the preview's making and
  // writing: they are independent, and the two fsync waits were the largest part of the service's own time.
  const storing = deps.storage.put(key, main.bytes, contentType);
  storing.catch(() => {});

  let previewBytes: Uint8Array;
  if (result.preview) {
    const p = await bytesOf(deps, result.preview, provider).catch(() => null);
    previewBytes = p ? safePreview(deps, p.bytes, req.category) : deps.previews.solid(req.category);
  } else if (IMAGE_CATEGORIES.includes(req.category) && format === 'png') {
    previewBytes = safePreview(deps, main.bytes, req.category);
  } else {
    previewBytes = deps.previews.solid(req.category);
  }

  const previewKey = `previews/${assetId}.png`;
  const [stored] = await Promise.all([storing, deps.storage.put(previewKey, previewBytes, 'image/png')]);

  const now = new Date();
  const metadata: Record<string, unknown> = {
    generation_id: input.jobId,
    title: titleOf(req.description),
    category: req.category,
    style: req.style,
    prompt: req.description,
    enhanced_prompt: input.prompt,
    provider,
    model: result.model,
    quality: req.requirements.quality,
    generation_time_ms: input.generationTimeMs,
    generated_at: now.toISOString(),
    session_id: req.sessionId,
    request_hash: req.requestHash,
    warnings: input.warnings,
    ...result.metadata,
  };
  if (req.requirements.size && metadata.size === undefined) metadata.size = req.requirements.size;
  const cost = usd(deps.cost);
  // The answer as first produced; links are added fresh whenever it is read.
  const response = {
    asset_id: assetId,
    source: 'generated',
    cost,
    response_time_ms: input.generationTimeMs,
    asset_data: {
      file_format: format,
      file_size_mb: Math.round((stored.size / 1048576) * 10_000) / 10_000,
      quality_score: result.qualityScore,
      license_type: result.license,
      attribution_required: false,
    },
    storage_info: {
      storage_type: deps.storage.type,
      bucket_name: deps.storage.bucket,
      file_path: key,
      external_source: provider,
    },
    metadata,
    cost_breakdown: {
      search_cost: 0,
      modification_cost: 0,
      generation_cost: cost,
      storage_cost: 0,
      total_cost: cost,
    },
  };
  const { db } = deps;
  await db.orm.insert(db.t.assets).values({
    id: assetId,
    userId: input.userId,
    sessionId: req.sessionId,
    category: req.category,
    title: titleOf(req.description),
    description: req.description,
    style: req.style,
    styleTags: req.style.split(/[-_\s]+/).filter(Boolean),
    provider,
    model: result.model,
    fileFormat: format,
    contentType,
    sizeBytes: stored.size,
    sha256: stored.sha256,
    storageKey: key,
    previewKey,
    previewContentType: 'image/png',
    qualityScore: result.qualityScore,
    licenseType: result.license,
    attributionRequired: false,
    requestHash: req.requestHash,
    costMicroUsd: deps.cost,
    response,
    metadata,
    createdAt: now,
    updatedAt: now,
  });
}

function safePreview(deps: StoreDeps, bytes: Uint8Array, category: Category): Uint8Array {
  try {
    return deps.previews.image(bytes);
  } catch {
    return deps.previews.solid(category);
  }
}
