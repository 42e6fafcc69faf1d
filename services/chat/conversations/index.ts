/**
 * `/api/v1/conversations` and `/api/v0.3/conversations`. Both families see the same
 * rows; every `{id}` route is 404 for a missing, malformed, deleted or foreign id.
 */
import { Elysia } from 'elysia';
import { jsonResponse } from '../../../src/http/errors.ts';
import { requireUser } from '../../../src/http/service.ts';
import { validate } from '../../../src/http/validate.ts';
import type { ChatContext } from '../context.ts';
import {
  CreateBody,
  conversationJson,
  intParam,
  messageJson,
  RenameBody,
  searchParam,
  titleParam,
} from './model.ts';

/** An empty body is a valid create; anything else must be an object. */
const bodyOrEmpty = (body: unknown) => (body === null || body === undefined ? {} : body);

export function conversationRoutes(ctx: ChatContext) {
  const store = ctx.conversations;
  const listArgs = (query: Record<string, string | undefined>) => ({
    limit: intParam(query, 'limit', { dflt: 100, min: 1, max: 500 }),
    offset: intParam(query, 'offset', { dflt: 0, min: 0, max: Number.MAX_SAFE_INTEGER }),
    q: searchParam(query),
  });

  return new Elysia({ name: 'chat-conversations' })
    .use(ctx.kernel)
    .post('/api/v1/conversations', async ({ body, identity }) => {
      const user = requireUser(identity);
      const input = validate(CreateBody, bodyOrEmpty(body));
      const row = await store.create(user.id, titleParam(input.title, false));
      return jsonResponse(conversationJson(row), 201);
    })
    .get('/api/v1/conversations', async ({ identity, query }) => {
      const user = requireUser(identity);
      const { rows, total } = await store.list(user.id, listArgs(query));
      return jsonResponse({ conversations: rows.map(conversationJson) }, 200, {
        'x-total-count': String(total),
      });
    })
    .get('/api/v1/conversations/stats', async ({ identity }) => {
      const user = requireUser(identity);
      return jsonResponse(await store.stats(user.id));
    })
    .get('/api/v1/conversations/:conversation_id', async ({ identity, params }) => {
      const user = requireUser(identity);
      return jsonResponse(conversationJson(await store.requireOwned(user.id, params.conversation_id)));
    })
    .get('/api/v1/conversations/:conversation_id/messages', async ({ identity, params, query }) => {
      const user = requireUser(identity);
      const conv = await store.requireOwned(user.id, params.conversation_id);
      const rows = await store.messages(conv.id, {
        limit: intParam(query, 'limit', { dflt: 1000, min: 1, max: 1000 }),
        offset: intParam(query, 'offset', { dflt: 0, min: 0, max: Number.MAX_SAFE_INTEGER }),
      });
      return jsonResponse({ messages: rows.map(messageJson) });
    })
    .put('/api/v1/conversations/:conversation_id', async ({ identity, params, body }) => {
      const user = requireUser(identity);
      // Ownership first: a foreign id is 404 even with a bad body.
      await store.requireOwned(user.id, params.conversation_id);
      const input = validate(RenameBody, bodyOrEmpty(body));
      const row = await store.rename(user.id, params.conversation_id, titleParam(input.title, true));
      return jsonResponse(conversationJson(row));
    })
    .delete('/api/v1/conversations/:conversation_id', async ({ identity, params }) => {
      const user = requireUser(identity);
      await store.softDelete(user.id, params.conversation_id);
      return new Response(null, { status: 204 });
    })
    .get('/api/v0.3/conversations', async ({ identity, query }) => {
      const user = requireUser(identity);
      const { rows, total } = await store.list(user.id, listArgs(query));
      return jsonResponse(
        {
          conversations: rows.map((c) => ({
            conversation_id: c.id,
            title: c.title,
            created_at: c.createdAt.toISOString(),
          })),
        },
        200,
        { 'x-total-count': String(total) },
      );
    })
    .post('/api/v0.3/conversations', async ({ body, identity }) => {
      const user = requireUser(identity);
      const input = validate(CreateBody, bodyOrEmpty(body));
      const row = await store.create(user.id, titleParam(input.title, false));
      return jsonResponse({ conversation_id: row.id, title: row.title }, 201);
    });
}
