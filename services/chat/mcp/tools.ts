/**
 * The operator's MCP servers as one tool source for the chat engine. A server's tool `search_issues` on
 * server `github` is offered to the model as `github__search_issues` (only characters every provider
 * accepts, cut to 64). Arguments go to the server exactly as the model wrote them and results come back as
 * they are: nothing in either is ever expanded.
 */
import type { User } from '../../../src/http/service.ts';
import type { Logger } from '../../../src/log.ts';
import {
  clipSummary,
  type OfferedTool,
  parseArgs,
  type ToolOutcome,
  type ToolRunContext,
  type ToolSource,
  toolError,
} from '../tools/types.ts';
import { McpServer, type McpToolInfo } from './client.ts';
import type { McpServerConfig } from './config.ts';

export interface McpServerStatus {
  name: string;
  transport: 'stdio' | 'http';
  state: 'connected' | 'starting' | 'error';
  error: string | null;
  tools: number;
}

/** `<server>__<tool>` in `[a-zA-Z0-9_-]`, at most 64 characters. */
export function offeredName(server: string, tool: string): string {
  return `${server}__${tool.replace(/[^a-zA-Z0-9_-]/g, '_')}`.slice(0, 64);
}

export class McpTools implements ToolSource {
  readonly kind = 'mcp' as const;
  private readonly servers = new Map<string, McpServer>();

  constructor(configs: McpServerConfig[], log: Logger, version = '1.0.0') {
    for (const c of configs)
      this.servers.set(c.name, new McpServer(c, log.child({ component: 'mcp' }), version));
  }

  get size(): number {
    return this.servers.size;
  }

  async tools(user: User): Promise<OfferedTool[]> {
    const lists = await Promise.all(
      [...this.servers.values()].map(async (server) => ({ server, tools: await server.tools(user) })),
    );
    const out: OfferedTool[] = [];
    for (const { server, tools } of lists) {
      for (const [name, t] of named(server.name, tools))
        out.push({
          name,
          description: t.description,
          parameters: t.inputSchema,
          source: 'mcp',
          selector: name,
          server: server.name,
        });
    }
    return out;
  }

  async run(name: string, args: string, ctx: ToolRunContext): Promise<ToolOutcome> {
    const cut = name.indexOf('__');
    const server = cut > 0 ? this.servers.get(name.slice(0, cut)) : undefined;
    if (!server) return toolError(`Unknown tool: ${name}`);
    if (ctx.signal.aborted) return toolError('The call was cancelled.');
    const tool = named(server.name, await server.tools(ctx.user)).get(name);
    if (!tool) {
      const st = server.status();
      return st.state === 'error'
        ? toolError(
            `MCP server "${server.name}" is unavailable: ${st.error}`,
            `${server.name} is unavailable`,
          )
        : toolError(`Unknown tool: ${name}`);
    }
    const started = Date.now();
    const res = await server.call(ctx.user, tool.name, parseArgs(args), ctx.signal);
    if (!res.ok) return toolError(res.text, `${name} failed after ${Date.now() - started} ms`);
    const bytes = new TextEncoder().encode(res.text).length;
    // The result's own words stay out of the summary: it goes to stream listeners and may hold anything.
    return { ok: true, content: res.text, summary: clipSummary(`${name} returned ${formatBytes(bytes)}`) };
  }

  /** Each server's connection state, for admins. */
  status(): McpServerStatus[] {
    return [...this.servers.values()].map((s) => ({ name: s.name, transport: s.transport, ...s.status() }));
  }

  /** Ends every connection and child process (service shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.servers.values()].map((s) => s.close()));
  }
}

/** A server's tools by offered name; when two cut names collide the first keeps it. */
function named(server: string, tools: McpToolInfo[]): Map<string, McpToolInfo> {
  const out = new Map<string, McpToolInfo>();
  for (const t of tools) {
    const n = offeredName(server, t.name);
    if (!out.has(n)) out.set(n, t);
  }
  return out;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
