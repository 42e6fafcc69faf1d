/**
 * `/openapi.json` and the interactive `/docs` UI. The document is generated from the route table and each
 * route's TypeBox schemas (bodies, query, answers, error envelopes), and
 * Swagger UI is served from the npm package (embedded in compiled binaries), so docs work offline.
 */

import type { TObject, TSchema } from '@sinclair/typebox';
import { Elysia } from 'elysia';
// Bun embeds these files in `bun build --compile` output; at dev time they resolve to node_modules.
import swaggerCss from 'swagger-ui-dist/swagger-ui.css' with { type: 'file' };
import swaggerJs from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'file' };
import pkg from '../../../package.json' with { type: 'json' };
import { jsonResponse } from '../../../src/http/errors.ts';
import { ErrorBody, type RouteDoc } from '../../../src/http/schemas.ts';
import { GATEWAY_ROUTES, PROXY_ROUTES } from '../routes.ts';
import { ROUTE_DOCS } from './routes.ts';

const SECURITY = [{ ApiKeyHeader: [] }, { Bearer: [] }];
const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH']);

function toOpenApiPath(path: string): string {
  return path.replace(/:([A-Za-z_]+)/g, '{$1}').replace(/\/\*$/, '/{path}');
}

/** A TypeBox schema as plain JSON Schema: a JSON round trip drops TypeBox's symbol keys (`[Kind]`…). */
const plain = (schema: TSchema): Record<string, unknown> => JSON.parse(JSON.stringify(schema));

const json = (schema: TSchema) => ({ 'application/json': { schema: plain(schema) } });

/** Query parameters, one per property of the documented query object. */
function queryParams(query: TObject): Array<Record<string, unknown>> {
  const required = new Set(query.required ?? []);
  return Object.entries(query.properties).map(([name, schema]) => {
    const { description, ...rest } = plain(schema);
    return {
      name,
      in: 'query',
      required: required.has(name),
      ...(description ? { description } : {}),
      schema: rest,
    };
  });
}

/** The answers of one operation: its success shape(s) and the error envelope it uses. */
function responses(doc: RouteDoc | undefined, method: string, authed: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const status = String(doc?.status ?? 200);
  if (doc?.status === 204) out[status] = { description: 'Done, no content' };
  else {
    const content: Record<string, unknown> = {};
    if (doc?.response) Object.assign(content, json(doc.response));
    if (doc?.stream) content['text/event-stream'] = { schema: { type: 'string', description: doc.stream } };
    if (doc?.binary) content[doc.binary] = { schema: { type: 'string', format: 'binary' } };
    const refusal = (doc?.status ?? 200) >= 400;
    out[status] = {
      description: refusal
        ? 'Always refused'
        : doc?.stream && doc.response
          ? 'Success (JSON, or events with `"stream": true`)'
          : 'Success',
      ...(Object.keys(content).length ? { content } : {}),
    };
  }
  for (const [code, extra] of Object.entries(doc?.also ?? {}))
    out[code] = { description: extra.description, content: json(extra.schema) };
  const errors = doc?.errors ?? ErrorBody;
  if (BODY_METHODS.has(method) || doc?.query)
    out['422'] = { description: 'The body or query failed validation', content: json(errors) };
  if (authed) out['401'] = { description: 'Missing or invalid credentials', content: json(errors) };
  out['4XX'] = { description: 'Refused (see `detail`)', content: json(errors) };
  out['5XX'] = { description: 'A service or upstream provider failed', content: json(errors) };
  return out;
}

function operation(
  method: string,
  summary: string,
  tag: string,
  doc: RouteDoc | undefined,
  authed: boolean,
): Record<string, unknown> {
  const op: Record<string, unknown> = { summary, tags: [tag] };
  if (doc?.description) op.description = doc.description;
  if (authed) op.security = SECURITY;
  if (doc?.query) op.parameters = queryParams(doc.query);
  if (doc?.body) op.requestBody = { required: true, content: json(doc.body) };
  op.responses = responses(doc, method, authed);
  return op;
}

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const add = (method: string, path: string, op: Record<string, unknown>) => {
    const p = toOpenApiPath(path);
    const pathParams = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const params = [...pathParams, ...((op.parameters as unknown[]) ?? [])];
    paths[p] ??= {};
    paths[p][method.toLowerCase()] = { ...op, ...(params.length ? { parameters: params } : {}) };
  };
  for (const r of GATEWAY_ROUTES)
    add(
      r.method,
      r.path,
      operation(r.method, r.summary, 'gateway', ROUTE_DOCS[`${r.method} ${r.path}`], false),
    );
  const explicit = new Set(PROXY_ROUTES.map((r) => `${r.method} ${r.path}`));
  for (const r of PROXY_ROUTES) {
    const authed = r.auth !== '-' && r.auth !== 'S';
    if (r.method === 'ALL') {
      // A catch-all forwards a whole family of service routes; the service's map lists them one by one.
      const prefix = r.path.replace(/\*$/, '');
      for (const [key, doc] of Object.entries(ROUTE_DOCS)) {
        const [m, path] = key.split(' ') as [string, string];
        if (!path.startsWith(prefix) || explicit.has(key)) continue;
        add(m, path, operation(m, doc.summary ?? r.summary, r.owner, doc, authed));
      }
      continue;
    }
    add(
      r.method,
      r.path,
      operation(r.method, r.summary, r.owner, ROUTE_DOCS[`${r.method} ${r.path}`], authed),
    );
  }
  return {
    // 3.1 takes JSON Schema 2020-12 as it is, so TypeBox's schemas (`type: "null"` in unions, `const`) need
    // no translation.
    openapi: '3.1.0',
    info: { title: 'Gaia API', version: pkg.version, description: 'Gateway of the Gaia platform' },
    paths,
    components: {
      securitySchemes: {
        ApiKeyHeader: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        Bearer: { type: 'http', scheme: 'bearer' },
      },
    },
  };
}

const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Gaia API docs</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>`;
const INIT_JS = `window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui' });`;

/** Wraps the answer of the gateway-owned route at `path` in the gateway's stages, once, at start-up. */
type Route = (
  path: string,
  answer: () => Promise<Response> | Response,
) => (ctx: { request: Request; server: any }) => Promise<Response>;

export function docsRoutes(route: Route) {
  let doc: string | undefined;
  const file = (path: string, type: string) =>
    new Response(Bun.file(path), {
      headers: { 'content-type': type, 'cache-control': 'public, max-age=86400' },
    });
  return new Elysia({ name: 'gaia-gateway-docs' })
    .get(
      '/openapi.json',
      route('/openapi.json', () => {
        doc ??= JSON.stringify(openApiDocument());
        return new Response(doc, { headers: { 'content-type': 'application/json' } });
      }),
    )
    .get(
      '/docs',
      route(
        '/docs',
        () => new Response(DOCS_HTML, { headers: { 'content-type': 'text/html; charset=utf-8' } }),
      ),
    )
    .get(
      '/docs/swagger-ui.css',
      route('/docs/swagger-ui.css', () => file(swaggerCss, 'text/css; charset=utf-8')),
    )
    .get(
      '/docs/swagger-ui-bundle.js',
      route('/docs/swagger-ui-bundle.js', () => file(swaggerJs, 'text/javascript; charset=utf-8')),
    )
    .get(
      '/docs/init.js',
      route('/docs/init.js', () => new Response(INIT_JS, { headers: { 'content-type': 'text/javascript' } })),
    )
    .get('/redoc', () => jsonResponse({ detail: 'Not Found' }, 404));
}
