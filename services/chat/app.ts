/**
 * The chat service: LLM chat in every client family, conversations, personas, the provider
 * and model registry, and usage accounting, composed from its feature plugins on the service kernel.
 */

import { createServiceApp, type ServiceDeps } from '../../src/http/service.ts';
import { routesOf } from '../../src/metrics.ts';
import type { MountedService } from '../../src/platform.ts';
import { createChatContext } from './context.ts';
import { conversationRoutes } from './conversations/index.ts';
import { legacyRoutes } from './legacy/index.ts';
import { modelRoutes } from './models/index.ts';
import { openaiRoutes } from './openai-compat/index.ts';
import { personaRoutes } from './personas/index.ts';
import { toolRoutes } from './tools/index.ts';
import { unifiedRoutes } from './unified/index.ts';
import { usageRoutes } from './usage/index.ts';

export function createChatApp(deps: ServiceDeps) {
  return buildChat(deps).app;
}

function buildChat(deps: ServiceDeps) {
  const kernel = createServiceApp({
    name: 'chat',
    deps,
    health: () => ({ providers: ctx.providers.registry.providers }),
  });
  const ctx = createChatContext(deps, kernel);
  const app = kernel
    .use(unifiedRoutes(ctx))
    .use(legacyRoutes(ctx))
    .use(conversationRoutes(ctx))
    .use(personaRoutes(ctx))
    .use(modelRoutes(ctx))
    .use(openaiRoutes(ctx))
    .use(toolRoutes(ctx))
    .use(usageRoutes(ctx));
  return { app, ctx };
}

export type ChatApp = ReturnType<typeof createChatApp>;

/** How the launchers mount chat (wiring/registry.ts). */
export function chatService(deps: ServiceDeps): MountedService {
  const { app, ctx } = buildChat(deps);
  return {
    name: 'chat',
    handle: (request) => app.handle(request),
    routes: routesOf(app),
    // MCP stdio servers are child processes: they must not outlive the service.
    close: async () => {
      await ctx.mcp?.close();
    },
    capabilities: ['chat', 'streaming', 'conversations', 'personas', 'openai_compatible'],
  };
}
