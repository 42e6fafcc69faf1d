/**
 * `POST /api/v1/chat` (unified) and `POST /api/v0.3/chat` (clean, Unity).
 */
import { Elysia } from 'elysia';
import { jsonResponse } from '../../../src/http/errors.ts';
import { requireUser } from '../../../src/http/service.ts';
import { type ChatContext, requestIdHeader } from '../context.ts';
import { streamTurn } from '../streaming/service.ts';
import {
  failureError,
  parseClean,
  parseUnified,
  unifiedOpenAIResponse,
  unifiedV03Response,
} from './service.ts';

export function unifiedRoutes(ctx: ChatContext) {
  const { engine, deps } = ctx;
  return new Elysia({ name: 'chat-unified' })
    .use(ctx.kernel)
    .post('/api/v1/chat', async ({ body, identity, request }) => {
      const user = requireUser(identity);
      const parsed = parseUnified(deps.config, user, body, request.headers.get('x-response-format'));
      const turn = await engine.prepare(parsed.turn);
      const headers = requestIdHeader(identity.rid);
      if (parsed.stream)
        return streamTurn({
          config: deps.config,
          log: deps.log,
          engine,
          turn,
          family: 'unified',
          request,
          headers,
        });
      const result = await engine.run(turn);
      if (result.status === 'failed') throw failureError(result);
      const payload =
        parsed.format === 'v0.3' ? unifiedV03Response(turn, result) : unifiedOpenAIResponse(turn, result);
      return jsonResponse(payload, 200, headers);
    })
    .post('/api/v0.3/chat', async ({ body, identity, request }) => {
      const user = requireUser(identity);
      const parsed = parseClean(deps.config, user, body);
      const turn = await engine.prepare(parsed.turn);
      const headers = requestIdHeader(identity.rid);
      if (parsed.stream)
        return streamTurn({
          config: deps.config,
          log: deps.log,
          engine,
          turn,
          family: 'clean',
          request,
          toolEvents: parsed.toolEvents,
          headers,
        });
      const result = await engine.run(turn);
      if (result.status === 'failed') throw failureError(result);
      return jsonResponse(
        { response: result.text, conversation_id: turn.conversation?.id ?? null },
        200,
        headers,
      );
    });
}
