/**
 * What the API reference shows for the chat routes. Request schemas are the ones the routes validate with;
 * answers are declared next to the code that builds them where such a module exists, the smaller ones here.
 */
import type { TSchema } from '@sinclair/typebox';
import { t } from 'elysia';
import { LEGACY_CHAT_VARIANTS } from '../../src/http/legacy-chat.ts';
import {
  CleanErrorBody,
  ErrorBody,
  Integer,
  OpenAiErrorBody,
  type RouteDocs,
} from '../../src/http/schemas.ts';
import {
  CleanConversationListSchema,
  CleanConversationSchema,
  ConversationListSchema,
  ConversationSchema,
  ConversationStatsSchema,
  CreateBody,
  ListQuery,
  MessageListSchema,
  MessagesQuery,
  RenameBody,
} from './conversations/model.ts';
import { OpenAIChatBody, OpenAIModelListSchema, OpenAIModelSchema } from './openai-compat/model.ts';
import {
  CreatePersonaBody,
  PersonaAnswerSchema,
  PersonaDeletedSchema,
  PersonaListSchema,
  PersonaSetSchema,
  SetPersonaBody,
  UpdatePersonaBody,
} from './personas/model.ts';
import {
  ChatCompletionSchema,
  ChatRequestBody,
  CLEAN_STREAM,
  CleanBody,
  CleanChatSchema,
  OPENAI_STREAM,
  UNIFIED_STREAM,
  UnifiedBody,
  UnifiedChatSchema,
  V02ChatSchema,
} from './unified/model.ts';

const Nullable = <T extends TSchema>(s: T) => t.Union([s, t.Null()]);

const Pricing = t.Object({ input_tokens_per_million: t.Number(), output_tokens_per_million: t.Number() });

const ModelInfo = t.Object({
  id: t.String(),
  name: t.String(),
  provider: t.String(),
  capabilities: t.Array(t.String()),
  max_tokens: Integer(),
  context_window: Integer(),
  pricing: Pricing,
});

const ModelList = t.Object({
  models: t.Array(ModelInfo),
  total: Integer(),
  filters: t.Object({ provider: Nullable(t.String()), capability: Nullable(t.String()) }),
});

const ModelsQuery = t.Object({
  provider: t.Optional(t.String({ description: 'Only models of this provider' })),
  capability: t.Optional(
    t.String({ description: 'Only models with this capability (chat, streaming, tools…)' }),
  ),
});

const Provider = t.Object({
  id: t.String(),
  name: t.String(),
  status: t.String(),
  health: t.String(),
  models: t.Array(t.String()),
  capabilities: t.Array(t.String()),
  default_model: Nullable(t.String()),
  last_health_check: Nullable(t.String()),
});

const ProviderList = t.Object({
  providers: t.Array(Provider),
  total_providers: Integer(),
  health_status: t.String(),
  timestamp: t.String(),
});

const ProviderModels = t.Object({
  provider: t.String(),
  models: t.Array(t.Omit(ModelInfo, ['provider'])),
  total: Integer(),
});

const ProviderHealth = t.Object({
  provider: t.String(),
  status: t.String(),
  response_time_ms: Nullable(t.Number()),
  last_check: Nullable(t.String()),
  error: Nullable(t.String()),
});

const ScratchStatus = t.Object({
  message_count: Integer(),
  has_history: t.Boolean(),
  api_version: t.Optional(t.String()),
});

const Cleared = t.Object({
  status: t.String(),
  cleared: t.Array(t.String()),
  api_version: t.Optional(t.String()),
});

const Reloaded = t.Object({ status: t.String(), message: t.String(), api_version: t.Optional(t.String()) });

const ToolList = t.Object({
  tools: t.Array(t.Object({ name: t.String(), description: t.String(), source: t.String() })),
  servers: t.Optional(
    t.Array(
      t.Object({
        name: t.String(),
        transport: t.String(),
        state: t.String(),
        error: Nullable(t.String()),
        tools: Integer(),
      }),
      { description: 'MCP servers and their state (admins only)' },
    ),
  ),
});

const UsageDay = t.Object({
  input_tokens: Integer(),
  output_tokens: Integer(),
  total_tokens: Integer(),
  cost: t.Number(),
  requests: Integer(),
});

const Usage = t.Object({
  days: Integer(),
  start_date: t.String(),
  end_date: t.String(),
  currency: t.String(),
  daily: t.Array(t.Composite([t.Object({ date: t.String() }), UsageDay])),
  totals: UsageDay,
});

const V02_STREAM =
  'Server-sent events, `data: <json>` each: OpenAI `chat.completion.chunk` objects with the text in ' +
  '`choices[0].delta.content`, then `data: [DONE]`.';

export const CHAT_OPENAPI: RouteDocs = {
  'POST /api/v1/chat': {
    body: UnifiedBody,
    response: UnifiedChatSchema,
    stream: UNIFIED_STREAM,
    description:
      'Answers in the OpenAI `chat.completion` shape, or the v0.3 shape with `X-Response-Format: v0.3`; ' +
      '`"stream": true` answers server-sent events.',
  },
  'POST /api/v1/chat/completions': { body: ChatRequestBody, response: V02ChatSchema, stream: V02_STREAM },
  'GET /api/v1/chat/status': { response: ScratchStatus },
  'DELETE /api/v1/chat/history': { response: Cleared },
  'POST /api/v1/chat/reload-prompt': { response: Reloaded },
  'GET /api/v1/chat/personas': { response: PersonaListSchema },
  'POST /api/v1/chat/personas': { body: CreatePersonaBody, response: PersonaAnswerSchema },
  'GET /api/v1/chat/tools': { response: ToolList },
  'GET /api/v1/chat/usage': {
    query: t.Object({ days: t.Optional(Integer({ minimum: 1, maximum: 366, default: 30 })) }),
    response: Usage,
  },
  'GET /api/v1/models': { query: ModelsQuery, response: ModelList },
  'POST /api/v1/conversations': { body: CreateBody, response: ConversationSchema, status: 201 },
  'GET /api/v1/conversations': { query: ListQuery, response: ConversationListSchema },
  'GET /api/v1/conversations/stats': { response: ConversationStatsSchema },
  'GET /api/v1/conversations/:conversation_id': { response: ConversationSchema },
  'GET /api/v1/conversations/:conversation_id/messages': {
    query: MessagesQuery,
    response: MessageListSchema,
  },
  'PUT /api/v1/conversations/:conversation_id': { body: RenameBody, response: ConversationSchema },
  'DELETE /api/v1/conversations/:conversation_id': { status: 204 },
  'POST /api/v0.3/chat': {
    body: CleanBody,
    response: CleanChatSchema,
    stream: CLEAN_STREAM,
    errors: t.Union([CleanErrorBody, ErrorBody]),
  },
  'GET /api/v0.3/conversations': { query: ListQuery, response: CleanConversationListSchema },
  'POST /api/v0.3/conversations': { body: CreateBody, response: CleanConversationSchema, status: 201 },
  'POST /api/v0.2/chat': { body: ChatRequestBody, response: V02ChatSchema },
  'POST /api/v0.2/chat/stream': { body: ChatRequestBody, stream: V02_STREAM },
  'GET /api/v0.2/chat/status': { response: ScratchStatus },
  'DELETE /api/v0.2/chat/history': { response: Cleared },
  'POST /api/v0.2/chat/reload-prompt': { response: Reloaded },
  'GET /api/v0.2/providers': { response: ProviderList },
  'GET /api/v0.2/providers/:provider': { response: Provider },
  'GET /api/v0.2/providers/:provider/models': { response: ProviderModels },
  'GET /api/v0.2/providers/:provider/health': {
    query: t.Object({
      refresh: t.Optional(t.Boolean({ description: 'Check now instead of the cached state' })),
    }),
    response: ProviderHealth,
  },
  'GET /api/v0.2/models': { query: ModelsQuery, response: ModelList },
  'GET /api/v0.2/models/:model_id': { response: ModelInfo },
  'GET /api/v0.2/personas': { response: PersonaListSchema },
  'GET /api/v0.2/personas/current': { response: PersonaAnswerSchema },
  'GET /api/v0.2/personas/:persona_id': { response: PersonaAnswerSchema },
  'POST /api/v0.2/personas': { body: CreatePersonaBody, response: PersonaAnswerSchema },
  'PUT /api/v0.2/personas/:persona_id': { body: UpdatePersonaBody, response: PersonaAnswerSchema },
  'DELETE /api/v0.2/personas/:persona_id': { response: PersonaDeletedSchema },
  'POST /api/v0.2/personas/set': { body: SetPersonaBody, response: PersonaSetSchema },
  'POST /api/v0.2/personas/initialize-default': { response: PersonaAnswerSchema },
  'POST /v1/chat/completions': {
    body: OpenAIChatBody,
    response: ChatCompletionSchema,
    stream: OPENAI_STREAM,
    errors: OpenAiErrorBody,
  },
  'GET /v1/models': { response: OpenAIModelListSchema, errors: OpenAiErrorBody },
  'GET /v1/models/:model': { response: OpenAIModelSchema, errors: OpenAiErrorBody },
};

// Legacy `/api/v1/chat/<variant>` routes: the v0.2 request, an OpenAI-shaped answer.
for (const v of LEGACY_CHAT_VARIANTS) {
  CHAT_OPENAPI[`POST /api/v1/chat/${v}`] = {
    body: ChatRequestBody,
    query: t.Object({ conversation_id: t.Optional(t.String({ description: 'Continue this conversation' })) }),
    response: ChatCompletionSchema,
  };
}
