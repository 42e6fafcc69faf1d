/**
 * What the API reference shows for the asset routes. The asset service parses its bodies by hand (it must
 * refuse URL fields anywhere and name every failing field at once), so the request schemas here describe
 * what those parsers accept.
 */
import type { TSchema } from '@sinclair/typebox';
import { t } from 'elysia';
import { Integer, type RouteDocs } from '../../src/http/schemas.ts';
import { CATEGORIES, PROVIDERS } from './types.ts';

const Nullable = <T extends TSchema>(s: T) => t.Union([s, t.Null()]);
const oneOf = (values: readonly string[]) => t.Union(values.map((v) => t.Literal(v)));

export const AssetRequestBody = t.Object(
  {
    category: oneOf(CATEGORIES),
    style: t.String({ minLength: 1, maxLength: 100 }),
    description: t.String({ minLength: 1, maxLength: 4000 }),
    preferences: t.Optional(
      t.Object({
        allow_database: t.Optional(t.Boolean()),
        allow_generation: t.Optional(t.Boolean()),
        allow_modifications: t.Optional(t.Boolean()),
        max_cost: t.Optional(t.Number({ minimum: 0, description: 'USD; refused above this estimate' })),
        max_wait_time_ms: t.Optional(Integer({ minimum: 0 })),
        provider: t.Optional(oneOf(PROVIDERS)),
      }),
    ),
    requirements: t.Optional(
      t.Record(t.String(), t.Unknown(), {
        description: 'Format, quality, size, platform and the like; URL fields are refused',
      }),
    ),
    session_id: t.Optional(t.String()),
  },
  { description: 'No field anywhere may carry a URL: the service fetches nothing a caller names' },
);

const AssetAnswer = t.Object({
  asset_id: t.String(),
  source: t.String({ description: '`generated` or `database` (an earlier identical request)' }),
  cost: t.Number(),
  response_time_ms: t.Number(),
  asset_data: t.Object({
    download_url: t.String({ description: 'Signed link, usable without credentials until it expires' }),
    preview_image_url: Nullable(t.String()),
    file_format: t.String(),
    file_size_mb: t.Number(),
    quality_score: t.Number(),
    license_type: t.String(),
    attribution_required: t.Boolean(),
  }),
  storage_info: t.Record(t.String(), t.Unknown()),
  metadata: t.Record(t.String(), t.Unknown()),
  cost_breakdown: t.Record(t.String(), t.Number()),
});

const Job = t.Object({
  job_id: t.String(),
  status: oneOf(['queued', 'processing', 'completed', 'failed']),
  progress: Nullable(t.Number()),
  category: t.String(),
  provider: Nullable(t.String()),
  estimated_cost: t.Number(),
  cost: Nullable(t.Number()),
  asset_id: Nullable(t.String()),
  asset: Nullable(AssetAnswer),
  error: Nullable(t.String()),
  created_at: t.String(),
  updated_at: t.String(),
  completed_at: Nullable(t.String()),
});

const Paging = {
  total: Integer(),
  limit: Integer(),
  offset: Integer(),
};

const PageQuery = {
  limit: t.Optional(Integer({ minimum: 1, maximum: 100, default: 20 })),
  offset: t.Optional(Integer({ minimum: 0, default: 0 })),
};

const Asset = t.Composite([AssetAnswer, t.Object({ category: t.String(), created_at: t.String() })]);

const AssetListItem = t.Object({
  asset_id: t.String(),
  category: t.String(),
  title: Nullable(t.String()),
  style: Nullable(t.String()),
  provider: Nullable(t.String()),
  file_format: Nullable(t.String()),
  file_size_mb: Nullable(t.Number()),
  cost: t.Number(),
  quality_score: Nullable(t.Number()),
  license_type: Nullable(t.String()),
  download_url: t.String(),
  preview_image_url: Nullable(t.String()),
  session_id: Nullable(t.String()),
  created_at: t.String(),
});

const Estimate = t.Object(
  {
    provider: t.String(),
    quantity: t.Number(),
    quality: t.String(),
    operation: t.String(),
    cost_per_unit: t.Number(),
    total_cost: t.Number(),
    currency: t.String(),
    estimate_time: t.String(),
  },
  { description: 'Provider-specific fields (size, tier_fee, credits…) are added' },
);

const EstimateBody = t.Union([
  t.Object({
    provider: t.String({ description: 'dalle (or openai), stability, meshy, mubert, elevenlabs, local' }),
    operation: t.Optional(t.String()),
    quantity: t.Optional(t.Number({ minimum: 0 })),
    quality: t.Optional(t.String()),
    size: t.Optional(t.String()),
  }),
  t.Object({ asset_request: AssetRequestBody }, { description: 'What a generate call would cost' }),
]);

const ProviderPricing = t.Object({
  name: t.String(),
  pricing_model: t.String(),
  status: t.String(),
  configured: t.Boolean(),
  last_updated: t.String(),
  capabilities: t.Array(t.String()),
  operations: t.Optional(t.Array(t.String())),
});

export const ASSET_OPENAPI: RouteDocs = {
  'GET /api/v0.2/assets/pricing/current': {
    query: t.Object({ provider: t.String(), quality: t.Optional(t.String()) }),
    response: t.Record(t.String(), t.Unknown(), { description: "The provider's current price table" }),
  },
  'GET /api/v0.2/assets/pricing/analytics': {
    query: t.Object({
      start_date: t.Optional(t.String({ description: 'YYYY-MM-DD; 30 days ago by default' })),
      end_date: t.Optional(t.String({ description: 'YYYY-MM-DD; today by default' })),
    }),
    response: t.Object({
      period: t.Object({ start_date: t.String(), end_date: t.String() }),
      total_cost: t.Number(),
      cost_breakdown: t.Record(t.String(), t.Unknown()),
      usage_metrics: t.Record(t.String(), t.Number()),
      cost_trends: t.Array(t.Record(t.String(), t.Unknown())),
      top_cost_operations: t.Array(t.Record(t.String(), t.Unknown())),
    }),
  },
  'GET /api/v0.2/assets/pricing/providers': { response: t.Object({ providers: t.Array(ProviderPricing) }) },
  'POST /api/v0.2/assets/pricing/update': {
    query: t.Object({ provider: t.String() }),
    response: t.Record(t.String(), t.Unknown(), { description: 'The refreshed price table' }),
  },
  'POST /api/v0.2/assets/pricing/cost-estimator/estimate': { body: EstimateBody, response: Estimate },
  'GET /api/v0.2/assets/pricing/cost-estimator/dalle-tiers': {
    response: t.Object({
      provider: t.String(),
      pricing_model: t.String(),
      tiers: t.Array(t.Record(t.String(), t.Unknown())),
      per_image_rates: t.Record(t.String(), t.Number()),
      currency: t.String(),
      billing_cycle: t.String(),
      note: t.String(),
    }),
  },
  'GET /api/v0.2/assets/pricing/cost-estimator/meshy-packages': {
    response: t.Object({
      provider: t.String(),
      pricing_model: t.String(),
      packages: t.Array(
        t.Object({ name: t.String(), credits: t.Number(), cost: t.Number(), cost_per_credit: t.Number() }),
      ),
      operations: t.Record(t.String(), t.Number()),
      default_package: t.String(),
      currency: t.String(),
    }),
  },
  'GET /api/v0.2/assets/pricing/cost-estimator/provider-comparison': {
    query: t.Object({
      operation: t.Optional(t.String({ default: 'image_generation' })),
      quantity: t.Optional(t.Number({ default: 1 })),
      quality: t.Optional(t.String({ default: 'standard' })),
    }),
    response: t.Object({
      operation: t.String(),
      quantity: t.Number(),
      quality: t.String(),
      providers: t.Array(
        t.Object({
          provider: t.String(),
          cost_per_unit: t.Number(),
          total_cost: t.Number(),
          model: t.String(),
          configured: t.Boolean(),
        }),
      ),
      cheapest_provider: Nullable(t.String()),
      comparison_time: t.String(),
    }),
  },
  'GET /api/v1/assets': {
    query: t.Object({
      ...PageQuery,
      category: t.Optional(oneOf(CATEGORIES)),
      provider: t.Optional(oneOf(PROVIDERS)),
      session_id: t.Optional(t.String()),
      q: t.Optional(t.String({ description: 'Substring of the title or prompt' })),
      created_after: t.Optional(t.String()),
      created_before: t.Optional(t.String()),
      sort: t.Optional(oneOf(['-created_at', 'created_at'])),
      all: t.Optional(t.Boolean({ description: "Every user's assets (administrators)" })),
    }),
    response: t.Object({ assets: t.Array(AssetListItem), ...Paging, timestamp: t.String() }),
  },
  'POST /api/v1/assets/generate': {
    body: AssetRequestBody,
    response: AssetAnswer,
    also: {
      202: {
        description: 'Still generating: follow the job',
        schema: t.Object({
          job_id: t.String(),
          status: t.Literal('processing'),
          asset_id: t.Null(),
          estimated_cost: t.Number(),
          status_url: t.String(),
          created_at: t.String(),
          message: t.String(),
        }),
      },
    },
    description:
      'Answers 200 with the asset when it is ready within the wait time, otherwise 202 with a job ' +
      '(`Location` names it; poll GET /api/v1/assets/jobs/{job_id}).',
  },
  'GET /api/v1/assets/test': {
    response: t.Object({
      status: t.String(),
      service: t.String(),
      message: t.String(),
      timestamp: t.String(),
    }),
  },
  'GET /api/v1/assets/jobs': {
    query: t.Object({
      ...PageQuery,
      status: t.Optional(oneOf(['queued', 'processing', 'completed', 'failed'])),
    }),
    response: t.Object({ jobs: t.Array(Job), ...Paging }),
  },
  'GET /api/v1/assets/jobs/:job_id': { response: Job },
  'GET /api/v1/assets/:asset_id': { response: Asset },
  'GET /api/v1/assets/:asset_id/file': {
    query: t.Object({ exp: t.Optional(t.String()), sig: t.Optional(t.String()) }),
    binary: 'application/octet-stream',
    description:
      'The stored file, with its own content type; a signed link (`exp`, `sig`) needs no credentials',
  },
  'GET /api/v1/assets/:asset_id/preview': {
    query: t.Object({ exp: t.Optional(t.String()), sig: t.Optional(t.String()) }),
    binary: 'image/png',
    description: 'The preview image; a signed link (`exp`, `sig`) needs no credentials',
  },
};
