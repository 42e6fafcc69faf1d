/**
 * The gateway's route table as data: who may call a route, which service owns it,
 * its body limit class, and whether it is a chat route (longer timeout, stream accounting).
 * Brace groups of the spec expand to one row per alternative here.
 */
import type { ServiceName } from '../../src/config.ts';
import { LEGACY_CHAT_VARIANTS } from '../../src/http/legacy-chat.ts';

/** `-` public, `U` any identity, `A` admin, `P` password session, `K` API key only, `S` signed by owner, `SU` either. */
export type AuthRule = '-' | 'U' | 'A' | 'P' | 'K' | 'S' | 'SU';
export type LimitClass = 'auth' | 'chat' | 'kb' | 'asset-generate' | 'default';
export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'HEAD';

export interface ProxyRoute {
  method: Method | 'ALL';
  /** Elysia path syntax: `:param`, trailing `*`. */
  path: string;
  auth: AuthRule;
  owner: ServiceName;
  summary: string;
  limit: LimitClass;
  chat?: boolean;
  /** Counted by the per-address auth limit (login, register, api-key-login, confirm, resend). */
  authLimited?: boolean;
  /** Routes where the Supabase provider needs the user's own token. */
  forwardAuthorization?: boolean;
  /** Webhook routes pass the git host's signature headers. */
  webhook?: boolean;
  /** Service path when it differs from the public one. */
  target?: string;
  /** JSON routes have their body labelled application/json and refuse multipart. */
  json?: boolean;
}

const r = (
  method: ProxyRoute['method'],
  path: string,
  auth: AuthRule,
  owner: ServiceName,
  summary: string,
  extra: Partial<ProxyRoute> = {},
): ProxyRoute => {
  const limit: LimitClass =
    extra.limit ??
    (path.startsWith('/api/v1/auth') || path.startsWith('/api/v0.3/auth')
      ? 'auth'
      : path.startsWith('/api/v0.2/kb') || path.startsWith('/api/v1/kb')
        ? 'kb'
        : 'default');
  return { method, path, auth, owner, summary, limit, json: true, ...extra };
};

const chat = { chat: true, limit: 'chat' as const };

function authRoutes(): ProxyRoute[] {
  const out: ProxyRoute[] = [];
  const pub: Array<[string, string, Partial<ProxyRoute>]> = [
    ['login', 'Email + password → AuthResponse', { authLimited: true }],
    ['register', 'Create account → AuthResponse', { authLimited: true }],
    ['refresh', 'Rotate refresh token → AuthResponse', {}],
    ['logout', "Revoke the caller's session", { forwardAuthorization: true }],
    ['validate', 'Check a token or api_key', {}],
    ['confirm', 'Email confirmation', { authLimited: true }],
    ['resend-verification', 'Resend the confirmation email', { authLimited: true }],
  ];
  for (const version of ['v1', 'v0.3']) {
    for (const [name, summary, extra] of pub) {
      out.push(r('POST', `/api/${version}/auth/${name}`, '-', 'auth', summary, extra));
    }
  }
  out.push(
    r('POST', '/api/v1/auth/api-key-login', 'K', 'auth', 'Exchange an API key for a 15-minute JWT', {
      authLimited: true,
    }),
    r('POST', '/api/v1/auth/api-keys', 'P', 'auth', 'Create an API key (shown once)'),
    r('GET', '/api/v1/auth/api-keys', 'U', 'auth', "List the caller's API keys"),
    r('DELETE', '/api/v1/auth/api-keys/:key_id', 'U', 'auth', 'Revoke an API key'),
    r('GET', '/api/v1/auth/user', 'U', 'auth', "The caller's User object"),
    r('PATCH', '/api/v1/auth/user', 'U', 'auth', 'Update the display name', { forwardAuthorization: true }),
  );
  return out;
}

function chatRoutes(): ProxyRoute[] {
  const out: ProxyRoute[] = [
    r('POST', '/api/v1/chat', 'U', 'chat', 'Unified chat (OpenAI shape, v0.3 shape or SSE)', chat),
    r('POST', '/api/v1/chat/completions', 'U', 'chat', 'Legacy chat completions', chat),
    r('GET', '/api/v1/chat/status', 'U', 'chat', 'Legacy scratch-history status', chat),
    r('DELETE', '/api/v1/chat/history', 'U', 'chat', 'Clear legacy scratch history', chat),
    r('POST', '/api/v1/chat/reload-prompt', 'U', 'chat', 'Reload the system prompt', chat),
    r('GET', '/api/v1/chat/personas', 'U', 'chat', 'List personas', chat),
    r('POST', '/api/v1/chat/personas', 'U', 'chat', 'Create a persona', chat),
    r('GET', '/api/v1/chat/tools', 'U', 'chat', "Tools the caller's chats can use"),
    r('GET', '/api/v1/chat/usage', 'U', 'chat', "The caller's chat tokens and cost per day"),
  ];
  for (const v of LEGACY_CHAT_VARIANTS) {
    out.push(r('POST', `/api/v1/chat/${v}`, 'U', 'chat', `Legacy chat variant ${v}`, chat));
  }
  for (const v of ['kb-enhanced', 'kb-research', 'kb-gamemaster', 'kb-development', 'kb-search']) {
    out.push(r('POST', `/api/v1/chat/${v}`, 'U', 'kb', `KB search (${v})`, chat));
  }
  out.push(
    r('POST', '/api/v1/chat/kb-context', 'U', 'kb', 'Load a KB context', chat),
    r('POST', '/api/v1/chat/kb-multitask', 'U', 'kb', 'Several KB tasks in parallel', chat),
    r('GET', '/api/v1/models', 'U', 'chat', 'Model registry'),
    r('POST', '/api/v1/conversations', 'U', 'chat', 'Create a conversation'),
    r('GET', '/api/v1/conversations', 'U', 'chat', 'List conversations'),
    r('GET', '/api/v1/conversations/stats', 'U', 'chat', "The caller's conversation counts"),
    r('GET', '/api/v1/conversations/:conversation_id', 'U', 'chat', 'One conversation'),
    r('GET', '/api/v1/conversations/:conversation_id/messages', 'U', 'chat', 'Messages, oldest first'),
    r('PUT', '/api/v1/conversations/:conversation_id', 'U', 'chat', 'Rename a conversation'),
    r('DELETE', '/api/v1/conversations/:conversation_id', 'U', 'chat', 'Delete a conversation'),
    r('POST', '/api/v0.3/chat', 'U', 'chat', 'Clean chat API (Unity)', chat),
    r('GET', '/api/v0.3/conversations', 'U', 'chat', 'List conversations (v0.3)'),
    r('POST', '/api/v0.3/conversations', 'U', 'chat', 'Create a conversation (v0.3)'),
    r('POST', '/api/v0.2/chat', 'U', 'chat', 'Multi-provider chat', chat),
    r('POST', '/api/v0.2/chat/stream', 'U', 'chat', 'Multi-provider chat, streaming', chat),
    r('GET', '/api/v0.2/chat/status', 'U', 'chat', 'Scratch-history status', chat),
    r('DELETE', '/api/v0.2/chat/history', 'U', 'chat', 'Clear scratch history', chat),
    r('POST', '/api/v0.2/chat/reload-prompt', 'U', 'chat', 'Reload system prompt', chat),
    r('GET', '/api/v0.2/providers', 'U', 'chat', 'Configured providers'),
    r('GET', '/api/v0.2/providers/:provider', 'U', 'chat', 'One provider'),
    r('GET', '/api/v0.2/providers/:provider/models', 'U', 'chat', "A provider's models"),
    r('GET', '/api/v0.2/providers/:provider/health', 'U', 'chat', "A provider's health"),
    r('GET', '/api/v0.2/models', 'U', 'chat', 'Model registry'),
    r('GET', '/api/v0.2/models/:model_id', 'U', 'chat', 'One model with pricing'),
    r('GET', '/api/v0.2/personas', 'U', 'chat', 'List personas'),
    r('GET', '/api/v0.2/personas/current', 'U', 'chat', "The caller's active persona"),
    r('GET', '/api/v0.2/personas/:persona_id', 'U', 'chat', 'One persona'),
    r('POST', '/api/v0.2/personas', 'U', 'chat', 'Create a persona'),
    r('PUT', '/api/v0.2/personas/:persona_id', 'U', 'chat', 'Update a persona'),
    r('DELETE', '/api/v0.2/personas/:persona_id', 'U', 'chat', 'Delete a persona'),
    r('POST', '/api/v0.2/personas/set', 'U', 'chat', "Choose the caller's persona"),
    r('POST', '/api/v0.2/personas/initialize-default', 'U', 'chat', 'Ensure persona Mu exists'),
    r('POST', '/v1/chat/completions', 'U', 'chat', 'OpenAI Chat Completions', chat),
    r('GET', '/v1/models', 'U', 'chat', 'OpenAI model list'),
    r('GET', '/v1/models/:model', 'U', 'chat', 'One OpenAI model object'),
  );
  return out;
}

function assetRoutes(): ProxyRoute[] {
  const out: ProxyRoute[] = [];
  for (const v of ['current', 'analytics', 'providers'])
    out.push(r('GET', `/api/v0.2/assets/pricing/${v}`, 'U', 'asset', `Asset pricing: ${v}`));
  out.push(
    r('POST', '/api/v0.2/assets/pricing/update', 'A', 'asset', 'Update the pricing table'),
    r('POST', '/api/v0.2/assets/pricing/cost-estimator/estimate', 'U', 'asset', 'Cost estimate'),
  );
  for (const v of ['dalle-tiers', 'meshy-packages', 'provider-comparison'])
    out.push(r('GET', `/api/v0.2/assets/pricing/cost-estimator/${v}`, 'U', 'asset', `Pricing: ${v}`));
  out.push(
    r('GET', '/api/v1/assets', 'U', 'asset', "The caller's assets"),
    r('POST', '/api/v1/assets/generate', 'U', 'asset', 'Generate an asset', { limit: 'asset-generate' }),
    r('GET', '/api/v1/assets/test', '-', 'asset', 'Asset service liveness'),
    r('GET', '/api/v1/assets/jobs', 'U', 'asset', "The caller's generation jobs"),
    r('GET', '/api/v1/assets/jobs/:job_id', 'U', 'asset', 'Generation job status'),
    r('GET', '/api/v1/assets/:asset_id', 'U', 'asset', 'One asset'),
    r('GET', '/api/v1/assets/:asset_id/file', 'SU', 'asset', 'Stored file (signed link or owner)', {
      json: false,
    }),
    r('GET', '/api/v1/assets/:asset_id/preview', 'SU', 'asset', 'Preview (signed link or owner)', {
      json: false,
    }),
  );
  return out;
}

function kbRoutes(): ProxyRoute[] {
  const out: ProxyRoute[] = [];
  for (const v of ['search', 'read', 'list', 'write', 'context', 'navigate', 'move', 'synthesize', 'threads'])
    out.push(r('POST', `/api/v0.2/kb/${v}`, 'U', 'kb', `KB ${v}`));
  out.push(r('DELETE', '/api/v0.2/kb/delete', 'U', 'kb', 'KB delete + commit'));
  for (const v of ['git/status', 'cache/stats', 'health'])
    out.push(r('GET', `/api/v0.2/kb/${v}`, 'U', 'kb', `KB ${v}`));
  out.push(
    r('POST', '/api/v0.2/kb/cache/invalidate', 'U', 'kb', 'KB cache invalidation'),
    r('POST', '/api/v1/kb/sync/webhook', 'S', 'kb', 'Git host push webhook', { webhook: true }),
    r('GET', '/api/v1/kb/mcp', 'U', 'kb', 'KB MCP server', { target: '/mcp', json: false }),
    r('POST', '/api/v1/kb/mcp', 'U', 'kb', 'KB MCP server', { target: '/mcp', json: false }),
    r('DELETE', '/api/v1/kb/mcp', 'U', 'kb', 'KB MCP server', { target: '/mcp', json: false }),
    r('ALL', '/api/v1/kb/*', 'U', 'kb', 'KB structured JSON API'),
  );
  return out;
}

export const PROXY_ROUTES: ProxyRoute[] = [...authRoutes(), ...chatRoutes(), ...assetRoutes(), ...kbRoutes()];

/** Gateway-owned routes, for 405 answers and the OpenAPI document. */
export const GATEWAY_ROUTES: Array<{ method: Method; path: string; summary: string }> = [
  { method: 'GET', path: '/', summary: 'Banner' },
  { method: 'GET', path: '/health', summary: 'Aggregated health, always 200' },
  { method: 'GET', path: '/health/live', summary: 'Liveness' },
  { method: 'GET', path: '/health/ready', summary: 'Readiness, 503 when unhealthy' },
  { method: 'POST', path: '/calculator/add', summary: 'Adds a and b' },
  { method: 'GET', path: '/docs', summary: 'Interactive OpenAPI UI' },
  { method: 'GET', path: '/openapi.json', summary: 'OpenAPI 3 document' },
  { method: 'GET', path: '/api/v0.2', summary: 'API info' },
  { method: 'GET', path: '/api/v0.2/health', summary: 'v0.2 health' },
];

/** Compiles an Elysia-style path into a matcher, for 405 lookups (the hot path uses Elysia's router). */
export function pathMatcher(path: string): RegExp {
  const src = path
    .split('/')
    .map((seg) =>
      seg === '*' ? '.+' : seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    )
    .join('/');
  return new RegExp(`^${src}/?$`);
}
