/**
 * `/api/v0.2/chat`, `/api/v0.2/chat/stream`, `/api/v1/chat/completions` and the legacy v1 variants, status,
 * history and reload-prompt routes.
 */
import { Elysia } from 'elysia';
import { isPlainObject } from '../../../src/http/body.ts';
import { jsonResponse } from '../../../src/http/errors.ts';
import { requireUser, type User } from '../../../src/http/service.ts';
import { type ChatContext, requestIdHeader } from '../context.ts';
import type { HistoryMode, TurnRequest, TurnResult } from '../engine/pipeline.ts';
import { handleOpenAICompletion } from '../openai-compat/index.ts';
import { type ScenarioTeam, TEAMS } from '../scenarios/teams.ts';
import { metadataOf, streamTurn } from '../streaming/service.ts';
import { failureError } from '../unified/service.ts';
import { chatResponseJson, parseChatRequest, shapeA, turnFromChatRequest } from './service.ts';

type Variant = {
  path: string;
  history: 'session' | 'conversation' | 'none';
  sessionLimit?: number;
  maxTokens?: number;
  tools?: boolean;
  agents?: ScenarioTeam;
  shape: (ctx: {
    a: ReturnType<typeof shapeA>;
    meta: Record<string, unknown>;
    ms: number;
    llmMs: number;
    conversationId: string | null;
    contextMessages: number;
    historyLength: number;
    text: string;
    model: string;
    result: TurnResult;
  }) => Record<string, unknown>;
};

const VARIANTS: Variant[] = [
  { path: 'direct', history: 'session', shape: (c) => ({ ...c.a, _response_time_ms: c.ms }) },
  { path: 'mcp-agent-hot', history: 'session', shape: (c) => ({ ...c.a, _response_time_ms: c.ms }) },
  { path: 'mcp-agent', history: 'session', shape: (c) => c.a },
  { path: 'orchestrated', history: 'session', tools: true, shape: (c) => ({ ...c.a, _metadata: c.meta }) },
  {
    path: 'direct-db',
    history: 'conversation',
    shape: (c) => ({ ...c.a, conversation_id: c.conversationId }),
  },
  ...Object.values(TEAMS).map(
    (team): Variant => ({
      path: team.type,
      history: 'none',
      agents: team,
      shape: (c) => ({
        ...c.a,
        _scenario: c.result.scenario ?? { scenario_type: team.type, mode: 'single_model' },
      }),
    }),
  ),
  {
    path: 'ultrafast',
    history: 'none',
    maxTokens: 500,
    shape: (c) => ({ response: c.text, model: c.model, response_time_ms: c.ms }),
  },
  ...['ultrafast-redis', 'ultrafast-redis-v2', 'ultrafast-redis-v3'].map(
    (p): Variant => ({
      path: p,
      history: 'session',
      sessionLimit: 10,
      maxTokens: 500,
      shape: (c) => ({
        response: c.text,
        model: c.model,
        response_time_ms: c.ms,
        api_time_ms: c.llmMs,
        context_messages: c.contextMessages,
        history_length: c.historyLength,
      }),
    }),
  ),
];

export function legacyRoutes(ctx: ChatContext) {
  const { engine, deps, sessions } = ctx;
  const config = deps.config;

  /** v0.2 chat, streaming or not; `forceStream` for `/api/v0.2/chat/stream`. */
  const v02 = async (
    user: User,
    body: unknown,
    request: Request,
    rid: string,
    endpoint: string,
    forceStream: boolean,
  ) => {
    const req = parseChatRequest(config, body);
    // The v0.2 chat paths run the persona's tools like the rest of the unified family; the `message` form of
    // `/api/v1/chat/completions` stays a plain completion.
    const turn = await engine.prepare(
      turnFromChatRequest(config, user, endpoint, req, { tools: endpoint.startsWith('/api/v0.2/') }),
    );
    const headers = requestIdHeader(rid);
    if (forceStream || req.stream === true)
      return streamTurn({ config, log: deps.log, engine, turn, family: 'multi', request, headers });
    const result = await engine.run(turn);
    if (result.status === 'failed') throw failureError(result);
    return jsonResponse(chatResponseJson(turn, result), 200, headers);
  };

  let app = new Elysia({ name: 'chat-legacy' })
    .use(ctx.kernel)
    .post('/api/v0.2/chat', ({ body, identity, request }) =>
      v02(requireUser(identity), body, request, identity.rid, '/api/v0.2/chat', false),
    )
    .post('/api/v0.2/chat/stream', ({ body, identity, request }) =>
      v02(requireUser(identity), body, request, identity.rid, '/api/v0.2/chat/stream', true),
    )
    .post('/api/v1/chat/completions', ({ body, identity, request }) => {
      const user = requireUser(identity);
      // The OpenAI `messages` form is the true OpenAI surface; `message` is the old ChatRequest.
      if (isPlainObject(body) && Array.isArray(body.messages))
        return handleOpenAICompletion(ctx, {
          user,
          body,
          request,
          endpoint: '/api/v1/chat/completions',
          modelRequired: false,
          rid: identity.rid,
        });
      return v02(user, body, request, identity.rid, '/api/v1/chat/completions', false);
    });

  for (const v of VARIANTS) {
    app = app.post(`/api/v1/chat/${v.path}`, async ({ body, identity, query }) => {
      const user = requireUser(identity);
      const req = parseChatRequest(config, body);
      let history: HistoryMode;
      if (v.history === 'conversation') {
        const id =
          typeof query.conversation_id === 'string' && query.conversation_id !== ''
            ? query.conversation_id
            : req.conversation_id;
        history = {
          kind: 'conversation',
          id: id === undefined || id === null || id === '' || id === 'new' ? null : id,
        };
      } else if (v.history === 'session') history = { kind: 'session', limit: v.sessionLimit };
      else history = { kind: 'none' };
      const over: Partial<TurnRequest> = { history, tools: v.tools ?? false, agents: v.agents };
      if (v.maxTokens) over.maxTokens = Math.min(req.max_tokens ?? v.maxTokens, v.maxTokens);
      const contextBefore = v.history === 'session' ? sessions.get(user.id).length : 0;
      const turn = await engine.prepare(
        turnFromChatRequest(config, user, `/api/v1/chat/${v.path}`, req, over),
      );
      const result = await engine.run(turn);
      if (result.status === 'failed') throw failureError(result);
      return jsonResponse(
        v.shape({
          a: shapeA(turn, result),
          meta: metadataOf(turn, result, { conversation: false }),
          ms: result.totalMs,
          llmMs: result.llmMs,
          conversationId: turn.conversation?.id ?? null,
          contextMessages: v.sessionLimit ? Math.min(contextBefore, v.sessionLimit) : contextBefore,
          historyLength: sessions.get(user.id).length,
          text: result.text,
          model: result.model.id,
          result,
        }),
        200,
        requestIdHeader(identity.rid),
      );
    });
  }

  for (const version of ['v1', 'v0.2'] as const) {
    const extra = version === 'v0.2' ? { api_version: '0.2' } : {};
    app = app
      .get(`/api/${version}/chat/status`, ({ identity }) => {
        const user = requireUser(identity);
        const n = sessions.get(user.id).length;
        return jsonResponse({ message_count: n, has_history: n > 0, ...extra });
      })
      .delete(`/api/${version}/chat/history`, ({ identity }) => {
        const user = requireUser(identity);
        sessions.clear(user.id);
        return jsonResponse({ status: 'success', cleared: ['memory'], ...extra });
      })
      .post(`/api/${version}/chat/reload-prompt`, ({ identity }) => {
        requireUser(identity);
        // Prompts are resolved per call, so there is nothing cached to reload.
        return jsonResponse({ status: 'success', message: 'System prompt reloaded successfully', ...extra });
      });
  }
  return app;
}
