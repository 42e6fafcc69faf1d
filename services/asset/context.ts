/**
 * Everything one asset instance holds, built once per app so two stacks in one process share nothing: its
 * settings, the providers, prices, storage, the generator and the readers of stored assets.
 */
import { eq, sql } from 'drizzle-orm';
import type { ServiceDeps, ServiceKernel } from '../../src/http/service.ts';
import { AssetReader } from './assets/service.ts';
import { type AssetConfig, readAssetConfig } from './config.ts';
import { downloadProviderError, safeFetch } from './fetch/safe-fetch.ts';
import { Generator } from './generation/service.ts';
import type { FetchFile } from './generation/store.ts';
import { imagePreview, solidPreview } from './previews.ts';
import { Pricing } from './pricing/service.ts';
import { elevenLabsAdapterFrom } from './providers/elevenlabs.ts';
import { localImageAdapterFrom } from './providers/local.ts';
import { MeshyAdapter } from './providers/meshy.ts';
import { MubertAdapter } from './providers/mubert.ts';
import { openaiImageAdapterFrom } from './providers/openai.ts';
import { stabilityAdapterFrom } from './providers/stability.ts';
import { createStorage } from './storage/index.ts';
import type { AssetStorage, ProviderAdapter, ProviderId } from './types.ts';

export interface AssetContext {
  deps: ServiceDeps;
  kernel: ServiceKernel;
  config: AssetConfig;
  pricing: Pricing;
  storage: AssetStorage;
  providers: Map<ProviderId, ProviderAdapter>;
  generator: Generator;
  reader: AssetReader;
  recordDownload(assetId: string, userId: string | null): Promise<void>;
  /**
   * Marks a GET that stands for a HEAD (see app.ts). Random per instance, so a client cannot forge it to
   * turn its own GET into a bodiless answer.
   */
  headToken: string;
}

/** Header carrying `headToken` on a HEAD the service rewrote into a GET. */
export const HEAD_MARK_HEADER = 'x-gaia-asset-head';

/** What tests may replace: the provider URL fetcher (the real one refuses loopback, where fakes live). */
export interface AssetOverrides {
  fetchFile?: FetchFile;
}

export function buildProviders(config: AssetConfig): Map<ProviderId, ProviderAdapter> {
  const list: ProviderAdapter[] = [
    openaiImageAdapterFrom(config),
    stabilityAdapterFrom(config),
    new MeshyAdapter({
      apiKey: config.meshy.apiKey ?? null,
      apiBase: config.meshy.apiBase,
      model: config.meshy.model,
      pollIntervalMs: config.meshy.pollIntervalMs,
      timeoutMs: config.meshy.timeoutMs,
      maxPromptChars: config.meshy.maxPromptChars,
      testMode: config.meshy.testMode,
      requestTimeoutMs: config.providerTimeoutMs,
    }),
    elevenLabsAdapterFrom(config),
    new MubertAdapter({
      apiKey: config.mubert.apiKey ?? null,
      apiBase: config.mubert.apiBase,
      pollMs: config.mubert.pollIntervalMs,
      timeoutMs: config.mubert.timeoutMs,
      requestTimeoutMs: config.providerTimeoutMs,
    }),
    localImageAdapterFrom(config),
  ];
  return new Map(list.map((a) => [a.id, a]));
}

/** Downloads a provider's result URL under the address policy; failures become provider errors. */
export function safeFetchFile(): FetchFile {
  return async (url, { maxBytes, provider }) => {
    try {
      const r = await safeFetch(url, { maxBytes });
      return { bytes: r.bytes, contentType: r.contentType };
    } catch (err) {
      throw downloadProviderError(provider, err);
    }
  };
}

export function createAssetContext(
  deps: ServiceDeps,
  kernel: ServiceKernel,
  overrides: AssetOverrides = {},
): AssetContext {
  const config = readAssetConfig(deps.config);
  const storage = createStorage(
    config.storage === 's3'
      ? {
          type: 's3',
          bucket: config.s3.bucket ?? '',
          endpoint: config.s3.endpoint,
          region: config.s3.region,
          accessKeyId: config.s3.accessKeyId ?? '',
          secretAccessKey: config.s3.secretAccessKey ?? '',
          prefix: config.s3.prefix,
          forcePathStyle: config.s3.forcePathStyle,
        }
      : { type: 'local', root: config.storageDir },
  );
  const pricing = new Pricing({
    file: config.pricingFile,
    openaiImageModel: config.openai.imageModel,
    stabilityApiVersion: config.stability.apiVersion,
  });
  const providers = buildProviders(config);
  const reader = new AssetReader(deps.db, config);
  const generator = new Generator({
    config,
    publicUrl: config.publicUrl,
    db: deps.db,
    bus: deps.bus,
    log: deps.log,
    pricing,
    storage,
    providers,
    fetchFile: overrides.fetchFile ?? safeFetchFile(),
    previews: { image: imagePreview, solid: solidPreview },
    respond: (id, extra) => reader.response(id, extra),
    instanceId: crypto.randomUUID(),
  });
  const { db } = deps;
  return {
    deps,
    kernel,
    config,
    pricing,
    storage,
    providers,
    generator,
    reader,
    headToken: crypto.randomUUID(),
    async recordDownload(assetId, userId) {
      const a = db.t.assets;
      await db.orm.insert(db.t.assetUsage).values({
        id: crypto.randomUUID(),
        assetId,
        userId,
        usageType: 'download',
        costMicroUsd: 0,
        createdAt: new Date(),
      });
      await db.orm
        .update(a)
        .set({ downloadCount: sql`${a.downloadCount} + 1` })
        .where(eq(a.id, assetId));
    },
  };
}
