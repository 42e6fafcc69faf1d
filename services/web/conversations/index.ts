/**
 * The sidebar's conversation list: paging, delete and search. Every answer fills
 * `#conversation-list` with items only; the open conversation (from `HX-Current-URL`) stays highlighted.
 */
import { Elysia } from 'elysia';
import { listConversations } from '../chat/service.ts';
import { chatView, conversationItems, searchStatus } from '../chat/views.ts';
import { htmlAnswer, toast, triggers } from '../context.ts';
import { html } from '../html.ts';
import type { Kit } from '../kit.ts';

function offsetOf(v: string | null): number {
  const n = Number(v ?? 0);
  return Number.isInteger(n) && n >= 0 ? n : 0;
}

export function conversationRoutes(kit: Kit) {
  const { config } = kit.s;
  const size = config.web.conversationPageSize;

  return new Elysia({ name: 'gaia-web-conversations' })
    .get(
      '/api/conversations',
      kit.handler('fragment', async (ctx) => {
        const q = (ctx.url.searchParams.get('q') ?? '').trim().slice(0, 200) || undefined;
        const page = await listConversations(ctx, offsetOf(ctx.url.searchParams.get('offset')), size, q);
        return htmlAnswer(conversationItems(page, ctx.currentConversationId(), undefined, q));
      }),
    )
    .delete(
      '/api/conversations/:id',
      kit.handler('fragment', async (ctx, p) => {
        const id = p.id ?? '';
        const failed = () =>
          htmlAnswer('', {
            headers: {
              'hx-reswap': 'none',
              'hx-trigger': triggers(toast('Failed to delete conversation. Please try again.', 'error')),
            },
          });
        let ok = false;
        try {
          const res = await ctx.api(`/api/v1/conversations/${encodeURIComponent(id)}`, { method: 'DELETE' });
          await res.body?.cancel();
          // Already gone counts as done.
          ok = res.ok || res.status === 404;
        } catch (err) {
          if ((err as Error).name === 'Unauthenticated') throw err;
          ok = false;
        }
        if (!ok) return failed();
        const current = ctx.currentConversationId();
        const wasOpen = current === id;
        const page = await listConversations(ctx, 0, size);
        const headers: Record<string, string> = {
          'hx-trigger': triggers(toast('Conversation deleted', 'success')),
        };
        if (wasOpen) headers['hx-push-url'] = '/chat';
        const s = ctx.requireSession();
        const body = html`${conversationItems(page, wasOpen ? null : current)}${
          wasOpen
            ? chatView({
                conversationId: null,
                name: s.name,
                maxChars: config.chat.maxMessageChars,
                oob: true,
              })
            : null
        }`;
        return htmlAnswer(body, { headers });
      }),
      { parse: 'none' },
    )
    .get(
      '/api/search-conversations',
      kit.handler('fragment', async (ctx) => {
        const q = (ctx.url.searchParams.get('query') ?? '').trim().slice(0, 200);
        const active = ctx.currentConversationId();
        if (!q) {
          const page = await listConversations(ctx, 0, size);
          return htmlAnswer(html`${conversationItems(page, active)}${searchStatus('')}`);
        }
        const page = await listConversations(ctx, 0, size, q);
        const status = `${page.total} result${page.total === 1 ? '' : 's'} for "${q}"`;
        return htmlAnswer(
          html`${conversationItems(page, active, `No conversations found for '${q}'`, q)}${searchStatus(status)}`,
        );
      }),
    );
}
