/**
 * What the chat engine needs from anything that offers tools to a model: the KB tools, the tools of MCP
 * servers the operator configured, the asset tool and, for scenarios, other agents. Every source answers two
 * questions: which tools may this user's chat use right now, and what does this call return.
 */
import type { User } from '../../../src/http/service.ts';
import type { ToolDef } from '../providers/types.ts';

export type ToolSourceKind = 'kb' | 'mcp' | 'asset' | 'agent';

export interface OfferedTool extends ToolDef {
  source: ToolSourceKind;
  /**
   * The name a persona's `tools` list matches (besides `name`): `kb:search_knowledge_base`,
   * `github__search_issues`, `asset:generate`, `agent:npc_voice`. Model-facing names must match
   * `^[a-zA-Z0-9_-]{1,64}$`, so qualified names with a colon live here.
   */
  selector: string;
  /** The MCP server a tool belongs to. */
  server?: string;
}

export interface ToolRunContext {
  user: User;
  /** Aborted when the client leaves or the round is cancelled; sources pass it on to their I/O. */
  signal: AbortSignal;
  requestId: string;
}

export interface ToolOutcome {
  ok: boolean;
  /** The text handed back to the model as the tool result (failures: `{"error": "<text>"}`). */
  content: string;
  /** At most 200 characters for the stream's `tool_result` event ("3 results"); never holds secrets. */
  summary: string;
}

export interface ToolSource {
  readonly kind: ToolSourceKind;
  /** The tools this user's chats may use now; an unreachable backend answers [] rather than failing. */
  tools(user: User): Promise<OfferedTool[]>;
  /** Runs one call. Failures are outcomes (`ok: false`), never exceptions: a tool never fails a chat. */
  run(name: string, args: string, ctx: ToolRunContext): Promise<ToolOutcome>;
}

/** `{"error": text}` as the model sees a failed call. */
export function toolError(message: string, summary = message): ToolOutcome {
  return { ok: false, content: JSON.stringify({ error: message }), summary: clipSummary(summary) };
}

export function clipSummary(text: string): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length <= 200 ? one : `${one.slice(0, 199)}…`;
}

/** Tool arguments as an object; models send malformed JSON now and then, which reads as no arguments. */
export function parseArgs(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text || '{}');
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}
