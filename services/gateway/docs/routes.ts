/**
 * Every route's schemas for the API reference, by `METHOD /path`: the gateway's own routes here, the
 * proxied ones from each service's map. The services' maps import only their model files, so the gateway
 * reads them without starting anything.
 */
import { t } from 'elysia';
import type { RouteDocs } from '../../../src/http/schemas.ts';
import { ASSET_OPENAPI } from '../../asset/openapi.ts';
import { AUTH_OPENAPI } from '../../auth/openapi.ts';
import { CHAT_OPENAPI } from '../../chat/openapi.ts';
import { KB_OPENAPI } from '../../kb/openapi.ts';
import { CalculatorAnswer, CalculatorBody, HealthSchema } from '../model.ts';

const Anything = t.Record(t.String(), t.Unknown());

const GATEWAY_OPENAPI: RouteDocs = {
  'GET /': {
    response: t.Object({
      message: t.String(),
      versions: t.Record(t.String(), t.String()),
      note: t.String(),
    }),
  },
  'GET /health': { response: HealthSchema },
  'GET /health/live': { response: t.Object({ status: t.Literal('alive'), timestamp: t.String() }) },
  'GET /health/ready': {
    response: HealthSchema,
    also: { 503: { description: 'Not ready', schema: HealthSchema } },
  },
  'POST /calculator/add': { body: CalculatorBody, response: CalculatorAnswer },
  'GET /docs': { binary: 'text/html', description: 'Swagger UI over /openapi.json' },
  'GET /openapi.json': { response: t.Object({ openapi: t.String(), info: Anything, paths: Anything }) },
  'GET /api/v0.2': {
    response: t.Object({
      version: t.String(),
      status: t.String(),
      description: t.String(),
      features: t.Array(t.String()),
      endpoints: t.Record(t.String(), t.String()),
    }),
  },
  'GET /api/v0.2/health': { response: t.Object({ status: t.String(), version: t.String() }) },
};

export const ROUTE_DOCS: RouteDocs = {
  ...GATEWAY_OPENAPI,
  ...AUTH_OPENAPI,
  ...CHAT_OPENAPI,
  ...ASSET_OPENAPI,
  ...KB_OPENAPI,
};
