/**
 * All tool sources of one chat instance, and the rules that pick a chat's tools: a persona's `tools` list of
 * names and globs (`kb:*`, `github__*`, `asset:generate`), the KB tools alone when a persona has no list, and
 * nothing for `[]`. Calls are routed to the source that offered the name, and every result is cut to a size a
 * model's context can take.
 */
import type { User } from '../../../src/http/service.ts';
import type { Logger } from '../../../src/log.ts';
import {
  type OfferedTool,
  type ToolOutcome,
  type ToolRunContext,
  type ToolSource,
  type ToolSourceKind,
  toolError,
} from './types.ts';

/** Longest tool result handed to a model, in UTF-8 bytes; a 5 MB listing would otherwise end the turn. */
export const MAX_RESULT_BYTES = 100 * 1024;
export const TRUNCATED_MARK = '…[truncated]';

/** Cuts `text` to at most MAX_RESULT_BYTES (mark included), never inside a UTF-8 sequence. */
export function truncateResult(text: string, max = MAX_RESULT_BYTES): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= max) return text;
  const mark = new TextEncoder().encode(TRUNCATED_MARK).length;
  let end = max - mark;
  // Step back to the start of a UTF-8 sequence (continuation bytes are 10xxxxxx).
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return new TextDecoder().decode(bytes.subarray(0, end)) + TRUNCATED_MARK;
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A persona tool pattern as a matcher: `*` matches any run of characters, everything else is literal. */
export function globMatcher(pattern: string): (name: string) => boolean {
  const re = new RegExp(`^${pattern.split('*').map(escapeRe).join('.*')}$`);
  return (name) => re.test(name);
}

/** Whether a persona's `tools` list admits `tool` (by its model-facing name or its selector). */
export function admits(patterns: string[] | null, tool: OfferedTool): boolean {
  if (patterns === null) return tool.source === 'kb';
  return patterns.some((p) => {
    const m = globMatcher(p);
    return m(tool.selector) || m(tool.name);
  });
}

export class ToolRegistry {
  private readonly sources: ToolSource[] = [];
  /** Which source offered a model-facing name last; a call is routed there. */
  private readonly owner = new Map<string, ToolSource>();

  constructor(private readonly log: Logger) {}

  add(source: ToolSource): this {
    this.sources.push(source);
    return this;
  }

  has(kind: ToolSourceKind): boolean {
    return this.sources.some((s) => s.kind === kind);
  }

  /** Every tool the user's chats could use, whatever the persona (`GET /api/v1/chat/tools`). */
  all(user: User): Promise<OfferedTool[]> {
    return this.list(user, this.sources);
  }

  private async list(user: User, sources: ToolSource[]): Promise<OfferedTool[]> {
    const lists = await Promise.all(
      sources.map((s) =>
        s.tools(user).catch((err) => {
          this.log.warn('tool source failed to list its tools', {
            source: s.kind,
            error: (err as Error)?.message ?? String(err),
          });
          return [] as OfferedTool[];
        }),
      ),
    );
    const seen = new Set<string>();
    const out: OfferedTool[] = [];
    lists.forEach((list, i) => {
      for (const t of list) {
        // The first source to offer a name keeps it (KB tools first): a model cannot tell two apart.
        if (seen.has(t.name)) continue;
        seen.add(t.name);
        this.owner.set(t.name, sources[i]!);
        out.push(t);
      }
    });
    return out;
  }

  /** The tools a chat with this persona's `tools` list gets (null: the KB tools only). */
  async forPersona(user: User, patterns: string[] | null): Promise<OfferedTool[]> {
    if (patterns !== null && patterns.length === 0) return [];
    // Without a list only the KB is asked: a default chat never waits for an MCP server to connect.
    const sources = patterns === null ? this.sources.filter((s) => s.kind === 'kb') : this.sources;
    const tools = await this.list(user, sources);
    return tools.filter((t) => admits(patterns, t));
  }

  /** Runs one call on the source that offered it; the result is cut to MAX_RESULT_BYTES. */
  async run(name: string, args: string, ctx: ToolRunContext): Promise<ToolOutcome> {
    const source = this.owner.get(name);
    if (!source) return toolError(`Unknown tool: ${name}`);
    try {
      const out = await source.run(name, args, ctx);
      return { ...out, content: truncateResult(out.content) };
    } catch (err) {
      // Sources report failures as outcomes; this is the backstop for a bug in one of them.
      this.log.warn('tool call failed', { tool: name, error: (err as Error)?.message ?? String(err) });
      return toolError('The tool failed.');
    }
  }
}
