/**
 * The persona form's "Tools" field: what people type, turned into the `tools` value the chat service takes,
 * and back again for editing and for the cards.
 *
 * Three meanings have to stay apart: no list at all (the chat gets the default knowledge-base tools), an
 * empty list (no tools), and a list of names or globs. An empty field means the first; the "No tools"
 * checkbox the second, because a blank field cannot say "nothing" and "default" at once, and a magic word
 * like `none` could collide with a real tool's name.
 */
import { MAX_PERSONA_TOOLS, MAX_TOOL_PATTERN_LENGTH, TOOL_PATTERN } from '../../chat/personas/model.ts';

export type ToolsValue = string[] | null;

/** Entries are separated by commas, new lines or spaces (none of which a tool name may contain). */
export function parseToolsField(text: string, noTools: boolean): { tools: ToolsValue } | { error: string } {
  const entries: string[] = [];
  for (const entry of text.split(/[\s,]+/)) if (entry && !entries.includes(entry)) entries.push(entry);
  if (noTools) {
    if (entries.length > 0) return { error: 'Either list tools or tick "No tools", not both.' };
    return { tools: [] };
  }
  if (entries.length === 0) return { tools: null };
  if (entries.length > MAX_PERSONA_TOOLS)
    return { error: `A persona can list at most ${MAX_PERSONA_TOOLS} tools (${entries.length} given).` };
  for (const entry of entries) {
    if (entry.length > MAX_TOOL_PATTERN_LENGTH)
      return { error: `Tool names are at most ${MAX_TOOL_PATTERN_LENGTH} characters long.` };
    if (!TOOL_PATTERN.test(entry))
      return {
        error: `"${entry}" is not a tool name: use letters, digits and the characters _ : * - only.`,
      };
  }
  return { tools: entries };
}

/** The field's text for a stored value: one entry per line, empty for no list (and for `[]`, see the box). */
export const toolsFieldText = (tools: ToolsValue | undefined): string => (tools ?? []).join('\n');
