/**
 * The kb MCP endpoint: Streamable HTTP, stateless, answering every POST with `application/json`. A fresh
 * server and transport serve each request, bound to that request's caller, so no state outlives the
 * request and two callers can never see each other's tools context.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ErrorCode,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { HttpError, jsonResponse } from '../../../src/http/errors.ts';
import type { Logger } from '../../../src/log.ts';
import type { Caller, KbOps } from '../types.ts';
import { detailOf, issuesText } from './tasks.ts';
import { KB_MCP_TOOLS, type KbTool, type ToolContext } from './tools.ts';

export interface KbMcpOptions {
  ops: KbOps;
  allowedOrigins: (origin: string) => boolean;
  version: string;
  log?: Logger;
  /** Largest JSON-RPC body read; a write may carry a file up to the KB's own limit plus envelope. */
  maxBodyBytes?: number;
}

export const MCP_SERVER_NAME = 'Gaia KB';
const DEFAULT_MAX_BODY = 16 * 1024 * 1024;
/** What the transport insists a POST accepts; every answer here is JSON anyway. */
const ACCEPT_BOTH = 'application/json, text/event-stream';

const rpcError = (status: number, code: number, message: string, headers?: Record<string, string>) =>
  jsonResponse({ jsonrpc: '2.0', error: { code, message }, id: null }, status, headers);

const textResult = (text: string, isError = false): CallToolResult =>
  isError ? { content: [{ type: 'text', text }], isError: true } : { content: [{ type: 'text', text }] };

async function callTool(
  tool: KbTool,
  ctx: ToolContext,
  rawArgs: unknown,
  log: Logger | undefined,
): Promise<CallToolResult> {
  const parsed = tool.schema.safeParse(rawArgs ?? {});
  if (!parsed.success)
    return textResult(`Invalid arguments for tool ${tool.name}: ${issuesText(parsed.error.issues)}`, true);
  try {
    const result = await tool.run(ctx, parsed.data);
    return textResult(JSON.stringify(result));
  } catch (err) {
    // Expected failures (forbidden, not found, bad path) go to the client as they are; anything else is
    // logged here and reaches the client only as a generic sentence.
    if (!(err instanceof HttpError))
      log?.error('kb mcp tool failed', { tool: tool.name, error: (err as Error)?.message ?? String(err) });
    return textResult(detailOf(err, tool.name), true);
  }
}

function buildServer(ctx: ToolContext, version: string, log: Logger | undefined): McpServer {
  const server = new McpServer({ name: MCP_SERVER_NAME, version }, { capabilities: { tools: {} } });
  const byName = new Map<string, KbTool>();
  for (const tool of KB_MCP_TOOLS) {
    byName.set(tool.name, tool);
    server.registerTool(tool.name, { description: tool.description, inputSchema: tool.shape }, (args) =>
      callTool(tool, ctx, args, log),
    );
  }
  // The SDK's own tools/call answers an unknown tool with an `isError` result; clients of this server
  // are promised a JSON-RPC invalid-params error instead, so the call handler is replaced. Known tools
  // go through the same path as the registered callbacks.
  server.server.setRequestHandler(CallToolRequestSchema, async (request) => {
    const tool = byName.get(request.params.name);
    if (!tool) throw new McpError(ErrorCode.InvalidParams, `Tool ${request.params.name} not found`);
    return callTool(tool, ctx, request.params.arguments, log);
  });
  return server;
}

/** Reads at most `max` bytes of the body; null when it is larger. */
async function readBody(request: Request, max: number): Promise<string | null> {
  const declared = Number(request.headers.get('content-length') ?? '');
  if (Number.isFinite(declared) && declared > max) return null;
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export function createKbMcpHandler(
  opts: KbMcpOptions,
): (request: Request, caller: Caller) => Promise<Response> {
  const maxBody = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  return async (request, caller) => {
    // Browsers send Origin; a page on a foreign origin must not drive tools with the user's credentials.
    const origin = request.headers.get('origin');
    if (origin !== null && !opts.allowedOrigins(origin))
      return jsonResponse({ detail: 'Forbidden origin' }, 403);

    // Stateless and JSON-only: there is no server-initiated stream to GET and no session to DELETE.
    if (request.method !== 'POST') return rpcError(405, -32000, 'Method not allowed.', { allow: 'POST' });

    const text = await readBody(request, maxBody);
    if (text === null) return rpcError(413, -32000, 'Request body too large');
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return rpcError(400, -32700, 'Parse error: Invalid JSON');
    }

    // Plain JSON clients (curl, scripts) often send `Accept: application/json` only; since the answer is
    // always JSON, the transport's accept check is satisfied on their behalf.
    const headers = new Headers(request.headers);
    headers.set('accept', ACCEPT_BOTH);
    const forwarded = new Request(request.url, { method: 'POST', headers });

    const server = buildServer({ ops: opts.ops, caller }, opts.version, opts.log);
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      enableJsonResponse: true,
    });
    try {
      await server.connect(transport);
      return await transport.handleRequest(forwarded, { parsedBody: body });
    } finally {
      await transport.close().catch(() => {});
      await server.close().catch(() => {});
    }
  };
}
