/**
 * The KB tools offered to the model (spec/chat.md §1.7, kb.md §9), run by calling the kb service with the
 * chatting user's identity. Tools are offered only while the kb service answers its health check, and a
 * failing tool hands error text to the model instead of failing the chat.
 */
import type { ServiceClient } from '../../../src/http/client.ts';
import type { User } from '../../../src/http/service.ts';
import type { Logger } from '../../../src/log.ts';
import type { ToolCall, ToolDef } from '../providers/types.ts';

export const KB_TOOLS: ToolDef[] = [
  {
    name: 'search_knowledge_base',
    description: 'Search the knowledge base for documents matching a query.',
    parameters: {
      type: 'object',
      properties: {
        query: { type: 'string', description: 'What to search for' },
        limit: { type: 'integer', minimum: 1, maximum: 50, default: 10 },
      },
      required: ['query'],
    },
  },
  {
    name: 'load_kos_context',
    description:
      'Load KOS context: current-session, active-threads, daily-plan, chat-instructions or project-context.',
    parameters: {
      type: 'object',
      properties: {
        context_type: {
          type: 'string',
          enum: ['current-session', 'active-threads', 'daily-plan', 'chat-instructions', 'project-context'],
        },
        project: { type: 'string' },
      },
      required: ['context_type'],
    },
  },
  {
    name: 'read_kb_file',
    description: 'Read one knowledge base file by its path.',
    parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] },
  },
  {
    name: 'list_kb_directory',
    description: 'List the files and folders of a knowledge base directory.',
    parameters: { type: 'object', properties: { path: { type: 'string', default: '/' } } },
  },
  {
    name: 'load_kb_context',
    description: 'Load a named knowledge base context (a topic) with its files.',
    parameters: {
      type: 'object',
      properties: { topic: { type: 'string' }, depth: { type: 'integer', default: 2 } },
      required: ['topic'],
    },
  },
  {
    name: 'synthesize_kb_information',
    description: 'Find themes and connections across several knowledge base contexts or files.',
    parameters: {
      type: 'object',
      properties: { sources: { type: 'array', items: { type: 'string' } }, focus: { type: 'string' } },
      required: ['sources'],
    },
  },
];

const HEALTH_TTL_MS = 30_000;
const KOS_TERMS: Record<string, string> = {
  'current-session': 'current-session session-state active-context',
  'daily-plan': 'daily-plan today priorities schedule',
  'chat-instructions': 'chat-instructions chat-context preferences',
  'project-context': 'project-context',
};

function args(call: ToolCall): Record<string, unknown> {
  try {
    const v = JSON.parse(call.arguments || '{}');
    return v && typeof v === 'object' ? v : {};
  } catch {
    return {};
  }
}

const str = (v: unknown, d = ''): string => (typeof v === 'string' ? v : d);

export class KbTools {
  private healthy: { at: number; ok: boolean } | null = null;

  constructor(
    private readonly kb: ServiceClient,
    private readonly log: Logger,
  ) {}

  async offer(): Promise<ToolDef[]> {
    if (!this.healthy || Date.now() - this.healthy.at > HEALTH_TTL_MS) {
      let ok = false;
      try {
        const res = await this.kb.fetch('/health', { method: 'GET', timeoutMs: 1000 });
        ok = res.ok;
        await res.body?.cancel();
      } catch {
        ok = false;
      }
      this.healthy = { at: Date.now(), ok };
    }
    return this.healthy.ok ? KB_TOOLS : [];
  }

  private async call(user: User, path: string, message: string): Promise<string> {
    const res = await this.kb.fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ message }),
      timeoutMs: 30_000,
      identity: {
        auth_type: user.authType,
        sub: user.id,
        email: user.email ?? undefined,
        name: user.name ?? undefined,
        admin: user.admin,
        session_id: user.sessionId,
        key_id: user.keyId,
        rid: crypto.randomUUID(),
        ip: '',
      },
    });
    const text = await res.text();
    if (!res.ok) {
      let detail = `KB request failed (HTTP ${res.status})`;
      try {
        const body = JSON.parse(text);
        if (typeof body?.detail === 'string') detail = body.detail;
      } catch {
        // not JSON: keep the generic detail
      }
      return JSON.stringify({ error: detail });
    }
    return text;
  }

  async run(user: User, call: ToolCall): Promise<string> {
    const a = args(call);
    try {
      switch (call.name) {
        case 'search_knowledge_base':
          return await this.call(user, '/api/v0.2/kb/search', str(a.query));
        case 'load_kos_context': {
          const type = str(a.context_type);
          if (type === 'active-threads') return await this.call(user, '/api/v0.2/kb/threads', '');
          if (type === 'project-context' && str(a.project))
            return await this.call(user, '/api/v0.2/kb/context', str(a.project));
          return await this.call(user, '/api/v0.2/kb/search', KOS_TERMS[type] ?? type);
        }
        case 'read_kb_file':
          return await this.call(user, '/api/v0.2/kb/read', str(a.path));
        case 'list_kb_directory':
          return await this.call(user, '/api/v0.2/kb/list', str(a.path, '/'));
        case 'load_kb_context':
          return await this.call(user, '/api/v0.2/kb/context', str(a.topic));
        case 'synthesize_kb_information': {
          const sources = Array.isArray(a.sources) ? a.sources.filter((s) => typeof s === 'string') : [];
          return await this.call(user, '/api/v0.2/kb/synthesize', sources.join(','));
        }
        default:
          return JSON.stringify({ error: `Unknown tool: ${call.name}` });
      }
    } catch (err) {
      this.log.warn('kb tool failed', { tool: call.name, error: (err as Error).message });
      return JSON.stringify({ error: 'The knowledge base is not reachable right now.' });
    }
  }
}
