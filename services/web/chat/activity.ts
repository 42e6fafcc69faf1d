/**
 * The compact "what the assistant did" line above a reply: the tools it called (knowledge base, MCP servers,
 * the asset tool) and, for scenario replies, the specialists it asked. The same function renders the line
 * while a reply streams (from the stream's tool events) and after a reload (from the stored tool calls), so
 * both look alike.
 */
import { type Html, html } from '../html.ts';

/** One call as the page knows it; `ok`/`summary` are missing while the call is still running. */
export interface ActivityCall {
  id: string;
  name: string;
  arguments?: unknown;
  ok?: boolean;
  summary?: string;
  duration_ms?: number;
}

const VERBS: Record<string, string> = {
  search_knowledge_base: 'Searched the knowledge base',
  read_kb_file: 'Read a knowledge-base file',
  list_kb_directory: 'Listed a knowledge-base folder',
  load_kb_context: 'Loaded knowledge-base context',
  load_kos_context: 'Loaded knowledge-base context',
  synthesize_kb_information: 'Gathered knowledge-base notes',
  generate_asset: 'Generated an asset',
};

/** A scenario specialist is offered to the lead as `ask_<name>`. */
export function agentOf(name: string): string | null {
  return name.startsWith('ask_') && name.length > 4 ? name.slice(4) : null;
}

/** "Searched the knowledge base", "Asked npc voice", "Used files: read_file" (MCP `server__tool`). */
export function describeCall(name: string): string {
  const known = VERBS[name];
  if (known) return known;
  const agent = agentOf(name);
  if (agent) return `Asked ${agent.replace(/_/g, ' ')}`;
  const mcp = /^(.+?)__(.+)$/.exec(name);
  if (mcp) return `Used ${mcp[1]}: ${mcp[2]}`;
  return `Used ${name}`;
}

function argumentText(args: unknown): string {
  if (args === undefined || args === null) return '';
  if (typeof args === 'string') return args;
  try {
    return JSON.stringify(args);
  } catch {
    return '';
  }
}

function callLine(c: ActivityCall): Html {
  const state = c.ok === undefined ? 'running' : c.ok ? 'ok' : 'failed';
  const outcome = c.ok === undefined ? '…' : c.summary ? `: ${c.summary}` : c.ok ? '' : ': failed';
  const args = argumentText(c.arguments);
  const ms = typeof c.duration_ms === 'number' ? ` · ${c.duration_ms} ms` : '';
  return html`<li class="tool-call" data-tool="${c.name}" data-state="${state}"><span class="tool-label">${describeCall(c.name)}${outcome}</span>${args ? html`<code class="tool-args">${args.length > 300 ? `${args.slice(0, 300)}…` : args}</code>` : null}<span class="tool-meta">${c.name}${ms}</span></li>`;
}

/** The one-line summary: the first call's description, "+ n more" for the rest. */
function summaryText(calls: ActivityCall[]): string {
  const agents = calls.map((c) => agentOf(c.name)).filter((a): a is string => a !== null);
  if (agents.length && agents.length === calls.length)
    return `Consulted ${[...new Set(agents)].map((a) => a.replace(/_/g, ' ')).join(', ')}`;
  const first = calls[0]!;
  const outcome = first.ok === undefined ? '…' : first.summary ? `: ${first.summary}` : '';
  const more = calls.length > 1 ? ` (+${calls.length - 1} more)` : '';
  return `${describeCall(first.name)}${outcome}${more}`;
}

/** The expandable activity block, or nothing when no tool ran. */
export function activityBlock(calls: ActivityCall[] | undefined | null): Html | null {
  if (!calls?.length) return null;
  const agents = [...new Set(calls.map((c) => agentOf(c.name)).filter((a): a is string => a !== null))];
  return html`<details class="tool-activity" data-calls="${calls.length}"${agents.length ? html` data-agents="${agents.join(' ')}"` : ''}>
<summary class="tool-summary">${summaryText(calls)}</summary>
<ul class="tool-list">${calls.map(callLine)}</ul>
</details>`;
}

/** Folds a stream's `tool_call`/`tool_result` event into the list of calls shown so far. */
export function applyToolEvent(calls: ActivityCall[], ev: Record<string, unknown>): boolean {
  const id = typeof ev.id === 'string' ? ev.id : '';
  const name = typeof ev.name === 'string' ? ev.name : '';
  if (!name) return false;
  if (ev.type === 'tool_call') {
    calls.push({ id, name, arguments: ev.arguments });
    return true;
  }
  if (ev.type === 'tool_result') {
    let c = calls.find((x) => x.id === id && x.ok === undefined);
    if (!c) {
      c = { id, name };
      calls.push(c);
    }
    c.ok = ev.ok === true;
    if (typeof ev.summary === 'string') c.summary = ev.summary.slice(0, 200);
    if (typeof ev.duration_ms === 'number') c.duration_ms = ev.duration_ms;
    return true;
  }
  return false;
}
