/** What the API reference shows for the knowledge base routes: the bodies they validate and their answers. */
import type { Static } from '@sinclair/typebox';
import { t } from 'elysia';
import { Integer, type RouteDocs } from '../../src/http/schemas.ts';
import {
  AccessSchema,
  AddTeamMemberBody,
  AddWorkspaceMemberBody,
  CreateSharesBody,
  CreateTeamBody,
  CreateWorkspaceBody,
  MeSchema,
  ShareSchema,
  TeamMemberSchema,
  TeamSchema,
  UpdateTeamBody,
  UpdateTeamMemberBody,
  UpdateWorkspaceBody,
  WorkspaceMemberSchema,
  WorkspaceSchema,
} from './access/model.ts';
import { MoveBody as ApiMoveBody, PutBody, SynthesizeBody } from './api/model.ts';
import { SyncStatusSchema } from './git/model.ts';
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
import type {
  CommitInfo,
  ContextData,
  FileObject,
  SearchResult,
  SynthesisResult,
  ThreadsResult,
  WriteResult as WriteResultType,
} from './types.ts';

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
    status: 202,
    response: t.Object({ status: t.Literal('accepted') }, { description: 'A pull of the branch started' }),
    also: {
      200: {
        description: 'A ping, or a push to another branch (nothing to pull)',
        schema: t.Union([
          t.Object({ status: t.Literal('pong') }),
          t.Object({ status: t.Literal('ignored'), reason: t.Literal('branch') }),
        ]),
      },
    },
    description: 'Answers 404 when no webhook secret is configured, 401 when the signature does not match',
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

const Meta = t.Record(t.String(), t.Unknown(), { description: 'The YAML front matter' });

const FileAnswer = t.Object({
  path: t.String(),
  namespace: t.String(),
  title: t.String(),
  frontmatter: Meta,
  content: t.String({ description: 'The body without its front matter' }),
  keywords: t.Array(t.String()),
  wiki_links: t.Array(t.String()),
  size: t.Number(),
  modified: t.String(),
  is_index: t.Boolean(),
  sha: t.String({ description: 'Content hash; send it back as `expected_sha` to write safely' }),
  raw_content: t.Optional(t.String({ description: 'The file as stored, with `include=raw`' })),
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
  query: t.String(),
  match: t.Union([t.Literal('all'), t.Literal('any'), t.Literal('phrase')], {
    description: 'The mode used (`auto` resolves to one of these)',
  }),
  total: Integer(),
  limit: Integer(),
  offset: Integer(),
  took_ms: t.Number(),
  results: t.Array(
    t.Object({
      path: t.String(),
      namespace: t.String(),
      context: t.Union([t.String(), t.Null()]),
      title: t.String(),
      score: t.Number(),
      line_number: Integer(),
      excerpt: t.String(),
      matched_terms: t.Array(t.String()),
      keywords: t.Array(t.String()),
      modified: t.String(),
      content: t.Optional(t.String({ description: 'With `include_content`' })),
    }),
  ),
});

const ContextAnswer = t.Object({
  name: t.String(),
  path: t.String({ description: "The context's index file" }),
  summary: t.String(),
  keywords: t.Array(t.String()),
  dependencies: t.Array(t.String()),
  files: t.Array(t.String()),
  total_files: Integer(),
});

// Children repeat the node's shape; a recursive schema would print as a `$ref` to an `$id` that Swagger
// UI does not resolve, so the reference describes one level and says so.
const NavAnswer = t.Object({
  path: t.String(),
  name: t.String(),
  has_index: t.Boolean(),
  keywords: t.Optional(t.Array(t.String())),
  frontmatter: t.Optional(Meta),
  summary: t.Optional(t.String()),
  children: t.Array(t.Record(t.String(), t.Unknown()), {
    description: 'Nodes of this same shape, down to `depth`',
  }),
});

const SynthesisAnswer = t.Object({
  contexts: t.Array(t.String()),
  common_themes: t.Array(t.String()),
  potential_connections: t.Array(
    t.Object({
      context1: t.String(),
      context2: t.String(),
      shared_keywords: t.Array(t.String()),
      connection_strength: t.Number(),
    }),
  ),
});

const ThreadsAnswer = t.Object({
  threads: t.Array(
    t.Object({
      thread_id: t.String(),
      path: t.String(),
      title: t.String(),
      state: t.String(),
      current_action: t.String(),
      next_steps: t.Array(t.String()),
      context: t.Unknown(),
      last_updated: t.String(),
      progress_notes: t.Array(t.String()),
    }),
  ),
  total_threads: Integer(),
  active_count: Integer(),
});

const CommitAnswer = t.Object({
  sha: t.String(),
  author: t.String(),
  email: t.String(),
  date: t.String(),
  message: t.String(),
});

/**
 * Compile-time only: each documented answer has the fields the operations build, no more and no fewer,
 * so a field added to or dropped from an answer breaks the type check until the reference follows.
 */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<T extends true> = T;
export type KbAnswersMatch = [
  Holds<Same<Static<typeof FileAnswer>, FileObject>>,
  Holds<Same<Static<typeof WriteResult>, WriteResultType>>,
  Holds<Same<Static<typeof SearchAnswer>, SearchResult>>,
  Holds<Same<Static<typeof ContextAnswer>, ContextData>>,
  Holds<Same<Static<typeof SynthesisAnswer>, SynthesisResult>>,
  Holds<Same<Static<typeof ThreadsAnswer>, ThreadsResult>>,
  Holds<Same<Static<typeof CommitAnswer>, CommitInfo>>,
];

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
    query: t.Object({ message: t.Optional(t.String({ description: 'Commit message' })) }),
    response: t.Object({ path: t.String(), action: t.Literal('delete'), commit: t.String() }),
  },
  'POST /api/v1/kb/move': {
    summary: 'Move a file (a commit)',
    body: ApiMoveBody,
    response: t.Object({ from: t.String(), to: t.String(), action: t.Literal('move'), commit: t.String() }),
  },
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
  'GET /api/v1/kb/contexts/*': { summary: 'Load a context', response: ContextAnswer },
  'GET /api/v1/kb/navigate': {
    summary: 'Directory tree',
    query: t.Object({
      path: t.Optional(t.String({ default: '/' })),
      depth: t.Optional(Integer({ minimum: 1, maximum: 6, default: 3 })),
      keywords: t.Optional(t.String({ description: 'Comma-separated' })),
    }),
    response: NavAnswer,
  },
  'POST /api/v1/kb/synthesize': {
    summary: 'Connections between contexts',
    body: SynthesizeBody,
    response: SynthesisAnswer,
  },
  'GET /api/v1/kb/threads': { summary: 'Active KOS threads', response: ThreadsAnswer },
  'GET /api/v1/kb/history': {
    summary: 'Commit history',
    query: t.Object({
      path: t.Optional(t.String()),
      limit: t.Optional(Integer({ minimum: 1, maximum: 200, default: 20 })),
    }),
    response: t.Object({ commits: t.Array(CommitAnswer) }),
  },
  'POST /api/v1/kb/index/rebuild': {
    summary: 'Rebuild the search index (KB admins)',
    status: 202,
    response: t.Object({ status: t.Literal('rebuilding') }),
  },
  'GET /api/v1/kb/me': { summary: "The caller's KB namespaces, teams and workspaces", response: MeSchema },
  'GET /api/v1/kb/access': {
    summary: 'What the caller may do on a path',
    query: t.Object({ path: t.Optional(t.String({ default: '/' })) }),
    response: AccessSchema,
  },
} satisfies RouteDocs);

// Git synchronisation: pull and push only start the work, so they answer before it ends.
const Accepted = t.Object({ status: t.Literal('accepted') }, { description: 'Started in the background' });

Object.assign(KB_OPENAPI, {
  'GET /api/v1/kb/sync/status': {
    summary: 'Git sync status: heads, schedule, last pull and push, unresolved conflicts',
    response: SyncStatusSchema,
  },
  'POST /api/v1/kb/sync/pull': {
    summary: 'Pull from the remote now (KB admins)',
    status: 202,
    response: Accepted,
  },
  'POST /api/v1/kb/sync/push': {
    summary: 'Push to the remote now (KB admins)',
    status: 202,
    response: Accepted,
  },
} satisfies RouteDocs);

// Teams, workspaces and shares. Listing `all` is honoured for KB admins only; others get their own.
const All = t.Object({
  all: t.Optional(t.Boolean({ description: "Every one, not only the caller's (KB admins)" })),
});
const Shares = t.Object({ shares: t.Array(ShareSchema) });

Object.assign(KB_OPENAPI, {
  'POST /api/v1/kb/teams': {
    summary: 'Create a team (KB admins); the creator becomes its owner',
    body: CreateTeamBody,
    status: 201,
    response: TeamSchema,
  },
  'GET /api/v1/kb/teams': {
    summary: "The caller's teams",
    query: All,
    response: t.Object({ teams: t.Array(TeamSchema) }),
  },
  'GET /api/v1/kb/teams/:name': {
    summary: 'A team and its members',
    response: t.Composite([TeamSchema, t.Object({ members: t.Array(TeamMemberSchema) })]),
  },
  'PATCH /api/v1/kb/teams/:name': {
    summary: 'Change a team (team owners and admins)',
    body: UpdateTeamBody,
    response: TeamSchema,
  },
  'DELETE /api/v1/kb/teams/:name': {
    summary: 'Deactivate a team (team owners); its files stay',
    status: 204,
  },
  'POST /api/v1/kb/teams/:name/members': {
    summary: 'Add a team member (team owners and admins)',
    body: AddTeamMemberBody,
    status: 201,
    response: TeamMemberSchema,
  },
  'PATCH /api/v1/kb/teams/:name/members/:user': {
    summary: "Change a member's role",
    body: UpdateTeamMemberBody,
    response: TeamMemberSchema,
    description: '`user` is a user id or email address',
  },
  'DELETE /api/v1/kb/teams/:name/members/:user': {
    summary: 'Remove a team member, or leave the team',
    status: 204,
    description: '`user` is a user id or email address; the last owner cannot be removed',
  },
  'POST /api/v1/kb/workspaces': {
    summary: 'Create a workspace; the creator owns it',
    body: CreateWorkspaceBody,
    status: 201,
    response: WorkspaceSchema,
  },
  'GET /api/v1/kb/workspaces': {
    summary: 'Workspaces the caller owns or belongs to',
    query: All,
    response: t.Object({ workspaces: t.Array(WorkspaceSchema) }),
  },
  'GET /api/v1/kb/workspaces/:name': { summary: 'A workspace and its members', response: WorkspaceSchema },
  'PATCH /api/v1/kb/workspaces/:name': {
    summary: 'Change, archive or close a workspace (its owner)',
    body: UpdateWorkspaceBody,
    response: WorkspaceSchema,
  },
  'POST /api/v1/kb/workspaces/:name/members': {
    summary: 'Add a workspace member (its owner)',
    body: AddWorkspaceMemberBody,
    status: 201,
    response: WorkspaceMemberSchema,
  },
  'DELETE /api/v1/kb/workspaces/:name/members/:user': {
    summary: 'Remove a workspace member, or leave the workspace',
    status: 204,
    description: '`user` is a user id or email address; the owner cannot be removed',
  },
  'POST /api/v1/kb/shares': {
    summary: 'Share a file or directory with users, teams or workspaces',
    body: CreateSharesBody,
    status: 201,
    response: Shares,
    description: 'Sharing again with the same recipient replaces the earlier grant',
  },
  'POST /api/v1/kb/share': {
    summary: 'Share a file or directory (same as `POST /api/v1/kb/shares`)',
    body: CreateSharesBody,
    status: 201,
    response: Shares,
  },
  'GET /api/v1/kb/shares': {
    summary: 'Shares the caller received or granted',
    query: t.Object({
      direction: t.Optional(t.Union([t.Literal('received'), t.Literal('granted')], { default: 'received' })),
      path: t.Optional(t.String({ description: 'Only shares on this path, above it or below it' })),
    }),
    response: t.Object({
      shares: t.Array(t.Composite([ShareSchema, t.Object({ expired: t.Boolean() })]), {
        description: 'Newest first; received shares include expired ones, marked',
      }),
    }),
  },
  'DELETE /api/v1/kb/shares/:id': {
    summary: "Revoke a share (its creator or the namespace's manager)",
    status: 204,
  },
} satisfies RouteDocs);
