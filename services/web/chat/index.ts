/**
 * The chat page and conversation view, New Chat, sending a message and the reply stream.
 * The web service stores nothing itself: chat persists every exchange.
 */
import { Elysia } from 'elysia';
import { htmlAnswer, json, readForm, toast, triggers, type WebContext } from '../context.ts';
import { GatewayUnreachable } from '../gateway-client.ts';
import { html } from '../html.ts';
import type { Kit } from '../kit.ts';
import { box, documentPage } from '../layout.ts';
import {
  currentPersona,
  listConversations,
  listPersonas,
  loadConversation,
  type PersonaNames,
  titleFor,
} from './service.ts';
import { relayChatStream } from './stream.ts';
import { chatPage, chatView, loadingBubble, userBubble } from './views.ts';

/**
 * What a conversation id can look like. Anything else (`a/b`, NUL, dots) is no conversation at all and gets
 * the ordinary 404 page without asking the gateway.
 */
const CONVERSATION_ID = /^[A-Za-z0-9_-]{1,128}$/;

function randomTurn(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(4))).toString('hex');
}

export function chatRoutes(kit: Kit, personaNames: PersonaNames) {
  const { config } = kit.s;
  const maxChars = config.chat.maxMessageChars;

  /** The chat page, or only `#chat-view` for htmx. */
  const render = async (ctx: WebContext, id: string | null): Promise<Response> => {
    const s = ctx.requireSession();
    let view: ReturnType<typeof chatView>;
    let status = 200;
    if (id === null) view = chatView({ conversationId: null, name: s.name, maxChars });
    else {
      const loaded = await loadConversation(ctx, id);
      if (loaded.found)
        view = chatView({ conversationId: id, name: s.name, messages: loaded.messages, maxChars });
      else {
        view = chatView({ conversationId: null, name: s.name, notFound: true, maxChars });
        // htmx swaps only 2xx answers; a full page says what it is.
        if (!ctx.isHtmx) status = 404;
      }
    }
    if (ctx.isHtmx) return htmlAnswer(view, { status });
    const [list, personas, current] = await Promise.all([
      listConversations(ctx, 0, config.web.conversationPageSize),
      listPersonas(ctx),
      currentPersona(ctx),
    ]);
    const page = chatPage({
      email: s.email,
      list,
      activeId: id,
      personas,
      currentPersonaId: current?.id ?? null,
      view,
    });
    return htmlAnswer(
      documentPage(page, { debug: config.debug, streamTimeoutS: config.web.streamTimeoutS }),
      {
        status,
      },
    );
  };

  const stream = async (ctx: WebContext, message: string, conversationId: string) =>
    relayChatStream(ctx, {
      message,
      conversationId,
      persona: await personaNames.get(ctx).catch(() => null),
      timeoutS: config.web.streamTimeoutS,
    });

  return (
    new Elysia({ name: 'gaia-web-chat' })
      .get(
        '/chat',
        kit.handler('page', (ctx) => render(ctx, null)),
      )
      .get(
        '/chat/:id',
        kit.handler('page', (ctx, p) => {
          const id = p.id ?? '';
          if (!CONVERSATION_ID.test(id)) return kit.notFound(ctx.request);
          return render(ctx, id);
        }),
      )
      .post(
        '/chat/new',
        kit.handler('fragment', (ctx) => {
          const s = ctx.requireSession();
          // The empty view is the feedback; a toast for it would only cover the page.
          return htmlAnswer(chatView({ conversationId: null, name: s.name, maxChars }), {
            headers: { 'hx-push-url': '/chat' },
          });
        }),
        { parse: 'none' },
      )
      .post(
        '/api/chat/send',
        kit.handler('fragment', async (ctx) => {
          const form = await readForm(ctx.request);
          const message = (form.message ?? '').trim();
          const warn = (text: string) =>
            htmlAnswer('', {
              headers: { 'hx-reswap': 'none', 'hx-trigger': triggers(toast(text, 'warning')) },
            });
          if (!message) return warn('Please enter a message.');
          if (message.length > maxChars) return warn(`Message is too long (max ${maxChars} characters).`);

          let conversationId = (form.conversation_id ?? '').trim();
          let created = false;
          if (!conversationId) {
            let failure: string | null = null;
            try {
              const { res, body } = await ctx.apiJson<{ id?: string }>('/api/v1/conversations', {
                json: { title: titleFor(message) },
              });
              if (res.ok && body?.id) conversationId = body.id;
              else failure = '⚠️ Failed to send message. Please try again.';
            } catch (err) {
              if (!(err instanceof GatewayUnreachable)) throw err;
              failure = 'Connection error. Please try again.';
            }
            if (failure)
              return htmlAnswer(html`<div class="mb-4" data-role="error">${box('error', failure)}</div>`, {
                headers: { 'hx-trigger': triggers(toast(failure.replace(/^⚠️ /, ''), 'error')) },
              });
            created = true;
          }

          const turn = randomTurn();
          const now = new Date().toISOString();
          const body = html`${userBubble(message, now)}
${loadingBubble(turn, conversationId, message)}
<input type="hidden" id="conversation-id-input" name="conversation_id" value="${conversationId}" hx-swap-oob="true">
<div id="welcome-message" hx-swap-oob="delete"></div>`;
          // The message on the page says it was sent: no toast for ordinary success.
          const headers: Record<string, string> = {
            'hx-trigger': triggers({ 'gaia:conversations-changed': true }),
          };
          if (created) headers['hx-push-url'] = `/chat/${conversationId}`;
          return htmlAnswer(body, { headers });
        }),
        { parse: 'none' },
      )
      // Only POST: a stream posts a message, and a GET could be started by any page the user visits (a link,
      // an <img>, a top-level navigation all carry a SameSite=Lax cookie). POST gets the origin check.
      .post(
        '/api/chat/stream',
        kit.handler('stream', async (ctx) => {
          // Browsers say where a request comes from: one that another site started is refused even when
          // it carries no Origin the kit could check.
          const site = ctx.request.headers.get('sec-fetch-site');
          if (site && site !== 'same-origin' && site !== 'none') return json({ detail: 'Forbidden' }, 403);
          const form = await readForm(ctx.request);
          return stream(ctx, form.message ?? '', (form.conversation_id ?? '').trim());
        }),
        { parse: 'none' },
      )
  );
}
