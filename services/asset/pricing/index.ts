/**
 * The pricing and cost-estimator routes. The figures come from the price table; analytics from the caller's
 * own generation records (every user's for admins with `all=true`).
 */
import { and, eq, gte, inArray, lt, type SQL } from 'drizzle-orm';
import { Elysia } from 'elysia';
import { jsonResponse } from '../../../src/http/errors.ts';
import type { Identity } from '../../../src/http/identity.ts';
import { requireUser } from '../../../src/http/service.ts';
import type { AssetContext } from '../context.ts';
import type { AssetRequest, Category, ProviderId } from '../types.ts';
import type { GenerationRow } from './service.ts';

export function pricingRoutes(ctx: AssetContext) {
  const { pricing, generator, deps } = ctx;
  const P = '/api/v0.2/assets/pricing';
  const user = (identity: Identity) => {
    const u = requireUser(identity);
    return { id: u.id, admin: u.admin };
  };

  const records = async (
    caller: { id: string; admin: boolean },
    range: { start: Date; endExclusive: Date; all: boolean },
  ): Promise<GenerationRow[]> => {
    const { db } = deps;
    const j = db.t.assetJobs;
    const a = db.t.assets;
    const where: SQL[] = [
      gte(j.createdAt, range.start),
      lt(j.createdAt, range.endExclusive),
      inArray(j.status, ['completed', 'failed']),
    ];
    if (!range.all) where.push(eq(j.userId, caller.id));
    const rows = await db.orm
      .select({ job: j, meta: a.metadata })
      .from(j)
      .leftJoin(a, eq(a.id, j.assetId))
      .where(and(...where));
    return rows.map(({ job, meta }) => {
      const req = job.request as unknown as AssetRequest;
      const provider = (job.provider ?? 'local') as ProviderId;
      let operation = `${job.category}_generation`;
      try {
        operation = pricing.estimate(provider, req).operation;
      } catch {
        // A record from an older price table: keep the generic name.
      }
      const credits = (meta as Record<string, unknown> | null)?.credits_used;
      return {
        created_at: job.createdAt,
        provider,
        category: job.category as Category,
        cost_micro: job.costMicroUsd ?? 0,
        status: job.status as 'completed' | 'failed',
        operation,
        credits: typeof credits === 'number' ? credits : null,
        audio_seconds: job.category === 'audio' ? (req.requirements?.durationSeconds ?? null) : null,
      };
    });
  };

  return new Elysia({ name: 'asset-pricing' })
    .use(ctx.kernel)
    .get(`${P}/current`, ({ identity, query }) => {
      user(identity);
      return jsonResponse(pricing.current(query));
    })
    .get(`${P}/providers`, ({ identity }) => {
      user(identity);
      return jsonResponse(pricing.providers(generator.configured));
    })
    .get(`${P}/analytics`, async ({ identity, query }) => {
      const caller = user(identity);
      const range = pricing.analyticsRange(query, caller);
      return jsonResponse(pricing.analytics(await records(caller, range), query, caller));
    })
    .post(`${P}/update`, ({ identity, query }) =>
      jsonResponse(pricing.update(query.provider, user(identity))),
    )
    .post(`${P}/cost-estimator/estimate`, async ({ identity, body }) => {
      const caller = user(identity);
      return jsonResponse(
        await pricing.estimateRoute(body, {
          priceAssetRequest: async (raw) => {
            const request = generator.parse(raw);
            return {
              request,
              estimate: generator.quote(request),
              reuseAvailable:
                request.preferences.allowDatabase && (await generator.hasReusable(caller, request)),
            };
          },
        }),
      );
    })
    .get(`${P}/cost-estimator/dalle-tiers`, ({ identity }) => {
      user(identity);
      return jsonResponse(pricing.dalleTiers());
    })
    .get(`${P}/cost-estimator/meshy-packages`, ({ identity }) => {
      user(identity);
      return jsonResponse(pricing.meshyPackages());
    })
    .get(`${P}/cost-estimator/provider-comparison`, ({ identity, query }) => {
      user(identity);
      return jsonResponse(pricing.providerComparison(query, generator.configured));
    });
}
