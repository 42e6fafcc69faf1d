/**
 * The KB tools offered to the model, run by calling the kb service's JSON API with the chatting user's
 * identity (JWT and API-key users alike), so a tool can never read more than the user could. Results go
 * back to the model as compact JSON; a failure becomes `{"error": "<detail>"}` and never fails the chat.
 * Tools are offered only while the kb service answers its health check.
 */
import type { ServiceClient } from '../../../src/http/client.ts';
import type { Logger } from '../../../src/log.ts';
import type { ToolDef } from '../providers/types.ts';
import { HealthGate, identityOf } from './backend.ts';
import {
  clipSummary,
  type OfferedTool,
  parseArgs,
  type ToolOutcome,
  type ToolRunContext,
  type ToolSource,
  toolError,
} from './types.ts';

export const KB_TOOLS: ToolDef[] = [
  {
    name: 'search_knowledge_base',
    description:
      'Search the knowledge base (markdown notes the user can read) for documents matching a query. Returns ranked results with path, title and the best matching line.',
    parameters: {
      type: 'object',
      properties: {
        query: { type: 'string', description: 'What to search for (plain words, no operators)' },
        limit: { type: 'integer', minimum: 1, maximum: 50, default: 10, description: 'How many results' },
      },
      required: ['query'],
    },
  },
  {
    name: 'load_kos_context',
    description:
      'Load KOS context: current-session, active-threads, daily-plan, chat-instructions or project-context (with a project name).',
    parameters: {
      type: 'object',
      properties: {
        context_type: {
          type: 'string',
          enum: ['current-session', 'active-threads', 'daily-plan', 'chat-instructions', 'project-context'],
        },
        project: { type: 'string', description: 'Project (context) name for project-context' },
      },
      required: ['context_type'],
    },
  },
  {
    name: 'read_kb_file',
    description: 'Read one knowledge base file by its path (e.g. gaia/+gaia.md): frontmatter and content.',
    parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
  },
  {
    name: 'list_kb_directory',
    description: 'List the files and folders of a knowledge base directory ("/" is the top).',
    parameters: { type: 'object', properties: { path: { type: 'string', default: '/' } } },
  },
  {
    name: 'load_kb_context',
    description:
      'Load a named knowledge base context (a topic folder with an index): summary, keywords and files. Falls back to a search when no such context exists.',
    parameters: {
      type: 'object',
      properties: { topic: { type: 'string' }, depth: { type: 'integer', default: 2 } },
      required: ['topic'],
    },
  },
  {
    name: 'synthesize_kb_information',
    description: 'Find common themes and connections across several knowledge base contexts or files.',
    parameters: {
      type: 'object',
      properties: {
        sources: { type: 'array', items: { type: 'string' }, description: 'Context names or file paths' },
        focus: { type: 'string' },
      },
      required: ['sources'],
    },
  },
];

const CALL_TIMEOUT_MS = 30_000;
const API = '/api/v1/kb';
const KOS_TYPES = ['current-session', 'active-threads', 'daily-plan', 'chat-instructions', 'project-context'];
const KOS_TERMS: Record<string, string> = {
  'current-session': 'current-session session-state active-context',
  'daily-plan': 'daily-plan today priorities schedule',
  'chat-instructions': 'chat-instructions chat-context preferences',
  'project-context': 'project-context',
};
/**
 * Longest text field handed to the model. A KB file may be megabytes; passed whole it would overflow the
 * model's context and fail the turn, so long bodies are cut and flagged.
 */
const MAX_TEXT_CHARS = 50_000;
/** Per result when search results carry file bodies (several of them share one tool result). */
const MAX_HIT_CONTENT_CHARS = 8_000;

const UNREACHABLE = 'The knowledge base is not reachable right now.';

const str = (v: unknown, d = ''): string => (typeof v === 'string' ? v : d);

/** An integer argument within bounds; models send numbers as strings now and then. */
function intArg(v: unknown, def: number, min: number, max: number): number {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n)) return def;
  return Math.min(max, Math.max(min, Math.trunc(n)));
}

/** Thrown inside a tool run to hand `{"error": detail}` to the model. */
class ToolFailure extends Error {
  constructor(
    readonly detail: string,
    readonly status: number,
  ) {
    super(detail);
  }
}

/**
 * A KB path as one URL path parameter. The kb service decodes the parameter once; slashes stay literal so
 * it sees the same segments. The absolute forms (`/kb/x`, `/x`) are reduced here because a leading slash
 * would make an empty URL segment. Dot segments are refused here because a URL parser would resolve them
 * (`files/../x` is another route), with the answer the service gives for them.
 */
function urlPath(raw: string, what: 'file' | 'context'): string {
  let path = raw;
  if (path.startsWith('/kb/')) path = path.slice(4);
  else path = path.replace(/^\/+/, '');
  if (path === '')
    throw new ToolFailure(
      what === 'file'
        ? 'Invalid path: a file path is required'
        : 'Invalid path: context name must not be empty',
      400,
    );
  const segments = path.split('/');
  if (segments.some((s) => s === '.' || s === '..')) throw new ToolFailure('Invalid path: ..', 400);
  try {
    return segments.map((s) => encodeURIComponent(s)).join('/');
  } catch {
    throw new ToolFailure('Invalid path: invalid UTF-8', 400);
  }
}

function clip(text: string, max: number): { text: string; cut: boolean } {
  if (text.length <= max) return { text, cut: false };
  return { text: text.slice(0, max), cut: true };
}

/** Cuts very long bodies so the result fits a model's context; the shape stays the JSON API's. */
function fitForModel(value: unknown): unknown {
  if (!value || typeof value !== 'object') return value;
  const obj = value as Record<string, unknown>;
  if (typeof obj.content === 'string' && typeof obj.sha === 'string') {
    const { raw_content: _raw, ...file } = obj;
    const c = clip(obj.content, MAX_TEXT_CHARS);
    return c.cut ? { ...file, content: c.text, truncated: true, content_chars: obj.content.length } : file;
  }
  if (Array.isArray(obj.results)) {
    return {
      ...obj,
      results: obj.results.map((hit) => {
        const h = hit as Record<string, unknown>;
        if (typeof h?.content !== 'string') return hit;
        const c = clip(h.content, MAX_HIT_CONTENT_CHARS);
        return c.cut ? { ...h, content: c.text, truncated: true } : h;
      }),
    };
  }
  return value;
}

/** A one-line account of a KB result for the stream's `tool_result` event: counts and paths, never contents. */
function summaryOf(name: string, result: unknown): string {
  const r = (result ?? {}) as Record<string, unknown>;
  const count = (v: unknown) => (Array.isArray(v) ? v.length : 0);
  if (Array.isArray(r.results)) {
    const n = count(r.results);
    return `${n} result${n === 1 ? '' : 's'}`;
  }
  if (typeof r.content === 'string' && typeof r.path === 'string') return `Read ${r.path}`;
  if (Array.isArray(r.files) || Array.isArray(r.directories)) {
    const n = count(r.files) + count(r.directories);
    return `${n} entr${n === 1 ? 'y' : 'ies'}`;
  }
  if (Array.isArray(r.threads)) return `${count(r.threads)} threads`;
  if (name === 'load_kb_context' && typeof r.name === 'string') return `Loaded context ${r.name}`;
  return 'Done';
}

const OFFERED: OfferedTool[] = KB_TOOLS.map((t) => ({ ...t, source: 'kb', selector: `kb:${t.name}` }));

export class KbTools implements ToolSource {
  readonly kind = 'kb' as const;
  private readonly health: HealthGate;

  constructor(
    private readonly kb: ServiceClient,
    private readonly log: Logger,
  ) {
    this.health = new HealthGate(kb);
  }

  async tools(): Promise<OfferedTool[]> {
    return (await this.health.up()) ? OFFERED : [];
  }

  /** One call to the kb JSON API as `user`; a non-2xx answer becomes a ToolFailure with its detail. */
  private async api(
    c: ToolRunContext,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<unknown> {
    const res = await this.kb.fetch(path, {
      method,
      signal: c.signal,
      headers: body === undefined ? undefined : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      timeoutMs: CALL_TIMEOUT_MS,
      identity: identityOf(c.user, c.requestId),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const detail = (parsed as { detail?: unknown } | undefined)?.detail;
      throw new ToolFailure(
        typeof detail === 'string' ? detail : `KB request failed (HTTP ${res.status})`,
        res.status,
      );
    }
    if (parsed === undefined) throw new ToolFailure('The knowledge base sent an unreadable answer.', 502);
    return parsed;
  }

  private search(
    c: ToolRunContext,
    q: string,
    opts: { limit: number; match?: 'auto' | 'any'; contexts?: string[]; includeContent?: boolean },
  ): Promise<unknown> {
    const params = new URLSearchParams({ q, limit: String(opts.limit), match: opts.match ?? 'auto' });
    if (opts.contexts) params.set('contexts', opts.contexts.join(','));
    if (opts.includeContent) params.set('include_content', 'true');
    return this.api(c, 'GET', `${API}/search?${params}`);
  }

  /** A named context, or (when there is none) a search for the name. */
  private async contextOrSearch(c: ToolRunContext, name: string): Promise<unknown> {
    try {
      return await this.api(c, 'GET', `${API}/contexts/${urlPath(name, 'context')}`);
    } catch (err) {
      if (err instanceof ToolFailure && err.status === 404) return this.search(c, name, { limit: 10 });
      throw err;
    }
  }

  private async kos(c: ToolRunContext, type: string, project: string): Promise<unknown> {
    if (!KOS_TYPES.includes(type))
      throw new ToolFailure(
        `Unknown context_type: ${type || '(none)'} (expected one of ${KOS_TYPES.join(', ')})`,
        400,
      );
    if (type === 'active-threads') return this.api(c, 'GET', `${API}/threads`);
    if (type === 'project-context' && project.trim()) return this.contextOrSearch(c, project.trim());
    // Organisation KOS notes and the user's own; other users' KOS folders are theirs alone.
    return this.search(c, KOS_TERMS[type]!, {
      limit: 5,
      match: 'any',
      contexts: ['kos', `users/${c.user.id}/kos`],
      includeContent: true,
    });
  }

  private dispatch(c: ToolRunContext, name: string, a: Record<string, unknown>): Promise<unknown> {
    switch (name) {
      case 'search_knowledge_base':
        return this.search(c, str(a.query), { limit: intArg(a.limit, 10, 1, 50) });
      case 'load_kos_context':
        return this.kos(c, str(a.context_type), str(a.project));
      case 'read_kb_file':
        return this.api(c, 'GET', `${API}/files/${urlPath(str(a.path), 'file')}`);
      case 'list_kb_directory':
        return this.api(c, 'GET', `${API}/list?${new URLSearchParams({ path: str(a.path, '/') || '/' })}`);
      case 'load_kb_context':
        return this.contextOrSearch(c, str(a.topic));
      case 'synthesize_kb_information': {
        const sources = Array.isArray(a.sources)
          ? a.sources.filter((s): s is string => typeof s === 'string')
          : [];
        const focus = str(a.focus);
        return this.api(
          c,
          'POST',
          `${API}/synthesize`,
          focus ? { contexts: sources, focus } : { contexts: sources },
        );
      }
      default:
        throw new ToolFailure(`Unknown tool: ${name}`, 400);
    }
  }

  async run(name: string, rawArgs: string, ctx: ToolRunContext): Promise<ToolOutcome> {
    try {
      const result = await this.dispatch(ctx, name, parseArgs(rawArgs));
      return {
        ok: true,
        content: JSON.stringify(fitForModel(result)),
        summary: clipSummary(summaryOf(name, result)),
      };
    } catch (err) {
      if (err instanceof ToolFailure) return toolError(err.detail);
      this.log.warn('kb tool failed', { tool: name, error: (err as Error)?.message ?? String(err) });
      return toolError(UNREACHABLE);
    }
  }
}
