/**
 * `/openapi.json` and the interactive `/docs` UI. The document is generated from the route table, and
 * Swagger UI is served from the npm package (embedded in compiled binaries), so docs work offline.
 */
import { Elysia } from 'elysia';
// Bun embeds these files in `bun build --compile` output; at dev time they resolve to node_modules.
import swaggerCss from 'swagger-ui-dist/swagger-ui.css' with { type: 'file' };
import swaggerJs from 'swagger-ui-dist/swagger-ui-bundle.js' with { type: 'file' };
import pkg from '../../../package.json' with { type: 'json' };
import { jsonResponse } from '../../../src/http/errors.ts';
import { GATEWAY_ROUTES, PROXY_ROUTES } from '../routes.ts';

const SECURITY = [{ ApiKeyHeader: [] }, { Bearer: [] }];

function toOpenApiPath(path: string): string {
  return path.replace(/:([A-Za-z_]+)/g, '{$1}').replace(/\/\*$/, '/{path}');
}

export function openApiDocument(): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const add = (method: string, path: string, op: Record<string, unknown>) => {
    const p = toOpenApiPath(path);
    const params = [...p.matchAll(/\{([^}]+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    paths[p] ??= {};
    paths[p][method.toLowerCase()] = { ...op, ...(params.length ? { parameters: params } : {}) };
  };
  for (const r of GATEWAY_ROUTES) add(r.method, r.path, { summary: r.summary, tags: ['gateway'] });
  for (const r of PROXY_ROUTES) {
    const methods = r.method === 'ALL' ? ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] : [r.method];
    for (const m of methods) {
      const op: Record<string, unknown> = { summary: r.summary, tags: [r.owner] };
      if (r.auth !== '-' && r.auth !== 'S') op.security = SECURITY;
      if (m === 'POST' || m === 'PUT' || m === 'PATCH')
        op.requestBody = { content: { 'application/json': { schema: { type: 'object' } } } };
      op.responses = { '200': { description: 'Success' } };
      add(m, r.path, op);
    }
  }
  return {
    openapi: '3.0.3',
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

type Runner = (request: Request, server: any, fn: () => Promise<Response> | Response) => Promise<Response>;

export function docsRoutes(run: Runner) {
  let doc: string | undefined;
  const file = (path: string, type: string) =>
    new Response(Bun.file(path), {
      headers: { 'content-type': type, 'cache-control': 'public, max-age=86400' },
    });
  return new Elysia({ name: 'gaia-gateway-docs' })
    .get('/openapi.json', ({ request, server }) =>
      run(request, server, () => {
        doc ??= JSON.stringify(openApiDocument());
        return new Response(doc, { headers: { 'content-type': 'application/json' } });
      }),
    )
    .get('/docs', ({ request, server }) =>
      run(
        request,
        server,
        () => new Response(DOCS_HTML, { headers: { 'content-type': 'text/html; charset=utf-8' } }),
      ),
    )
    .get('/docs/swagger-ui.css', ({ request, server }) =>
      run(request, server, () => file(swaggerCss, 'text/css; charset=utf-8')),
    )
    .get('/docs/swagger-ui-bundle.js', ({ request, server }) =>
      run(request, server, () => file(swaggerJs, 'text/javascript; charset=utf-8')),
    )
    .get('/docs/init.js', ({ request, server }) =>
      run(request, server, () => new Response(INIT_JS, { headers: { 'content-type': 'text/javascript' } })),
    )
    .get('/redoc', () => jsonResponse({ detail: 'Not Found' }, 404));
}
