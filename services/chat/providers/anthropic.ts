/**
 * The `claude` provider through `@anthropic-ai/sdk`. The persona prompt goes in the `system` parameter (the
 * Python Gaia Platform never sent it to Claude). The Messages API wants strictly alternating roles starting
 * with `user`, so consecutive same-role turns are merged here.
 */
import Anthropic from '@anthropic-ai/sdk';
import type { Config } from '../../../src/config.ts';
import { toProviderError } from './errors.ts';
import { newCallId } from './ids.ts';
import type {
  FinishReason,
  PromptMessage,
  Provider,
  ProviderEvent,
  ProviderRequest,
  ToolCall,
  ToolChoice,
} from './types.ts';

type Block = Anthropic.Messages.ContentBlockParam;
type Turn = { role: 'user' | 'assistant'; content: Block[] };

function parseArgs(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text || '{}');
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

export function toAnthropicMessages(messages: PromptMessage[]): Anthropic.Messages.MessageParam[] {
  const turns: Turn[] = [];
  const push = (role: Turn['role'], blocks: Block[]) => {
    if (blocks.length === 0) return;
    const last = turns.at(-1);
    if (last && last.role === role) last.content.push(...blocks);
    else turns.push({ role, content: blocks });
  };
  for (const m of messages) {
    if (m.role === 'user') push('user', m.content ? [{ type: 'text', text: m.content }] : []);
    else if (m.role === 'assistant') {
      const blocks: Block[] = m.content ? [{ type: 'text', text: m.content }] : [];
      for (const c of m.toolCalls ?? [])
        blocks.push({ type: 'tool_use', id: c.id, name: c.name, input: parseArgs(c.arguments) });
      push('assistant', blocks);
    } else push('user', [{ type: 'tool_result', tool_use_id: m.toolCallId, content: m.content }]);
  }
  // The API rejects a conversation that opens with the assistant.
  while (turns[0]?.role === 'assistant') turns.shift();
  return turns.map((t) =>
    t.content.length === 1 && t.content[0]!.type === 'text'
      ? { role: t.role, content: (t.content[0] as Anthropic.Messages.TextBlockParam).text }
      : t,
  );
}

/** OpenAI's `tool_choice` and `parallel_tool_calls` as the Messages API spells them. */
export function toAnthropicToolChoice(
  choice: ToolChoice | undefined,
  parallel: boolean | undefined,
): Anthropic.Messages.ToolChoice | undefined {
  if (choice === undefined && parallel !== false) return undefined;
  if (choice === 'none') return { type: 'none' };
  const single = parallel === false ? { disable_parallel_tool_use: true } : {};
  if (choice === undefined || choice === 'auto') return { type: 'auto', ...single };
  if (choice === 'required') return { type: 'any', ...single };
  return { type: 'tool', name: choice.name, ...single };
}

function finishOf(reason: string | null | undefined): FinishReason {
  if (reason === 'max_tokens') return 'length';
  if (reason === 'tool_use') return 'tool_calls';
  return 'stop';
}

export function createAnthropicProvider(chat: Config['chat']): Provider {
  const client = new Anthropic({
    apiKey: chat.anthropicApiKey ?? '',
    baseURL: chat.anthropicBaseUrl ?? undefined,
    maxRetries: 0,
    timeout: chat.totalTimeoutMs + 5000,
  });

  return {
    id: 'claude',
    supportsTools: true,
    async check(signal) {
      try {
        await client.models.list({ limit: 1 }, { signal });
      } catch (err) {
        throw toProviderError(err);
      }
    },
    async *stream(req: ProviderRequest, signal: AbortSignal): AsyncIterable<ProviderEvent> {
      const params: Anthropic.Messages.MessageCreateParamsStreaming = {
        model: req.model,
        max_tokens: req.maxTokens,
        messages: toAnthropicMessages(req.messages),
        stream: true,
      };
      if (req.system) params.system = req.system;
      // Sampling parameters are not part of the current Messages API surface (the SDK no longer types
      // `temperature`/`top_p`), so they are accepted from clients but not sent to Claude.
      if (req.stop?.length) params.stop_sequences = req.stop;
      if (req.tools?.length) {
        params.tools = req.tools.map((t) => {
          const tool: Anthropic.Messages.Tool = {
            name: t.name,
            input_schema: t.parameters as Anthropic.Messages.Tool.InputSchema,
          };
          if (t.description) tool.description = t.description;
          return tool;
        });
        const choice = toAnthropicToolChoice(req.toolChoice, req.parallelToolCalls);
        if (choice) params.tool_choice = choice;
      }

      let stream: AsyncIterable<Anthropic.Messages.RawMessageStreamEvent>;
      try {
        stream = await client.messages.create(params, { signal });
      } catch (err) {
        throw toProviderError(err);
      }
      // Tool-use blocks by content-block index; `order` numbers the calls from 0 as OpenAI's deltas do.
      const calls = new Map<number, ToolCall & { order: number }>();
      let finish: FinishReason = 'stop';
      try {
        for await (const ev of stream) {
          switch (ev.type) {
            case 'message_start':
              yield { type: 'usage', input: ev.message.usage.input_tokens };
              break;
            case 'content_block_start':
              if (ev.content_block.type === 'tool_use') {
                const c = {
                  id: ev.content_block.id || newCallId(),
                  name: ev.content_block.name,
                  arguments: '',
                  order: calls.size,
                };
                calls.set(ev.index, c);
                yield { type: 'tool_call_delta', delta: { index: c.order, id: c.id, name: c.name } };
              }
              break;
            case 'content_block_delta':
              if (ev.delta.type === 'text_delta') yield { type: 'text', text: ev.delta.text };
              else if (ev.delta.type === 'input_json_delta') {
                const c = calls.get(ev.index);
                if (c && ev.delta.partial_json) {
                  c.arguments += ev.delta.partial_json;
                  yield {
                    type: 'tool_call_delta',
                    delta: { index: c.order, arguments: ev.delta.partial_json },
                  };
                }
              }
              break;
            case 'content_block_stop': {
              // A call without arguments streams no JSON; the client still needs a valid (empty) object.
              const c = calls.get(ev.index);
              if (c && c.arguments === '') {
                c.arguments = '{}';
                yield { type: 'tool_call_delta', delta: { index: c.order, arguments: '{}' } };
              }
              break;
            }
            case 'message_delta':
              finish = finishOf(ev.delta.stop_reason);
              if (ev.usage?.output_tokens !== undefined)
                yield { type: 'usage', output: ev.usage.output_tokens };
              break;
            default:
              break;
          }
        }
      } catch (err) {
        throw toProviderError(err);
      }
      for (const c of [...calls.values()].sort((a, b) => a.order - b.order))
        yield { type: 'tool_call', call: { id: c.id, name: c.name, arguments: c.arguments || '{}' } };
      yield { type: 'finish', reason: finish };
    },
  };
}
