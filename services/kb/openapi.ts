/** What the API reference shows for the knowledge base routes: the bodies they validate and their answers. */
import { t } from 'elysia';
import type { RouteDocs } from '../../src/http/schemas.ts';
import {
  DeleteAnswer,
  DeleteBody,
  MessageBody,
  MoveAnswer,
  MoveBody,
  RenderedAnswer,
  WriteAnswer,
  WriteBody,
} from './legacy/model.ts';

const read = { body: MessageBody, response: RenderedAnswer };

export const KB_OPENAPI: RouteDocs = {
  'POST /api/v0.2/kb/search': { ...read, description: '`message` is the search query' },
  'POST /api/v0.2/kb/read': { ...read, description: '`message` is the file path' },
  'POST /api/v0.2/kb/list': { ...read, description: '`message` is the directory (`/` for the top)' },
  'POST /api/v0.2/kb/context': { ...read, description: '`message` is the context name' },
  'POST /api/v0.2/kb/navigate': { ...read, description: '`message` is the start directory' },
  'POST /api/v0.2/kb/synthesize': { ...read, description: '`message` is a comma-separated list of contexts' },
  'POST /api/v0.2/kb/threads': { response: RenderedAnswer },
  'POST /api/v0.2/kb/write': { body: WriteBody, response: WriteAnswer },
  'POST /api/v0.2/kb/move': { body: MoveBody, response: MoveAnswer },
  'DELETE /api/v0.2/kb/delete': { body: DeleteBody, response: DeleteAnswer },
  'GET /api/v0.2/kb/git/status': {
    response: t.Object({
      success: t.Boolean(),
      changes: t.Object({
        modified: t.Array(t.String()),
        added: t.Array(t.String()),
        deleted: t.Array(t.String()),
        untracked: t.Array(t.String()),
      }),
      has_changes: t.Boolean(),
    }),
  },
  'GET /api/v0.2/kb/cache/stats': {
    response: t.Object({ status: t.String(), cache: t.Record(t.String(), t.Unknown()) }),
  },
  'POST /api/v0.2/kb/cache/invalidate': {
    query: t.Object({ pattern: t.Optional(t.String({ default: '*' })) }),
    response: t.Object({ status: t.String(), message: t.String() }),
  },
  'GET /api/v0.2/kb/health': {
    response: t.Object({
      service: t.String(),
      status: t.String(),
      version: t.String(),
      timestamp: t.String(),
    }),
  },
};

// The chat family's KB variants are the same operations under chat paths.
for (const v of ['kb-enhanced', 'kb-research', 'kb-gamemaster', 'kb-development', 'kb-search'])
  KB_OPENAPI[`POST /api/v1/chat/${v}`] = { ...read, description: '`message` is the search query' };
KB_OPENAPI['POST /api/v1/chat/kb-context'] = { ...read, description: '`message` is the context name' };
KB_OPENAPI['POST /api/v1/chat/kb-multitask'] = {
  ...read,
  description:
    '`message` is a free-text request, split into searches, contexts and navigation run in parallel',
};

const JsonRpc = t.Object(
  {
    jsonrpc: t.Literal('2.0'),
    id: t.Optional(t.Union([t.String(), t.Number(), t.Null()])),
    method: t.Optional(t.String()),
    params: t.Optional(t.Record(t.String(), t.Unknown())),
    result: t.Optional(t.Unknown()),
    error: t.Optional(t.Object({ code: t.Number(), message: t.String() })),
  },
  { description: 'A JSON-RPC 2.0 message of the Model Context Protocol (streamable HTTP transport)' },
);

Object.assign(KB_OPENAPI, {
  'POST /api/v1/kb/sync/webhook': {
    body: t.Record(t.String(), t.Unknown(), {
      description: "The git host's push event; its signature header must match the raw bytes",
    }),
    response: t.Record(t.String(), t.Unknown(), { description: 'What the push started' }),
  },
  'POST /api/v1/kb/mcp': {
    body: JsonRpc,
    response: JsonRpc,
    description: 'Stateless and JSON-only: every request is answered with one JSON body',
  },
  // There is no server-initiated stream and no session, so these only ever refuse.
  'GET /api/v1/kb/mcp': { status: 405, response: JsonRpc },
  'DELETE /api/v1/kb/mcp': { status: 405, response: JsonRpc },
} satisfies RouteDocs);
