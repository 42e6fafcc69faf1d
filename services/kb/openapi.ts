/** What the API reference shows for the knowledge base routes: the bodies they validate and their answers. */
import { t } from 'elysia';
import { Integer, type RouteDocs } from '../../src/http/schemas.ts';
import { MoveBody as ApiMoveBody, PutBody, SynthesizeBody } from './api/model.ts';
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

// ── the structured JSON API under /api/v1/kb (one catch-all in the gateway's table) ──────────────────

const Obj = (description: string) => t.Record(t.String(), t.Unknown(), { description });

const FileAnswer = t.Object({
  path: t.String(),
  content: t.String(),
  frontmatter: t.Optional(t.Record(t.String(), t.Unknown())),
  sha: t.String({ description: 'Content hash; send it back as `expected_sha` to write safely' }),
});

const WriteResult = t.Object({
  path: t.String(),
  action: t.Union([t.Literal('create'), t.Literal('update'), t.Literal('unchanged')]),
  commit: t.Union([t.String(), t.Null()]),
  sha: t.String(),
  warnings: t.Array(t.String()),
});

const SearchQuery = t.Object({
  q: t.String(),
  limit: t.Optional(Integer({ minimum: 1, maximum: 100, default: 20 })),
  offset: t.Optional(Integer({ minimum: 0, default: 0 })),
  match: t.Optional(t.Union(['all', 'any', 'phrase', 'auto'].map((m) => t.Literal(m)))),
  contexts: t.Optional(t.String({ description: 'Comma-separated contexts to search in' })),
  include_content: t.Optional(t.Boolean()),
});

const SearchAnswer = t.Object({
  query: t.Optional(t.String()),
  total: Integer(),
  results: t.Array(t.Record(t.String(), t.Unknown())),
});

Object.assign(KB_OPENAPI, {
  'GET /api/v1/kb/files/*': {
    summary: 'Read a file',
    query: t.Object({ include: t.Optional(t.Literal('raw', { description: 'The file as stored' })) }),
    response: FileAnswer,
  },
  'PUT /api/v1/kb/files/*': {
    summary: 'Create or replace a file (a commit)',
    body: PutBody,
    response: WriteResult,
    also: { 201: { description: 'Created', schema: WriteResult } },
  },
  'DELETE /api/v1/kb/files/*': {
    summary: 'Delete a file (a commit)',
    query: t.Object({ message: t.Optional(t.String()) }),
    response: Obj('The path removed and the commit'),
  },
  'POST /api/v1/kb/move': { summary: 'Move a file (a commit)', body: ApiMoveBody, response: Obj('The move') },
  'GET /api/v1/kb/list': {
    summary: 'List a directory',
    query: t.Object({
      path: t.Optional(t.String({ default: '/' })),
      recursive: t.Optional(t.Boolean()),
      pattern: t.Optional(t.String({ description: 'Glob on names' })),
    }),
    response: t.Object({
      path: t.String(),
      directories: t.Array(t.Object({ name: t.String(), path: t.String() })),
      files: t.Array(
        t.Object({
          name: t.String(),
          path: t.String(),
          size: t.Number(),
          modified: t.String(),
          is_index: t.Boolean(),
        }),
      ),
    }),
  },
  'GET /api/v1/kb/search': { summary: 'Full-text search', query: SearchQuery, response: SearchAnswer },
  'POST /api/v1/kb/search': {
    summary: 'Full-text search (JSON body)',
    body: t.Object({
      q: t.String(),
      limit: t.Optional(Integer({ minimum: 1, maximum: 100 })),
      offset: t.Optional(Integer({ minimum: 0 })),
      match: t.Optional(t.String()),
      contexts: t.Optional(t.Array(t.String())),
      include_content: t.Optional(t.Boolean()),
    }),
    response: SearchAnswer,
  },
  'GET /api/v1/kb/contexts/*': { summary: 'Load a context', response: Obj('The context and its files') },
  'GET /api/v1/kb/navigate': {
    summary: 'Directory tree',
    query: t.Object({
      path: t.Optional(t.String({ default: '/' })),
      depth: t.Optional(Integer({ minimum: 1, maximum: 6, default: 3 })),
      keywords: t.Optional(t.String({ description: 'Comma-separated' })),
    }),
    response: Obj('The tree from `path`'),
  },
  'POST /api/v1/kb/synthesize': {
    summary: 'Connections between contexts',
    body: SynthesizeBody,
    response: Obj('The synthesis'),
  },
  'GET /api/v1/kb/threads': { summary: 'Active KOS threads', response: Obj('Threads and counts') },
  'GET /api/v1/kb/history': {
    summary: 'Commit history',
    query: t.Object({
      path: t.Optional(t.String()),
      limit: t.Optional(Integer({ minimum: 1, maximum: 200, default: 20 })),
    }),
    response: t.Object({ commits: t.Array(t.Record(t.String(), t.Unknown())) }),
  },
  'POST /api/v1/kb/index/rebuild': {
    summary: 'Rebuild the search index (KB admins)',
    status: 202,
    response: t.Object({ status: t.Literal('rebuilding') }),
  },
  'GET /api/v1/kb/me': {
    summary: "The caller's KB namespaces, teams and workspaces",
    response: t.Object({
      user_id: t.String(),
      admin: t.Boolean(),
      namespaces: t.Array(t.Object({ path: t.String(), access: t.Array(t.String()) })),
      teams: t.Array(t.Object({ name: t.String(), role: t.String() })),
      workspaces: t.Array(t.Object({ name: t.String(), owner: t.Union([t.String(), t.Null()]) })),
    }),
  },
  'GET /api/v1/kb/access': {
    summary: 'What the caller may do on a path',
    query: t.Object({ path: t.String() }),
    response: t.Object({ path: t.String(), namespace: t.String(), can: t.Record(t.String(), t.Boolean()) }),
  },
} satisfies RouteDocs);
