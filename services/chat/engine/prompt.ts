/**
 * Prompt assembly: the persona's system prompt with its tools section, the
 * directive block for v0.3 clients, scenario blocks, and history trimmed to the model's context.
 */
import type { PromptMessage, ToolDef } from '../providers/types.ts';
import type { OfferedTool } from '../tools/types.ts';

/** 4 characters ≈ 1 token. */
export const estimateTokens = (text: string): number => Math.ceil(text.length / 4);

export const DIRECTIVE_BLOCK = [
  "Client directives: when something should happen in the player's app (an effect, a character, a scene",
  'change), you may embed one compact JSON directive in your reply, exactly in the form {"m":"<name>","p":{...}},',
  'for example {"m":"spawn_character","p":{"type":"fairy","position":[0,0,2]}}. Write it on one line, inside',
  'your text where it should happen; the app extracts and runs it, so never explain it to the user.',
].join(' ');

export function toolsSection(tools: ToolDef[], directives: boolean): string {
  const parts: string[] = [];
  if (tools.length) {
    parts.push(
      [
        tools.every((t) => (t as Partial<OfferedTool>).source === 'kb')
          ? 'You can use these tools to look things up in the knowledge base:'
          : 'You can use these tools:',
        ...tools.map((t) => `- ${t.name}: ${t.description}`),
      ].join('\n'),
    );
  }
  if (directives) parts.push(DIRECTIVE_BLOCK);
  return parts.join('\n\n');
}

/**
 * Replaces every literal `{tools_section}` (other braces stay as written) or appends a non-empty section
 * after a blank line; an empty section leaves no trailing whitespace. The stored prompt is never changed.
 */
export function applyToolsSection(prompt: string, section: string): string {
  if (prompt.includes('{tools_section}')) return prompt.split('{tools_section}').join(section).trimEnd();
  if (section === '') return prompt.trimEnd();
  return `${prompt.trimEnd()}\n\n${section}`;
}

export function buildSystemPrompt(opts: {
  persona: string | null;
  tools: ToolDef[];
  directives: boolean;
  scenario?: string;
  /** `/v1`: the caller's own system messages come after the persona's prompt. */
  callerSystem?: string;
}): string {
  const parts: string[] = [];
  if (opts.persona !== null)
    parts.push(applyToolsSection(opts.persona, toolsSection(opts.tools, opts.directives)));
  if (opts.scenario) parts.push(opts.scenario);
  if (opts.callerSystem) parts.push(opts.callerSystem);
  return parts.filter((p) => p !== '').join('\n\n');
}

/**
 * Drops the oldest history turns until history + message + max_tokens fit the context, and merges
 * consecutive same-role turns (providers that need alternation get it; the others lose nothing).
 */
export function fitHistory(history: PromptMessage[], budgetTokens: number): PromptMessage[] {
  const kept: PromptMessage[] = [];
  let used = 0;
  for (let i = history.length - 1; i >= 0; i--) {
    const cost = estimateTokens(history[i]!.content);
    if (used + cost > budgetTokens) break;
    used += cost;
    kept.unshift(history[i]!);
  }
  return mergeSameRole(kept);
}

export function mergeSameRole(messages: PromptMessage[]): PromptMessage[] {
  const out: PromptMessage[] = [];
  for (const m of messages) {
    const last = out.at(-1);
    if (
      last &&
      last.role === m.role &&
      m.role !== 'tool' &&
      !('toolCalls' in last && last.toolCalls?.length)
    ) {
      // An assistant turn's tool calls survive the merge: the tool results that follow answer them.
      const calls = m.role === 'assistant' ? m.toolCalls : undefined;
      out[out.length - 1] = {
        ...last,
        content: `${last.content}\n\n${m.content}`,
        ...(calls?.length ? { toolCalls: calls } : {}),
      } as PromptMessage;
    } else out.push(m);
  }
  return out;
}
