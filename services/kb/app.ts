/**
 * The kb service: a Git-synced markdown knowledge base with ranked search, multi-user access, an MCP
 * server and the legacy routes, composed from its feature plugins on the service kernel.
 */

import { jsonResponse } from '../../src/http/errors.ts';
import { identityOfRequest } from '../../src/http/identity.ts';
import { createServiceApp, type ServiceDeps } from '../../src/http/service.ts';
import { routesOf } from '../../src/metrics.ts';
import type { MountedService } from '../../src/platform.ts';
import { apiRoutes } from './api/index.ts';
import { rbacRoutes } from './api/rbac.ts';
import { handleWebhook, syncRoutes } from './api/sync.ts';
import { callerOf, createKbContext, type KbContext } from './context.ts';
import { legacyRoutes } from './legacy/index.ts';
import { INITIALISING } from './operations.ts';

export function createKbApp(deps: ServiceDeps) {
  const kernel = createServiceApp({
    name: 'kb',
    deps,
    health: () => ({
      git: ctx.git.syncStatus().state,
      indexed_files: ctx.index.size,
    }),
  });
  const ctx = createKbContext(deps, kernel);
  const app = kernel.use(legacyRoutes(ctx)).use(apiRoutes(ctx)).use(syncRoutes(ctx)).use(rbacRoutes(ctx));
  return { app, ctx };
}

export type KbApp = ReturnType<typeof createKbApp>['app'];

const WEBHOOK_PATH = '/api/v1/kb/sync/webhook';
const MCP_PATHS = new Set(['/mcp', '/api/v1/kb/mcp']);

/**
 * Starts Git (use, clone in the background, or init) and builds the index once the tree is there. The
 * KB answers 503 until both are done, so nobody sees an empty index over a full tree.
 */
async function startKb(ctx: KbContext): Promise<void> {
  const { git, ops, deps } = ctx;
  await git.start();
  ctx.peers?.start();
  const build = async () => {
    const n = await ops.rebuildIndex();
    // A clone and a full read of the tree leave a lot of garbage behind; collect it now, once, rather than
    // carry it as resident memory until the collector next runs in earnest.
    Bun.gc(true);
    ctx.indexed = true;
    const late = ctx.pulledBeforeIndex.splice(0);
    if (late.length > 0) await ops.applyPulled(late);
    deps.log.info('kb index built', { files: n });
  };
  if (git.ready) {
    await build();
    return;
  }
  // The first clone runs in the background; poll its end rather than couple Git to the index.
  void (async () => {
    while (!git.ready && !ctx.closed) await Bun.sleep(25);
    if (!ctx.closed) await build();
  })().catch((err) => deps.log.error('kb index build failed', { error: String(err) }));
}

/** How the launchers mount kb (wiring/registry.ts). */
export async function kbService(deps: ServiceDeps): Promise<MountedService> {
  const { app, ctx } = createKbApp(deps);
  await startKb(ctx);
  const { config } = deps;
  // The MCP SDK (and the schema libraries it brings, ~25 MB) is loaded by the first MCP request, not by
  // every process that never serves one. Bun's `require` loads it synchronously; `bun build` bundles it.
  let mcpHandler: ReturnType<typeof import('./mcp/index.ts').createKbMcpHandler> | undefined;
  const mcp = ctx.config.mcpEnabled
    ? (request: Request, caller: ReturnType<typeof callerOf>) => {
        mcpHandler ??= (require('./mcp/index.ts') as typeof import('./mcp/index.ts')).createKbMcpHandler({
          ops: ctx.ops,
          allowedOrigins: (origin) => isAllowedOrigin(config.gateway.allowedOrigins, origin),
          version: config.version,
          log: deps.log.child({ component: 'mcp' }),
        });
        return mcpHandler(request, caller);
      }
    : null;
  const handle = async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname;
    if (path === WEBHOOK_PATH && request.method === 'POST') {
      if (!identityOfRequest(config.internalSecret, request))
        return jsonResponse({ detail: 'Missing or invalid internal identity' }, 401);
      return handleWebhook(ctx, request);
    }
    if (path !== '/health' && !(ctx.git.ready && ctx.indexed))
      return jsonResponse({ detail: INITIALISING }, 503, { 'retry-after': '5' });
    if (MCP_PATHS.has(path)) {
      if (!mcp) return jsonResponse({ detail: 'Not Found' }, 404);
      const identity = identityOfRequest(config.internalSecret, request);
      if (!identity) return jsonResponse({ detail: 'Missing or invalid internal identity' }, 401);
      try {
        return await mcp(request, callerOf(identity));
      } catch (err) {
        const e = err as { status?: number; detail?: string };
        return jsonResponse({ detail: e.detail ?? 'KB MCP request failed' }, e.status ?? 500);
      }
    }
    return app.handle(request);
  };
  return {
    name: 'kb',
    handle,
    // The webhook and MCP endpoints are answered before Elysia sees them; their paths are fixed.
    routes: [
      ...routesOf(app),
      { method: 'POST', path: WEBHOOK_PATH },
      ...[...MCP_PATHS].map((path) => ({ method: 'ALL', path })),
    ],
    capabilities: ['kb', 'search', 'git_sync', 'rbac', 'mcp'],
    close: async () => {
      ctx.closed = true;
      ctx.peers?.stop();
      await ctx.git.close();
    },
  };
}

/** The MCP endpoint trusts the same browser origins the gateway's CORS policy does. */
function isAllowedOrigin(origins: string[], origin: string): boolean {
  return origins.includes('*') || origins.includes(origin);
}
