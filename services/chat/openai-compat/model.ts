/**
 * The request of `POST /v1/chat/completions` as a TypeBox schema, for the API reference. The service parses
 * the body by hand (OpenAI's own error messages and `param` names are part of the contract), so this schema
 * describes what that parser accepts rather than being run against requests.
 */
import { t } from 'elysia';
import { Integer } from '../../../src/http/schemas.ts';

const NullableNumber = (o: { minimum: number; maximum: number }) =>
  t.Optional(t.Union([t.Number(o), t.Null()]));

const ContentPart = t.Object(
  { type: t.String(), text: t.Optional(t.String()) },
  { additionalProperties: true },
);

export const OpenAIMessage = t.Object({
  role: t.Union(['system', 'developer', 'user', 'assistant', 'tool', 'function'].map((r) => t.Literal(r))),
  content: t.Optional(t.Union([t.String(), t.Array(ContentPart), t.Null()])),
  name: t.Optional(t.String()),
  tool_calls: t.Optional(t.Union([t.Array(t.Record(t.String(), t.Unknown())), t.Null()])),
  tool_call_id: t.Optional(t.String()),
  function_call: t.Optional(t.Union([t.Record(t.String(), t.Unknown()), t.Null()])),
});

const FunctionDef = t.Object({
  name: t.String(),
  description: t.Optional(t.String()),
  parameters: t.Optional(t.Record(t.String(), t.Unknown())),
  strict: t.Optional(t.Boolean()),
});

export const OpenAIChatBody = t.Object({
  model: t.String({ description: 'An id from GET /v1/models' }),
  messages: t.Array(OpenAIMessage, { minItems: 1 }),
  stream: t.Optional(t.Union([t.Boolean(), t.Null()])),
  stream_options: t.Optional(t.Union([t.Object({ include_usage: t.Optional(t.Boolean()) }), t.Null()])),
  temperature: NullableNumber({ minimum: 0, maximum: 2 }),
  top_p: NullableNumber({ minimum: 0, maximum: 1 }),
  n: t.Optional(t.Union([t.Literal(1), t.Null()], { description: 'Only 1 is supported' })),
  stop: t.Optional(t.Union([t.String(), t.Array(t.String(), { maxItems: 4 }), t.Null()])),
  max_tokens: t.Optional(t.Union([Integer({ minimum: 1 }), t.Null()])),
  max_completion_tokens: t.Optional(t.Union([Integer({ minimum: 1 }), t.Null()])),
  tools: t.Optional(
    t.Union([t.Array(t.Object({ type: t.Literal('function'), function: FunctionDef })), t.Null()]),
  ),
  tool_choice: t.Optional(t.Unknown({ description: '`none`, `auto`, `required` or a named function' })),
  parallel_tool_calls: t.Optional(t.Union([t.Boolean(), t.Null()])),
  functions: t.Optional(t.Union([t.Array(FunctionDef), t.Null()])),
  function_call: t.Optional(t.Unknown()),
  persona_id: t.Optional(
    t.Union([t.String(), t.Null()], { description: 'Gaia extension: answer as this persona' }),
  ),
  user: t.Optional(t.String()),
  seed: t.Optional(Integer()),
  presence_penalty: t.Optional(t.Number()),
  frequency_penalty: t.Optional(t.Number()),
  logit_bias: t.Optional(t.Record(t.String(), t.Number())),
  response_format: t.Optional(t.Record(t.String(), t.Unknown())),
});

export const OpenAIModelSchema = t.Object({
  id: t.String(),
  object: t.Literal('model'),
  created: Integer(),
  owned_by: t.String(),
});

export const OpenAIModelListSchema = t.Object({
  object: t.Literal('list'),
  data: t.Array(OpenAIModelSchema),
});
