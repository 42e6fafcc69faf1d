/**
 * The web UI: server-rendered HTML driven by htmx, on port 8080. It owns no data: every
 * read and write is a gateway call with the signed-in user's token, which never leaves the server.
 */

import { Elysia } from 'elysia';
import type { Config } from '../../src/config.ts';
import { SHORT_HOSTS } from '../../src/http/service.ts';
import type { Logger } from '../../src/log.ts';
import { assetRoutes } from './assets/index.ts';
import { authRoutes } from './auth/index.ts';
import { chatRoutes } from './chat/index.ts';
import { PersonaNames } from './chat/service.ts';
import { type AppServices, json } from './context.ts';
import { conversationRoutes } from './conversations/index.ts';
import { GATEWAY_ORIGIN, type GatewayLike } from './gateway-client.ts';
import { kbRoutes } from './kb/index.ts';
import { keyRoutes } from './keys/index.ts';
import { Kit } from './kit.ts';
import { personaRoutes } from './personas/index.ts';
import { profileRoutes } from './profile/index.ts';
import { Sessions } from './session/service.ts';
import { staticFile, staticResponse } from './static.ts';
import { usageRoutes } from './usage/index.ts';

export interface WebDeps {
  config: Config;
  log: Logger;
  gateway: GatewayLike;
}

export function createWebApp(deps: WebDeps) {
  const { config, log, gateway } = deps;
  const services: AppServices = {
    config,
    log,
    gateway,
    sessions: new Sessions(config, gateway, log),
  };
  const kit = new Kit(services);
  const personaNames = new PersonaNames();
  const gatewayUrl =
    config.gatewayUrl ?? (config.ports.gateway ? `http://localhost:${config.ports.gateway}` : 'in-process');

  const staticHandler = async ({ request, params }: { request: Request; params: Record<string, string> }) => {
    const path = staticFile(params['*'] ?? '');
    if (!path) return kit.notFound(request);
    return kit.finish(staticResponse(path, request.method), null, crypto.randomUUID());
  };

  return new Elysia({ name: 'gaia-web', handler: SHORT_HOSTS })
    .onError(({ code, request, error }) => {
      if (code === 'NOT_FOUND') return kit.notFound(request);
      log.error('web request failed', { path: new URL(request.url).pathname, error });
      if (code === 'PARSE' || code === 'VALIDATION')
        return kit.finish(json({ detail: 'Invalid request' }, 400), null, crypto.randomUUID());
      return kit.finish(
        kit.errorPage(500, 'An unexpected error occurred. Please try again later.', false),
        null,
        crypto.randomUUID(),
      );
    })
    .get('/static/*', staticHandler)
    .head('/static/*', staticHandler)
    .get(
      '/health',
      kit.handler('public', () =>
        json({
          service: 'web',
          status: 'healthy',
          version: config.version,
          timestamp: new Date().toISOString(),
          gateway_url: gatewayUrl,
          websocket_enabled: false,
        }),
      ),
    )
    .get(
      '/api/health',
      kit.handler('public', async (ctx) => {
        try {
          const res = await gateway.fetch(
            new Request(`${GATEWAY_ORIGIN}/health`, {
              headers: { 'x-forwarded-for': ctx.ip, 'x-request-id': ctx.rid },
            }),
          );
          return new Response(await res.arrayBuffer(), {
            status: res.status,
            headers: { 'content-type': res.headers.get('content-type') ?? 'application/json' },
          });
        } catch (err) {
          return json({ status: 'unhealthy', error: err instanceof Error ? err.message : String(err) }, 503);
        }
      }),
    )
    .get(
      '/api/session',
      kit.handler('public', (ctx) => {
        const s = ctx.session;
        // Never the token: page JavaScript learns only who is signed in.
        if (!s) return json({ authenticated: false });
        return json({ authenticated: true, user: { id: s.uid, email: s.email, name: s.name } });
      }),
    )
    .get(
      '/api/user',
      kit.handler('json', (ctx) => {
        const s = ctx.requireSession();
        return json({ user: { id: s.uid, email: s.email, name: s.name } });
      }),
    )
    .get(
      '/api/models',
      kit.handler('json', async (ctx) => {
        const { res, body } = await ctx.apiJson<{ models?: unknown[] }>('/api/v0.2/models');
        if (!res.ok) return json({ detail: 'Failed to load models' }, res.status >= 500 ? 503 : res.status);
        return json({ models: body?.models ?? [] });
      }),
    )
    .use(authRoutes(kit))
    .use(chatRoutes(kit, personaNames))
    .use(conversationRoutes(kit))
    .use(profileRoutes(kit))
    .use(personaRoutes(kit, personaNames))
    .use(keyRoutes(kit))
    .use(kbRoutes(kit))
    .use(assetRoutes(kit))
    .use(usageRoutes(kit));
}

export type WebApp = ReturnType<typeof createWebApp>;
