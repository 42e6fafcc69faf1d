/**
 * `GET /api/v1/chat/tools`: the tools the caller's chats can use, whatever the persona narrows them to.
 * Admins also see each MCP server's connection state, so a server that will not start can be diagnosed
 * without reading logs.
 */
import { Elysia } from 'elysia';
import { jsonResponse } from '../../../src/http/errors.ts';
import { requireUser } from '../../../src/http/service.ts';
import type { ChatContext } from '../context.ts';

export function toolRoutes(ctx: ChatContext) {
  return new Elysia({ name: 'chat-tools' })
    .use(ctx.kernel)
    .get('/api/v1/chat/tools', async ({ identity }) => {
      const user = requireUser(identity);
      const tools = (await ctx.tools.all(user)).map((t) => ({
        name: t.name,
        ...(t.source === 'mcp' && t.server ? { server: t.server } : {}),
        description: t.description,
        source: t.source,
      }));
      return jsonResponse(user.admin ? { tools, servers: ctx.mcp?.status() ?? [] } : { tools });
    });
}
