/** The chat page, the conversation view and its bubbles. */
import { type Html, html, type Renderable, raw } from '../html.ts';
import {
  BTN_PRIMARY,
  BTN_SECONDARY,
  box,
  INPUT,
  logo,
  PAGE_GRADIENT,
  SIDEBAR_GRADIENT,
  themeToggle,
  toastContainer,
} from '../layout.ts';
import { renderChatMarkdown } from '../markdown.ts';
import { type ActivityCall, activityBlock } from './activity.ts';

export interface Conversation {
  id: string;
  title: string;
  preview: string;
  created_at?: string;
  updated_at?: string;
}

export interface Message {
  id: string;
  role: string;
  content: string;
  created_at: string;
  status?: string;
  /** Why a partial reply ended (`client_disconnected` when the user stopped it). */
  finish_reason?: string;
  /** The tools the reply used, when chat stored any. */
  tool_calls?: ActivityCall[];
}

export interface Persona {
  id: string;
  name: string;
  description?: string;
  personality_traits?: Record<string, unknown>;
  created_by?: string;
}

export interface ConversationPage {
  items: Conversation[];
  offset: number;
  total: number;
}

/** "3:04 PM" in UTC; gaia.js rewrites `time[datetime]` into the reader's own time zone. */
export function clock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString('en-US', { hour: 'numeric', minute: '2-digit', timeZone: 'UTC' });
}

export function timeTag(iso: string): Html {
  return html`<time datetime="${iso}">${clock(iso)}</time>`;
}

/* ---------- conversation list ---------- */

const ITEM_BASE =
  'conversation-item group relative p-2 rounded-md transition-all duration-300 hover:scale-105 animate-slideInUp';
const ITEM_IDLE = 'hover:bg-slate-700/50 hover:shadow-md';
export const ITEM_ACTIVE =
  'bg-gradient-to-r from-purple-600/30 to-pink-600/30 border-l-4 border-purple-500 shadow-lg';

export function conversationItem(c: Conversation, activeId: string | null): Html {
  const active = c.id === activeId;
  const href = `/chat/${encodeURIComponent(c.id)}`;
  return html`<div class="${ITEM_BASE} ${active ? ITEM_ACTIVE : ITEM_IDLE}" data-conversation-id="${c.id}">
<a class="block" href="${href}" hx-get="${href}" hx-target="#main-content" hx-swap="innerHTML swap:200ms settle:200ms" hx-push-url="true" hx-indicator="#loading-indicator"${active ? raw(' aria-current="page"') : ''}>
<div class="text-xs text-white truncate font-medium pr-6">${c.title || 'New Conversation'}</div>
<div class="text-xs text-slate-400 truncate opacity-60">${c.preview || '\u00a0'}</div>
</a>
<button type="button" aria-label="Delete conversation" class="conversation-delete absolute top-1 right-1 w-5 h-5 rounded-full bg-red-600 hover:bg-red-500 text-white text-xs leading-none p-0 flex items-center justify-center" hx-delete="${href.replace('/chat/', '/api/conversations/')}" hx-target="#conversation-list" hx-swap="innerHTML" hx-confirm="Are you sure you want to delete this conversation? This action cannot be undone.">×</button>
</div>`;
}

/** One page of items, and "Show more" when the total says there are more. */
export function conversationItems(
  page: ConversationPage,
  activeId: string | null,
  emptyText?: Renderable,
  query?: string,
): Html {
  if (page.items.length === 0 && page.offset === 0)
    return html`<p class="text-xs text-slate-400 text-center py-4 italic">${emptyText ?? 'No conversations yet'}</p>`;
  const next = page.offset + page.items.length;
  const more =
    next < page.total
      ? html`<button type="button" id="conversation-load-more" class="${BTN_SECONDARY} w-full text-xs" hx-get="/api/conversations?offset=${next}${query ? `&q=${encodeURIComponent(query)}` : ''}" hx-target="this" hx-swap="outerHTML">Show more</button>`
      : null;
  return html`${page.items.map((c) => conversationItem(c, activeId))}${more}`;
}

export function searchStatus(text: string): Html {
  return html`<div id="search-status" class="text-xs text-slate-400 mt-1 min-h-[1rem]" hx-swap-oob="true" aria-live="polite">${text}</div>`;
}

/* ---------- bubbles ---------- */

const USER_ROW = 'flex justify-end mb-4';
const USER_BUBBLE =
  'bg-gradient-to-r from-purple-600 to-pink-600 text-white rounded-2xl rounded-br-sm px-4 py-3 max-w-[80%] ml-auto shadow-lg animate-slideInRight';
const AI_ROW = 'flex justify-start mb-4';
const AI_BUBBLE =
  'bg-slate-700 text-white rounded-2xl rounded-bl-sm px-4 py-3 max-w-[80%] shadow-lg animate-slideInLeft';

export function userBubble(text: string, iso: string, id?: string): Html {
  return html`<div class="${USER_ROW}" data-role="user"${id ? html` data-message-id="${id}"` : ''}>
<div class="${USER_BUBBLE}">
<div class="whitespace-pre-wrap break-words">${text}</div>
<div class="text-xs opacity-70 mt-1 text-right">${timeTag(iso)}</div>
</div>
</div>`;
}

/**
 * "Stopped" for a reply the user stopped (chat keeps what was written as `partial` with
 * `finish_reason: client_disconnected`: the Stop button, a closed tab or switching away), "(interrupted)"
 * for one the provider or the connection cut short.
 */
export function stoppedMark(status: string | undefined, finishReason?: string): Html | null {
  if (status === 'partial' && finishReason === 'client_disconnected')
    return html`<div class="reply-stopped text-xs text-slate-400 italic mt-1" data-stopped="true">Stopped</div>`;
  if (status === 'partial' || status === 'error')
    return html`<div class="reply-stopped text-xs text-slate-400 italic mt-1" data-stopped="interrupted">(interrupted)</div>`;
  return null;
}

export function assistantBubble(m: Message): Html {
  return html`<div class="${AI_ROW}" data-role="assistant" data-message-id="${m.id}"${m.status ? html` data-status="${m.status}"` : ''}>
<div class="${AI_BUBBLE}">
${activityBlock(m.tool_calls)}
<div class="chat-markdown break-words">${raw(renderChatMarkdown(m.content))}</div>
${stoppedMark(m.status, m.finish_reason)}
<div class="text-xs opacity-70 mt-1">${timeTag(m.created_at)}</div>
</div>
</div>`;
}

/** The placeholder gaia.js turns into the streamed reply. */
export function loadingBubble(turn: string, conversationId: string, message: string): Html {
  return html`<div id="loading-${turn}" class="${AI_ROW}" data-role="assistant" data-gaia-stream="/api/chat/stream" data-conversation-id="${conversationId}" data-turn="${turn}" data-message="${message}">
<div class="${AI_BUBBLE}">
<div class="flex items-center space-x-3">
<div class="typing-indicator" aria-hidden="true"><span class="typing-dot"></span><span class="typing-dot"></span><span class="typing-dot"></span></div>
<span class="text-sm text-slate-300">Gaia is thinking...</span>
</div>
</div>
</div>`;
}

/* ---------- chat view ---------- */

export function welcome(name: string, large = false): Html {
  return html`<div id="welcome-message" class="flex flex-col items-center justify-center h-full text-center animate-fadeIn">
<div class="mb-4">${logo(true)}</div>
<h2 class="${large ? 'text-2xl' : 'text-lg'} text-white font-medium">Welcome back, ${name}!</h2>
<p class="text-xs text-slate-400 mt-2">Start a conversation by typing below</p>
</div>`;
}

/**
 * The composer: a textarea that grows with its text (Enter sends, Shift+Enter breaks the line, both in
 * gaia.js), Send, and Stop while a reply streams.
 */
export function chatForm(conversationId: string, maxChars: number): Html {
  return html`<form id="chat-form" class="p-3 md:p-4 border-t border-slate-700/50 backdrop-blur-sm safe-area-padding-bottom" hx-post="/api/chat/send" hx-target="#messages" hx-swap="beforeend" hx-disabled-elt="#chat-send-button">
<div class="flex items-end space-x-2 max-w-4xl mx-auto">
<input type="hidden" id="conversation-id-input" name="conversation_id" value="${conversationId}">
<label for="chat-message-input" class="sr-only">Message</label>
<textarea id="chat-message-input" name="message" rows="1" placeholder="Message Gaia... (Shift+Enter for a new line)" required autofocus autocomplete="off" maxlength="${maxChars}" class="${INPUT} chat-composer flex-1 min-w-0"></textarea>
<button type="submit" id="chat-send-button" class="${BTN_PRIMARY} min-w-[44px] min-h-[44px] flex-shrink-0" aria-label="Send"><span class="hidden sm:inline">Send</span><span class="sm:hidden" aria-hidden="true">→</span></button>
<button type="button" id="chat-stop-button" class="${BTN_SECONDARY} min-w-[44px] min-h-[44px] flex-shrink-0 hidden" aria-label="Stop the reply">Stop</button>
</div>
</form>`;
}

export interface ChatViewOptions {
  conversationId: string | null;
  name: string;
  messages?: Message[];
  notFound?: boolean;
  maxChars: number;
  /** Out-of-band replacement of the page's `#chat-view` (after deleting the open conversation). */
  oob?: boolean;
}

export function chatView(o: ChatViewOptions): Html {
  let body: Renderable;
  if (o.notFound)
    body = html`<div class="max-w-xl mx-auto mt-8">${box('error', 'Conversation not found.')}</div>`;
  else {
    const shown = (o.messages ?? []).filter((m) => m.role === 'user' || m.role === 'assistant');
    body =
      shown.length === 0
        ? welcome(o.name, o.conversationId !== null)
        : shown.map((m) =>
            m.role === 'user' ? userBubble(m.content, m.created_at, m.id) : assistantBubble(m),
          );
  }
  const id = o.notFound ? '' : (o.conversationId ?? '');
  return html`<div id="chat-view" class="flex flex-col h-full" data-conversation-id="${id}"${o.oob ? raw(' hx-swap-oob="true"') : ''}>
<div id="messages" class="flex-1 overflow-y-auto p-6 space-y-4 custom-scrollbar" role="log" aria-live="polite">
${body}
</div>
${chatForm(id, o.maxChars)}
</div>`;
}

/* ---------- the page ---------- */

export function personaSelect(personas: Persona[], currentId: string | null): Html {
  return html`<label for="persona-select" class="sr-only">Persona</label>
<select id="persona-select" name="persona_id" class="w-full bg-slate-800 border border-slate-600 text-white text-xs rounded-lg px-2 py-2 focus:outline-none focus:border-purple-500" hx-post="/api/personas/select" hx-trigger="change" hx-swap="none">
${personas.map((p) => html`<option value="${p.id}"${p.id === currentId ? raw(' selected') : ''}>${p.name}</option>`)}
</select>`;
}

const MENU_LINKS: Array<[string, string]> = [
  ['/profile', 'Profile'],
  ['/personas', 'Personas'],
  ['/api-keys', 'API keys'],
  ['/kb', 'Knowledge'],
  ['/assets', 'Assets'],
  ['/usage', 'Usage'],
  ['/logout', 'Logout'],
];

export interface ChatPageOptions {
  email: string;
  list: ConversationPage;
  activeId: string | null;
  personas: Persona[];
  currentPersonaId: string | null;
  view: Html;
}

export function chatPage(o: ChatPageOptions): Html {
  const initial = (o.email[0] ?? '?').toUpperCase();
  return html`<div class="flex h-screen ${PAGE_GRADIENT} overflow-hidden">
<div id="loading-indicator" class="htmx-indicator fixed inset-0 bg-black/50 z-50 flex items-center justify-center pointer-events-none" role="status">
<div class="flex flex-col items-center"><div class="spinner" aria-hidden="true"></div><span class="text-sm text-white mt-3">Loading...</span></div>
</div>
${toastContainer()}
<div id="sidebar-overlay" class="fixed inset-0 bg-black/50 z-30 md:hidden hidden" aria-hidden="true"></div>
<div class="mobile-header md:hidden fixed top-0 left-0 right-0 h-16 z-20 ${SIDEBAR_GRADIENT} border-b border-slate-700/50 flex items-center justify-between px-3">
<button type="button" id="sidebar-toggle" class="bg-slate-700/60 hover:bg-slate-600 text-white rounded-lg p-2 min-w-[44px] min-h-[44px] flex items-center justify-center" aria-label="Open sidebar" aria-expanded="false" aria-controls="sidebar">
<span class="hamburger" aria-hidden="true"><span></span><span></span><span></span></span>
</button>
<a href="/chat" class="flex items-center">${logo()}</a>
<div class="relative">
<button type="button" id="user-menu-button" class="bg-gradient-to-br from-purple-600 to-pink-600 text-white font-medium rounded-full min-w-[44px] min-h-[44px] p-0 flex items-center justify-center" aria-label="User menu" aria-expanded="false" aria-controls="user-menu">${initial}</button>
<div id="user-menu" class="hidden absolute right-0 top-12 w-56 bg-slate-800 border border-slate-700 rounded-lg shadow-xl p-2 z-50">
<div class="text-xs text-slate-400 truncate px-2 py-1">${o.email}</div>
${MENU_LINKS.map(([href, label]) => html`<a href="${href}" class="block text-sm text-slate-300 hover:text-white hover:bg-slate-700/50 rounded-md px-2 py-2">${label}</a>`)}
</div>
</div>
</div>
<div id="sidebar" class="fixed md:relative top-0 left-0 z-40 w-64 h-full flex flex-col ${SIDEBAR_GRADIENT} -translate-x-full md:translate-x-0 transition-transform duration-300 flex-shrink-0 border-r border-slate-700/50">
<div class="p-3 border-b border-slate-700/50 space-y-3">
<div class="flex items-center justify-between">
<a href="/chat" class="flex items-center">${logo()}</a>
${themeToggle()}
<button type="button" id="sidebar-close" class="md:hidden bg-slate-700/60 hover:bg-slate-600 text-white rounded-lg min-w-[44px] min-h-[44px] p-0 text-xl flex items-center justify-center" aria-label="Close sidebar">×</button>
</div>
<button type="button" id="new-chat-button" class="${BTN_SECONDARY} w-full text-xs" hx-post="/chat/new" hx-target="#main-content" hx-swap="innerHTML swap:200ms settle:200ms">New Chat</button>
<div>
<label for="search-input" class="sr-only">Search conversations</label>
<input id="search-input" name="query" type="search" placeholder="Search conversations..." autocomplete="off" class="w-full bg-slate-800 border border-slate-600 text-white placeholder-slate-400 rounded-lg px-3 py-2 text-xs focus:outline-none focus:border-purple-500" hx-get="/api/search-conversations" hx-trigger="input changed delay:300ms, search" hx-target="#conversation-list" hx-swap="innerHTML">
<div id="search-status" class="text-xs text-slate-400 mt-1 min-h-[1rem]" aria-live="polite"></div>
</div>
${personaSelect(o.personas, o.currentPersonaId)}
<div id="user-block" class="pt-1">
<div class="text-xs text-slate-400 truncate">${o.email}</div>
<div class="text-xs mt-1 flex flex-wrap gap-x-2">${MENU_LINKS.map(([href, label]) => html`<a href="${href}" class="text-purple-400 hover:text-purple-300">${label}</a>`)}</div>
</div>
</div>
<div class="p-2 overflow-y-auto flex-1 custom-scrollbar">
<div id="conversation-list" class="space-y-2" hx-get="/api/conversations" hx-trigger="gaia:conversations-changed from:body" hx-swap="innerHTML">
${conversationItems(o.list, o.activeId)}
</div>
</div>
</div>
<div id="main-content" class="flex-1 flex flex-col overflow-hidden min-w-0 pt-16 md:pt-0">
${o.view}
</div>
</div>`;
}
