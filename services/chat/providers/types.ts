/**
 * The provider-neutral shape every LLM adapter speaks: a prompt in, a stream of events out. Every adapter
 * streams, even for non-streaming API calls, so tokens, usage and cancellation work the same way everywhere.
 */
import type { ProviderId } from '../models/registry.ts';

export interface ToolCall {
  id: string;
  name: string;
  /** JSON text of the arguments. */
  arguments: string;
}

export interface ToolCallDelta {
  index: number;
  id?: string;
  name?: string;
  /** A fragment of the arguments' JSON text. */
  arguments?: string;
}

export type PromptMessage =
  | { role: 'user'; content: string }
  | { role: 'assistant'; content: string; toolCalls?: ToolCall[] }
  | { role: 'tool'; toolCallId: string; name: string; content: string };

export interface ToolDef {
  name: string;
  description: string;
  /** JSON Schema of the arguments. */
  parameters: Record<string, unknown>;
}

/** OpenAI's `tool_choice`, provider-neutral; each adapter translates it to its API. */
export type ToolChoice = 'none' | 'auto' | 'required' | { name: string };

export interface ProviderRequest {
  model: string;
  /** The resolved system prompt; empty means none. */
  system: string;
  messages: PromptMessage[];
  maxTokens: number;
  temperature?: number;
  topP?: number;
  stop?: string[];
  tools?: ToolDef[];
  /** Absent means the provider's default (`auto` when tools are given). */
  toolChoice?: ToolChoice;
  /** False asks for at most one call per turn; absent leaves the provider's default. */
  parallelToolCalls?: boolean;
  /** The persona's display name (the local provider quotes it). */
  personaName?: string;
  /** OpenAI-only pass-through parameters (`seed`, `user`, …) from the `/v1` surface. */
  extra?: Record<string, unknown>;
}

export type FinishReason = 'stop' | 'length' | 'tool_calls';

export type ProviderEvent =
  | { type: 'text'; text: string }
  /**
   * A fragment of a tool call as the provider streams it, for callers that forward calls live (`/v1`
   * streams). `index` orders calls within the turn; `id`/`name` come with a call's first fragment.
   * Adapters still emit the complete `tool_call` events after the stream ends.
   */
  | { type: 'tool_call_delta'; delta: ToolCallDelta }
  | { type: 'tool_call'; call: ToolCall }
  | { type: 'usage'; input?: number; output?: number }
  | { type: 'finish'; reason: FinishReason };

export interface Provider {
  readonly id: ProviderId;
  readonly supportsTools: boolean;
  /** Streams one completion; aborting `signal` aborts the upstream HTTP request. */
  stream(req: ProviderRequest, signal: AbortSignal): AsyncIterable<ProviderEvent>;
  /** An active health check that spends no tokens (the provider's model listing). */
  check(signal: AbortSignal): Promise<void>;
}
