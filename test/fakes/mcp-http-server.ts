/**
 * A Streamable HTTP MCP server on loopback, built on the SDK's own server transport, that records the
 * headers of every request it receives. Each `initialize` opens a session of its own (as most hosted MCP
 * servers do), so a test can see which identity each session and each call carried.
 *
 * Tools: `whoami` (the `x-user-id` and `x-user-email` headers of the request that carried the call) and
 * `echo` (its `text` argument untouched).
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { z } from 'zod';

export interface RecordedRequest {
  method: string;
  /** The JSON-RPC method of a POST (`initialize`, `tools/call`, …), when there is one. */
  rpc: string | null;
  /** The tool of a `tools/call`. */
  tool: string | null;
  headers: Record<string, string>;
  session: string | null;
}

export interface FakeMcpHttp {
  url: string;
  requests: RecordedRequest[];
  /** Sessions opened so far. */
  sessions(): number;
  stop(): Promise<void>;
}

export async function startFakeMcpHttp(): Promise<FakeMcpHttp> {
  const requests: RecordedRequest[] = [];
  const transports = new Map<string, WebStandardStreamableHTTPServerTransport>();
  let opened = 0;

  const newSession = async () => {
    const server = new McpServer({ name: 'gaia-fake-http', version: '1.0.0' });
    server.registerTool(
      'whoami',
      { description: 'Who the request says the user is.', inputSchema: {} },
      async (_a, extra) => {
        const h = extra.requestInfo?.headers ?? {};
        const text = JSON.stringify({
          user_id: h['x-user-id'] ?? null,
          user_email: h['x-user-email'] ?? null,
        });
        return { content: [{ type: 'text' as const, text }] };
      },
    );
    server.registerTool(
      'echo',
      { description: 'Echo the text back unchanged.', inputSchema: { text: z.string() } },
      async ({ text }) => ({ content: [{ type: 'text' as const, text }] }),
    );
    const transport: WebStandardStreamableHTTPServerTransport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => crypto.randomUUID(),
      enableJsonResponse: true,
      onsessioninitialized: (id) => {
        opened++;
        transports.set(id, transport);
      },
    });
    await server.connect(transport);
    return transport;
  };

  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const session = req.headers.get('mcp-session-id');
      let rpc: string | null = null;
      let tool: string | null = null;
      let body: unknown;
      if (req.method === 'POST') {
        body = await req.json().catch(() => undefined);
        const msg = Array.isArray(body) ? body[0] : body;
        if (msg && typeof msg === 'object') {
          rpc = (msg as { method?: string }).method ?? null;
          tool = (msg as { params?: { name?: string } }).params?.name ?? null;
        }
      }
      requests.push({ method: req.method, rpc, tool, headers: Object.fromEntries(req.headers), session });
      let transport = session ? transports.get(session) : undefined;
      if (!transport) {
        if (session) return new Response('unknown session', { status: 404 });
        if (rpc !== 'initialize') return new Response('no session', { status: 400 });
        transport = await newSession();
      }
      return transport.handleRequest(req, body === undefined ? undefined : { parsedBody: body });
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}/mcp`,
    requests,
    sessions: () => opened,
    async stop() {
      for (const t of transports.values()) await t.close().catch(() => {});
      server.stop(true);
    },
  };
}
