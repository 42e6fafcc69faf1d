/**
 * `/v1/chat/completions`, `/v1/models`, `/v1/models/{id}`: what the official
 * OpenAI SDKs need with `baseURL: "<gateway>/v1"`. Also serves the `messages` form of the legacy
 * `/api/v1/chat/completions`, where `model` is optional.
 */
import { Elysia } from 'elysia';
import { jsonResponse } from '../../../src/http/errors.ts';
import { requireUser, type User } from '../../../src/http/service.ts';
import { type ChatContext, requestIdHeader } from '../context.ts';
import { OWNED_BY } from '../models/registry.ts';
import { chatcmplId, streamTurn } from '../streaming/service.ts';
import {
  completionJson,
  markLegacyFunctions,
  modelNotFound,
  modelObject,
  openaiFailure,
  parseOpenAI,
  refuseToolsOnLocal,
  toOpenAIError,
  turnFromOpenAI,
} from './service.ts';

export async function handleOpenAICompletion(
  ctx: ChatContext,
  opts: {
    user: User;
    body: unknown;
    request: Request;
    endpoint: string;
    modelRequired: boolean;
    rid?: string;
  },
): Promise<Response> {
  const { engine, providers, deps } = ctx;
  try {
    const parsed = parseOpenAI(opts.body, { modelRequired: opts.modelRequired });
    let model: Awaited<ReturnType<typeof providers.registry.find>>;
    if (parsed.modelId !== null) {
      model = await providers.registry.find(parsed.modelId);
      if (!model) throw modelNotFound(parsed.modelId);
    }
    const request = turnFromOpenAI(opts.user, opts.endpoint, parsed, model);
    if (parsed.legacyFunctions) markLegacyFunctions(request);
    // A named model is checked before anything else happens; an unnamed one once the engine has chosen it.
    if (model) refuseToolsOnLocal(parsed, model);
    const turn = await engine.prepare(request);
    if (!model)
      try {
        refuseToolsOnLocal(parsed, turn.model);
      } catch (err) {
        turn.release();
        throw err;
      }
    const headers = requestIdHeader(opts.rid);
    if (parsed.stream)
      return streamTurn({
        config: deps.config,
        log: deps.log,
        engine,
        turn,
        family: 'openai',
        request: opts.request,
        includeUsage: parsed.includeUsage,
        headers,
      });
    const result = await engine.run(turn);
    if (result.status === 'failed') throw openaiFailure(result);
    return jsonResponse(
      completionJson(chatcmplId(), result, { legacyFunctions: parsed.legacyFunctions }),
      200,
      headers,
    );
  } catch (err) {
    throw toOpenAIError(err);
  }
}

export function openaiRoutes(ctx: ChatContext) {
  const registry = ctx.providers.registry;
  const auth = (identity: Parameters<typeof requireUser>[0]) => {
    try {
      return requireUser(identity);
    } catch (err) {
      throw toOpenAIError(err);
    }
  };
  return new Elysia({ name: 'chat-openai' })
    .use(ctx.kernel)
    .post('/v1/chat/completions', async ({ body, identity, request }) =>
      handleOpenAICompletion(ctx, {
        user: auth(identity),
        body,
        request,
        endpoint: '/v1/chat/completions',
        modelRequired: true,
        rid: identity.rid,
      }),
    )
    .get('/v1/models', async ({ identity }) => {
      auth(identity);
      const models = await registry.list();
      return jsonResponse({ object: 'list', data: models.map((m) => modelObject(m, OWNED_BY[m.provider])) });
    })
    .get('/v1/models/:model', async ({ identity, params }) => {
      auth(identity);
      const m = await registry.find(params.model);
      if (!m) throw modelNotFound(params.model);
      return jsonResponse(modelObject(m, OWNED_BY[m.provider]));
    });
}
