/**
 * API keys: create (the raw key is shown once and never stored or logged here),
 * list with status, and revoke. The page stays out of htmx's history cache so the key is not saved.
 */
import { Elysia } from 'elysia';
import { detailOf, htmlAnswer, readForm, triggers, type WebContext } from '../context.ts';
import { type Html, html } from '../html.ts';
import type { Kit } from '../kit.ts';
import {
  BTN_DANGER,
  BTN_PRIMARY,
  BTN_SECONDARY,
  box,
  CARD,
  documentPage,
  INPUT,
  pageLayout,
} from '../layout.ts';

interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  is_active: boolean;
  revoked_at?: string | null;
}

const EXPIRY_CHOICES: Array<[string, string]> = [
  ['', 'Never'],
  ['30', '30 days'],
  ['90', '90 days'],
  ['365', '365 days'],
];

function day(iso: string | null | undefined, fallback: string): string {
  if (!iso) return fallback;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? fallback : d.toISOString().slice(0, 10);
}

function statusOf(k: ApiKey): 'active' | 'revoked' | 'expired' {
  if (k.revoked_at || (!k.is_active && !k.expires_at)) return 'revoked';
  if (k.expires_at && new Date(k.expires_at).getTime() <= Date.now()) return 'expired';
  return k.is_active ? 'active' : 'revoked';
}

const STATUS_CLASS = {
  active: 'bg-green-500/20 text-green-200',
  revoked: 'bg-red-500/20 text-red-200',
  expired: 'bg-yellow-500/20 text-yellow-200',
};

function keyTable(keys: ApiKey[]): Html {
  if (keys.length === 0) return html`<p class="text-slate-400 text-sm">No API keys yet.</p>`;
  return html`<div class="overflow-x-auto custom-scrollbar"><table class="w-full text-sm text-left">
<thead class="text-xs text-slate-400 border-b border-slate-700"><tr><th class="py-2 pr-4">Name</th><th class="py-2 pr-4">Key</th><th class="py-2 pr-4">Created</th><th class="py-2 pr-4">Last used</th><th class="py-2 pr-4">Expires</th><th class="py-2 pr-4">Status</th><th class="py-2"><span class="sr-only">Actions</span></th></tr></thead>
<tbody>
${keys.map((k) => {
  const st = statusOf(k);
  return html`<tr class="border-b border-slate-700/50" data-key-id="${k.id}">
<td class="py-2 pr-4 text-white break-words">${k.name}</td>
<td class="py-2 pr-4 font-mono text-slate-300">${k.prefix}…</td>
<td class="py-2 pr-4 text-slate-300">${day(k.created_at, '')}</td>
<td class="py-2 pr-4 text-slate-300">${day(k.last_used_at, 'Never')}</td>
<td class="py-2 pr-4 text-slate-300">${day(k.expires_at, 'Never')}</td>
<td class="py-2 pr-4"><span class="text-xs rounded-full px-2 py-1 ${STATUS_CLASS[st]}">${st}</span></td>
<td class="py-2">${
    st === 'active'
      ? html`<button type="button" class="${BTN_DANGER}" hx-delete="/api/keys/${encodeURIComponent(k.id)}" hx-target="#api-key-list" hx-swap="innerHTML" hx-confirm="Revoke this key? Apps using it stop working within a second.">Revoke</button>`
      : null
  }</td>
</tr>`;
})}
</tbody></table></div>`;
}

async function loadKeys(ctx: WebContext): Promise<Html> {
  const { res, body } = await ctx.apiJson<{ api_keys?: ApiKey[] }>(
    '/api/v1/auth/api-keys?include_revoked=true',
  );
  if (!res.ok) return box('error', detailOf(body) || 'Failed to load API keys.');
  return keyTable(body?.api_keys ?? []);
}

function newKeyBox(name: string, key: string): Html {
  return html`<div id="new-api-key" class="bg-green-500/10 border border-green-500/30 text-green-200 backdrop-blur-sm px-4 py-3 rounded-lg shadow-lg" role="status">
<p class="font-medium mb-2">✓ API key “${name}” created</p>
<div class="flex items-center gap-2">
<code id="new-api-key-value" class="font-mono text-sm bg-slate-900/70 text-white rounded-md px-3 py-2 break-all flex-1">${key}</code>
<button type="button" class="${BTN_SECONDARY} text-xs" data-copy-target="#new-api-key-value">Copy</button>
</div>
<p class="text-xs mt-2">Copy this key now. It will not be shown again.</p>
</div>`;
}

/** The reason a revoke did not happen, from the gateway's answer. */
export function revokeFailureText(status: number, detail: string): string {
  if (status === 404) return `Key not revoked: ${detail || 'no such key'}. It is not one of your keys.`;
  if (status === 429) return `Key not revoked: ${detail || 'too many requests'}. Please try again shortly.`;
  if (status >= 500) return `Key not revoked: ${detail || 'the server failed'}. Please try again.`;
  return `Key not revoked: ${detail || `the gateway answered ${status}`}.`;
}

export function keyRoutes(kit: Kit) {
  const { config } = kit.s;
  return new Elysia({ name: 'gaia-web-keys' })
    .get(
      '/api-keys',
      kit.handler('page', async (ctx) => {
        const view = html`<h1 class="text-3xl font-bold text-white mb-2">API keys</h1>
<p class="text-slate-400 mb-6">Keys let apps and scripts call Gaia as you. A key is shown once, when it is created.</p>
<section class="${CARD} mb-8">
<div id="api-key-result" class="mb-4" aria-live="polite"></div>
<form id="api-key-form" class="grid grid-cols-1 md:grid-cols-3 gap-4 items-end" hx-post="/api/keys" hx-target="#api-key-result" hx-swap="innerHTML">
<div class="md:col-span-2"><label for="api-key-name" class="block text-sm text-slate-300 mb-1">Name</label>
<input id="api-key-name" name="name" type="text" required maxlength="100" placeholder="e.g. Unity build machine" class="${INPUT}"></div>
<div><label for="api-key-expiry" class="block text-sm text-slate-300 mb-1">Expires</label>
<select id="api-key-expiry" name="expires_in_days" class="${INPUT}">${EXPIRY_CHOICES.map(([v, l]) => html`<option value="${v}">${l}</option>`)}</select></div>
<div class="md:col-span-3"><button type="submit" class="${BTN_PRIMARY}">Create key</button></div>
</form>
</section>
<section class="${CARD}">
<h2 class="text-xl font-semibold text-white mb-4">Your keys</h2>
<div id="api-key-list">${await loadKeys(ctx)}</div>
</section>`;
        return htmlAnswer(
          documentPage(pageLayout('api-keys', view), { debug: config.debug, noHistory: true }),
        );
      }),
    )
    .post(
      '/api/keys',
      kit.handler('fragment', async (ctx) => {
        const form = await readForm(ctx.request);
        const name = (form.name ?? '').trim();
        if (!name || name.length > 100)
          return htmlAnswer(box('error', 'Name must be between 1 and 100 characters.'));
        const days = (form.expires_in_days ?? '').trim();
        if (days !== '' && !['30', '90', '365'].includes(days))
          return htmlAnswer(box('error', 'Please choose an expiry.'));
        const { res, body } = await ctx.apiJson<any>('/api/v1/auth/api-keys', {
          json: { name, expires_in_days: days === '' ? null : Number(days) },
        });
        if (!res.ok || typeof body?.key !== 'string')
          return htmlAnswer(box('error', detailOf(body) || 'Failed to create API key. Please try again.'));
        const list = html`<div id="api-key-list" hx-swap-oob="true">${await loadKeys(ctx)}</div>`;
        return htmlAnswer(html`${newKeyBox(name, body.key)}${list}`, {
          headers: { 'cache-control': 'no-store', 'hx-trigger': triggers({ 'gaia:api-key-created': true }) },
        });
      }),
      { parse: 'none' },
    )
    .delete(
      '/api/keys/:id',
      kit.handler('fragment', async (ctx, p) => {
        const { res, body } = await ctx.apiJson(`/api/v1/auth/api-keys/${encodeURIComponent(p.id ?? '')}`, {
          method: 'DELETE',
        });
        // What auth did is what the page says: a key of another account, or one that does not exist,
        // is a 404 there and stays exactly as it was, so the page must not claim it was revoked.
        const notice = res.ok
          ? box('success', 'Key revoked. Apps using it stop working within a second.', null, 'status')
          : box('error', revokeFailureText(res.status, detailOf(body)));
        // Answered 200 so htmx swaps it in place of the list, which is reloaded to show the real state.
        return htmlAnswer(
          html`<div id="api-key-revoke-result" class="mb-4" data-status="${res.status}">${notice}</div>${await loadKeys(ctx)}`,
        );
      }),
      { parse: 'none' },
    );
}
