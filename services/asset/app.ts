/**
 * The asset service: image, texture, 3D and audio generation through external providers, with prices,
 * budgets, reuse, jobs, Gaia-served files and the pricing routes, composed on the service kernel.
 */

import { carryIdentity } from '../../src/http/identity.ts';
import { createServiceApp, type ServiceDeps } from '../../src/http/service.ts';
import { routesOf } from '../../src/metrics.ts';
import type { MountedService } from '../../src/platform.ts';
import { assetRoutes } from './assets/index.ts';
import { type AssetOverrides, createAssetContext, HEAD_MARK_HEADER } from './context.ts';
import { pricingRoutes } from './pricing/index.ts';

/** Age past which a storage temporary file cannot belong to a write still in flight. */
const TEMP_MAX_AGE_MS = 60 * 60_000;

export function createAssetApp(deps: ServiceDeps, overrides: AssetOverrides = {}) {
  const kernel = createServiceApp({
    name: 'asset',
    deps,
    health: () => ({
      providers: [...ctx.providers.values()].filter((p) => p.configured()).map((p) => p.id),
      storage: ctx.storage.type,
    }),
  });
  const ctx = createAssetContext(deps, kernel, overrides);
  const app = kernel.use(assetRoutes(ctx)).use(pricingRoutes(ctx));
  return { app, ctx };
}

/** How the launchers mount asset (wiring/registry.ts). */
export async function assetService(
  deps: ServiceDeps,
  overrides: AssetOverrides = {},
): Promise<MountedService> {
  const { app, ctx } = createAssetApp(deps, overrides);
  // Jobs a previous process left running: Meshy and Mubert tasks resume polling, the rest are failed. The
  // heartbeat and the sweep start here too: a process killed moments ago still holds its jobs' leases at
  // this point, and without the sweep nothing took them over once the leases ran out (they stayed
  // `processing` with their budget reserved), nor were the leases of long jobs renewed.
  await ctx.generator
    .start()
    .catch((err) => deps.log.error('asset job resume failed', { error: String(err) }));
  // Temporary files of writes a killed process left behind. Another instance on the same folder may be
  // writing one right now, so only those untouched for an hour go (a write takes seconds); in the
  // background, since the folder may be large.
  const swept = (ctx.storage.sweepTemps?.(Date.now() - TEMP_MAX_AGE_MS) ?? Promise.resolve(0)).then(
    (n) => {
      if (n > 0) deps.log.info('asset removed temporary files of interrupted writes', { count: n });
    },
    (err) => deps.log.warn('asset temporary file sweep failed', { error: String(err) }),
  );
  return {
    name: 'asset',
    handle: async (request) => {
      if (request.method !== 'HEAD') return app.handle(request);
      // Elysia answers HEAD on a parameterised route by running the GET handler and overwriting
      // Content-Length with the length of the body it produced, which is 0 for a bodiless file answer.
      // So a HEAD runs as a marked GET, the download route answers it without reading the file, and the
      // headers it computed (the real length included) are kept.
      const headers = new Headers(request.headers);
      headers.set(HEAD_MARK_HEADER, ctx.headToken);
      const res = await app.handle(
        carryIdentity(request, new Request(request.url, { method: 'GET', headers })),
      );
      await res.body?.cancel().catch(() => {});
      return new Response(null, { status: res.status, statusText: res.statusText, headers: res.headers });
    },
    routes: routesOf(app),
    capabilities: ['asset_generation', 'pricing', 'jobs', 'signed_downloads'],
    close: async () => {
      await swept;
      await ctx.generator.close();
    },
  };
}
