/**
 * Provider and model endpoints. Only configured providers and their models appear.
 */
import { Elysia } from 'elysia';
import { HttpError, jsonResponse } from '../../../src/http/errors.ts';
import { requireUser } from '../../../src/http/service.ts';
import type { ChatContext } from '../context.ts';
import { type ModelInfo, PROVIDER_NAMES, type ProviderId } from './registry.ts';

const pricing = (m: ModelInfo) => ({
  input_tokens_per_million: m.inputPrice,
  output_tokens_per_million: m.outputPrice,
});

export function modelSummary(m: ModelInfo) {
  return {
    id: m.id,
    name: m.name,
    provider: m.provider,
    capabilities: m.capabilities,
    max_tokens: m.maxTokens,
    context_window: m.contextWindow,
    pricing: pricing(m),
  };
}

export function modelRoutes(ctx: ChatContext) {
  const { providers, usage } = ctx;
  const registry = providers.registry;

  const requireProvider = (p: string): ProviderId => {
    if (!registry.isConfigured(p)) throw new HttpError(404, `Provider ${p} not found`);
    return p;
  };

  const providerJson = async (p: ProviderId) => {
    const models = await registry.modelsOf(p);
    const caps = [...new Set(models.flatMap((m) => m.capabilities))];
    const h = providers.health(p);
    return {
      id: p,
      name: PROVIDER_NAMES[p],
      status: 'available',
      health: h.status,
      models: models.map((m) => m.id),
      capabilities: caps,
      default_model: (await registry.defaultModel(p))?.id ?? null,
      last_health_check: h.checkedAt?.toISOString() ?? null,
    };
  };

  const listModels = async (query: Record<string, string | undefined>) => {
    const provider = query.provider?.trim() || null;
    const capability = query.capability?.trim() || null;
    let models = await registry.list();
    if (provider) models = models.filter((m) => m.provider === provider);
    if (capability) models = models.filter((m) => m.capabilities.includes(capability));
    return jsonResponse({
      models: models.map(modelSummary),
      total: models.length,
      filters: { provider, capability },
    });
  };

  return new Elysia({ name: 'chat-models' })
    .use(ctx.kernel)
    .get('/api/v0.2/providers', async ({ identity }) => {
      requireUser(identity);
      const list = await Promise.all(registry.providers.map(providerJson));
      const unhealthy = list.filter((p) => p.health === 'unhealthy').length;
      return jsonResponse({
        providers: list,
        total_providers: list.length,
        health_status:
          unhealthy === 0 ? 'all_healthy' : unhealthy === list.length ? 'all_unhealthy' : 'degraded',
        timestamp: new Date().toISOString(),
      });
    })
    .get('/api/v0.2/providers/:provider', async ({ identity, params }) => {
      requireUser(identity);
      return jsonResponse(await providerJson(requireProvider(params.provider)));
    })
    .get('/api/v0.2/providers/:provider/models', async ({ identity, params }) => {
      requireUser(identity);
      const p = requireProvider(params.provider);
      const models = await registry.modelsOf(p);
      return jsonResponse({
        provider: p,
        models: models.map((m) => {
          const { provider: _p, ...rest } = modelSummary(m);
          return rest;
        }),
        total: models.length,
      });
    })
    .get('/api/v0.2/providers/:provider/health', async ({ identity, params, query }) => {
      requireUser(identity);
      const p = requireProvider(params.provider);
      const h = query.refresh?.toLowerCase() === 'true' ? await providers.check(p) : providers.health(p);
      return jsonResponse({
        provider: p,
        status: h.status,
        response_time_ms: h.responseTimeMs,
        last_check: h.checkedAt?.toISOString() ?? null,
        error: h.error,
      });
    })
    .get('/api/v0.2/models', async ({ identity, query }) => {
      requireUser(identity);
      return listModels(query);
    })
    .get('/api/v1/models', async ({ identity, query }) => {
      requireUser(identity);
      return listModels(query);
    })
    .get('/api/v0.2/models/:model_id', async ({ identity, params }) => {
      requireUser(identity);
      const m = await registry.find(params.model_id);
      if (!m) throw new HttpError(404, `Model not found: ${params.model_id}`);
      const isDefault = (await registry.defaultModel(m.provider))?.id === m.id;
      return jsonResponse({
        id: m.id,
        name: m.name,
        provider: m.provider,
        capabilities: m.capabilities,
        max_tokens: m.maxTokens,
        context_window: m.contextWindow,
        cost_per_input_token: m.inputPrice / 1_000_000,
        cost_per_output_token: m.outputPrice / 1_000_000,
        pricing: pricing(m),
        avg_response_time_ms: await usage.averageLatency(m.id),
        quality_score: m.qualityScore,
        speed_score: m.speedScore,
        description: m.description,
        is_deprecated: false,
        is_default: isDefault,
        supports_system_prompt: true,
        supports_temperature: m.provider !== 'local',
        supports_streaming: m.capabilities.includes('streaming'),
      });
    });
}
