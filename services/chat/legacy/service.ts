/**
 * The multi-provider family (`/api/v0.2/chat`) and the legacy v1 variants:
 * every old path runs on the same engine; only the request mapping and the response shape differ.
 */
import type { Config } from '../../../src/config.ts';
import type { User } from '../../../src/http/service.ts';
import { validate } from '../../../src/http/validate.ts';
import type { HistoryMode, PreparedTurn, TurnRequest, TurnResult } from '../engine/pipeline.ts';
import { usageBoth } from '../streaming/service.ts';
import { ChatRequestBody, cleanMessage, conversationRef, requireObject } from '../unified/model.ts';

export type ChatRequest = ReturnType<typeof parseChatRequest>;

export function parseChatRequest(config: Config, raw: unknown) {
  const body = validate(ChatRequestBody, requireObject(raw));
  return { ...body, message: cleanMessage(body.message, config.chat.maxMessageChars) };
}

export function turnFromChatRequest(
  config: Config,
  user: User,
  endpoint: string,
  req: ChatRequest,
  over: Partial<TurnRequest> & { history?: HistoryMode } = {},
): TurnRequest {
  const conv = conversationRef(req.conversation_id);
  return {
    user,
    endpoint,
    message: req.message,
    // With a conversation id the stored-conversation rules apply; otherwise the in-memory session.
    history:
      req.conversation_id !== undefined && req.conversation_id !== null
        ? { kind: 'conversation', id: conv }
        : { kind: 'session' },
    personaId: req.persona_id,
    usePersona: true,
    selection: {
      model: req.model,
      provider: req.provider,
      strictness: 'error',
      forceProvider: req.force_provider,
      autoSelect: req.auto_select_model,
      priority: req.priority,
      requiredCapabilities: req.required_capabilities,
    },
    temperature: req.temperature ?? undefined,
    maxTokens: req.max_tokens ?? undefined,
    enableFallback: req.enable_fallback ?? config.chat.enableFallback,
    directives: false,
    tools: false,
    maxResponseTimeMs: req.max_response_time_ms ?? undefined,
    ...over,
  };
}

/** The v0.2 `ChatResponse`. */
export function chatResponseJson(_turn: PreparedTurn, r: TurnResult) {
  return {
    response: r.text,
    provider: r.model.provider,
    model: r.model.id,
    usage: usageBoth(r),
    response_time_ms: r.totalMs,
    reasoning: r.reasoning,
    fallback_used: r.fallbackUsed,
    cost_usd: r.costUsd,
  };
}

/** The legacy variants' shape A: an OpenAI completion with real token counts. */
export function shapeA(turn: PreparedTurn, r: TurnResult) {
  return {
    id: turn.requestId,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: r.model.id,
    choices: [{ index: 0, message: { role: 'assistant', content: r.text }, finish_reason: r.finishReason }],
    usage: {
      prompt_tokens: r.usage.input,
      completion_tokens: r.usage.output,
      total_tokens: r.usage.input + r.usage.output,
    },
  };
}
