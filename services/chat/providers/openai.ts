/**
 * The `openai` provider through the official SDK: OpenAI itself, or any OpenAI-compatible server (Ollama,
 * vLLM, llama.cpp, LM Studio) named by OPENAI_BASE_URL. The SDK's own retries are off: fallback between
 * providers is the engine's decision, and a retry would hide the first failure from it.
 */
import OpenAI from 'openai';
import type { Config } from '../../../src/config.ts';
import { ProviderError, toProviderError } from './errors.ts';
import { newCallId } from './ids.ts';
import type {
  FinishReason,
  PromptMessage,
  Provider,
  ProviderEvent,
  ProviderRequest,
  ToolCall,
  ToolCallDelta,
} from './types.ts';

function toOpenAIMessages(
  system: string,
  messages: PromptMessage[],
): OpenAI.Chat.ChatCompletionMessageParam[] {
  const out: OpenAI.Chat.ChatCompletionMessageParam[] = [];
  if (system) out.push({ role: 'system', content: system });
  for (const m of messages) {
    if (m.role === 'user') out.push({ role: 'user', content: m.content });
    else if (m.role === 'assistant') {
      if (m.toolCalls?.length)
        out.push({
          role: 'assistant',
          content: m.content || null,
          tool_calls: m.toolCalls.map((c) => ({
            id: c.id,
            type: 'function' as const,
            function: { name: c.name, arguments: c.arguments },
          })),
        });
      else out.push({ role: 'assistant', content: m.content });
    } else out.push({ role: 'tool', tool_call_id: m.toolCallId, content: m.content });
  }
  return out;
}

/**
 * This SDK's errors have no `name` of their own (every one says `Error`, and the compiled binary renames
 * classes), so the generic mapping took a refused or reset connection for an unknown provider failure: clients
 * read "provider error" where the Anthropic path said "provider unreachable". The classes tell them apart.
 */
function fromSdk(err: unknown): ProviderError {
  if (err instanceof OpenAI.APIConnectionTimeoutError)
    return new ProviderError('timeout', 'provider timed out');
  if (err instanceof OpenAI.APIUserAbortError) return new ProviderError('aborted', 'request aborted');
  if (err instanceof OpenAI.APIConnectionError)
    return new ProviderError('connection', 'provider unreachable');
  return toProviderError(err);
}

function finishOf(reason: string | null | undefined): FinishReason {
  if (reason === 'length') return 'length';
  if (reason === 'tool_calls' || reason === 'function_call') return 'tool_calls';
  return 'stop';
}

export function createOpenAIProvider(
  chat: Config['chat'],
): Provider & { listModels(signal: AbortSignal): Promise<string[]> } {
  const client = new OpenAI({
    // OpenAI-compatible servers often need no key, but the SDK insists on one; they ignore what it sends.
    apiKey: chat.openaiApiKey ?? 'unused',
    baseURL: chat.openaiBaseUrl,
    maxRetries: 0,
    // The engine enforces first-token, idle and total timeouts itself; this is only a backstop.
    timeout: chat.totalTimeoutMs + 5000,
  });

  async function listModels(signal: AbortSignal): Promise<string[]> {
    const ids: string[] = [];
    for await (const m of client.models.list({ signal })) ids.push(m.id);
    return ids;
  }

  return {
    id: 'openai',
    supportsTools: true,
    listModels,
    async check(signal) {
      try {
        await client.models.list({ signal });
      } catch (err) {
        throw fromSdk(err);
      }
    },
    async *stream(req: ProviderRequest, signal: AbortSignal): AsyncIterable<ProviderEvent> {
      const params: OpenAI.Chat.ChatCompletionCreateParamsStreaming = {
        ...(req.extra as object),
        model: req.model,
        messages: toOpenAIMessages(req.system, req.messages),
        stream: true,
        stream_options: { include_usage: true },
        max_tokens: req.maxTokens,
      };
      if (req.temperature !== undefined) params.temperature = req.temperature;
      if (req.topP !== undefined) params.top_p = req.topP;
      if (req.stop?.length) params.stop = req.stop;
      if (req.tools?.length) {
        params.tools = req.tools.map((t) => {
          const fn: OpenAI.FunctionDefinition = { name: t.name, parameters: t.parameters };
          if (t.description) fn.description = t.description;
          // A client's `strict` travels on its tool definition; OpenAI-style servers get it as sent.
          const strict = (t as { strict?: unknown }).strict;
          if (typeof strict === 'boolean') fn.strict = strict;
          return { type: 'function' as const, function: fn };
        });
        if (req.toolChoice !== undefined)
          params.tool_choice =
            typeof req.toolChoice === 'string'
              ? req.toolChoice
              : { type: 'function', function: { name: req.toolChoice.name } };
        if (req.parallelToolCalls !== undefined) params.parallel_tool_calls = req.parallelToolCalls;
      }

      let stream: AsyncIterable<OpenAI.Chat.ChatCompletionChunk>;
      try {
        stream = await client.chat.completions.create(params, { signal });
      } catch (err) {
        throw fromSdk(err);
      }
      // Calls by the server's index; `order` is the 0-based index the caller sees (some OpenAI-compatible
      // servers number calls oddly or not at all).
      const calls = new Map<number, ToolCall & { order: number }>();
      let finish: FinishReason | null = null;
      try {
        for await (const chunk of stream) {
          if (chunk.usage)
            yield { type: 'usage', input: chunk.usage.prompt_tokens, output: chunk.usage.completion_tokens };
          const choice = chunk.choices?.[0];
          if (!choice) continue;
          const delta = choice.delta;
          if (delta?.content) yield { type: 'text', text: delta.content };
          for (const tc of delta?.tool_calls ?? []) {
            const key = typeof tc.index === 'number' ? tc.index : calls.size;
            let cur = calls.get(key);
            const out: ToolCallDelta = { index: cur?.order ?? calls.size };
            if (!cur) {
              // Servers that give no id get one in OpenAI's shape, so the client can answer the call.
              cur = { id: tc.id || newCallId(), name: '', arguments: '', order: calls.size };
              calls.set(key, cur);
              out.id = cur.id;
            }
            if (tc.function?.name) {
              cur.name += tc.function.name;
              out.name = tc.function.name;
            }
            if (tc.function?.arguments) {
              cur.arguments += tc.function.arguments;
              out.arguments = tc.function.arguments;
            }
            if (out.id !== undefined || out.name !== undefined || out.arguments !== undefined)
              yield { type: 'tool_call_delta', delta: out };
          }
          if (choice.finish_reason) finish = finishOf(choice.finish_reason);
        }
      } catch (err) {
        throw fromSdk(err);
      }
      for (const c of [...calls.values()].sort((a, b) => a.order - b.order))
        yield { type: 'tool_call', call: { id: c.id, name: c.name, arguments: c.arguments || '{}' } };
      yield { type: 'finish', reason: finish ?? (calls.size ? 'tool_calls' : 'stop') };
    },
  };
}
