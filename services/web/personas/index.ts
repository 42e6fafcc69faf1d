/**
 * The persona picker (spec/web.md §10.1): the shared catalogue, the current persona, creating one's own
 * and deleting those one created. Selecting applies from the next message in every conversation.
 */
import { Elysia } from 'elysia';
import { currentPersona, listPersonas, type PersonaNames } from '../chat/service.ts';
import type { Persona } from '../chat/views.ts';
import { detailOf, htmlAnswer, readForm, toast, triggers, type WebContext } from '../context.ts';
import { attrJson, type Html, html } from '../html.ts';
import type { Kit } from '../kit.ts';
import { BTN_DANGER, BTN_PRIMARY, box, CARD, documentPage, INPUT, pageLayout } from '../layout.ts';

function personaCard(p: Persona, current: boolean, canDelete: boolean): Html {
  const traits = Object.entries(p.personality_traits ?? {})
    .filter(([, v]) => v === true)
    .map(([k]) => k.replace(/_/g, ' '));
  return html`<article class="${CARD} flex flex-col${current ? ' border-purple-500' : ''}" data-persona-id="${p.id}">
<div class="flex items-center justify-between mb-2">
<h2 class="text-lg font-semibold text-white">${p.name}</h2>
${current ? html`<span class="text-xs bg-gradient-to-r from-purple-600 to-pink-600 text-white rounded-full px-3 py-1">Current</span>` : null}
</div>
<p class="text-sm text-slate-300 mb-3 break-words">${p.description ?? ''}</p>
<div class="flex flex-wrap gap-2 mb-4">${traits.map((t) => html`<span class="text-xs bg-slate-700 text-slate-200 rounded-full px-2 py-1">${t}</span>`)}</div>
<div class="mt-auto flex items-center gap-2">
${
  current
    ? null
    : html`<button type="button" class="${BTN_PRIMARY} text-sm" hx-post="/api/personas/select" hx-vals="${attrJson({ persona_id: p.id })}" hx-target="#persona-list" hx-swap="innerHTML">Use ${p.name}</button>`
}
${
  canDelete
    ? html`<button type="button" class="${BTN_DANGER}" hx-delete="/api/personas/${encodeURIComponent(p.id)}" hx-target="#persona-list" hx-swap="innerHTML" hx-confirm="Delete the persona ${p.name}? Users who chose it go back to the default.">Delete</button>`
    : null
}
</div>
</article>`;
}

async function personaItems(ctx: WebContext): Promise<Html> {
  const s = ctx.requireSession();
  const [personas, current] = await Promise.all([listPersonas(ctx), currentPersona(ctx)]);
  if (personas.length === 0) return html`<p class="text-slate-400">No personas yet.</p>`;
  return html`${personas.map((p) => personaCard(p, p.id === current?.id, p.created_by === s.uid || s.adm === true))}`;
}

function personaForm(error?: string): Html {
  return html`<section class="${CARD} mt-8">
<h2 class="text-xl font-semibold text-white mb-4">Create a persona</h2>
<div id="persona-form-message" aria-live="polite">${error ? box('error', error) : null}</div>
<form id="persona-form" class="space-y-4" hx-post="/api/personas" hx-target="#persona-list" hx-swap="innerHTML">
<div><label for="persona-name" class="block text-sm text-slate-300 mb-1">Name</label>
<input id="persona-name" name="name" type="text" required maxlength="100" class="${INPUT}"></div>
<div><label for="persona-description" class="block text-sm text-slate-300 mb-1">Description</label>
<input id="persona-description" name="description" type="text" maxlength="2000" class="${INPUT}"></div>
<div><label for="persona-system-prompt" class="block text-sm text-slate-300 mb-1">System prompt</label>
<textarea id="persona-system-prompt" name="system_prompt" required maxlength="20000" rows="5" class="${INPUT}"></textarea></div>
<button type="submit" class="${BTN_PRIMARY}">Create persona</button>
</form>
</section>`;
}

/** Replaces the message above the form out of band. */
function formMessage(content: Html | null): Html {
  return html`<div id="persona-form-message" hx-swap-oob="true" aria-live="polite">${content}</div>`;
}

export function personaRoutes(kit: Kit, personaNames: PersonaNames) {
  const { config } = kit.s;
  const errorToast = (text: string) =>
    htmlAnswer('', { headers: { 'hx-reswap': 'none', 'hx-trigger': triggers(toast(text, 'error')) } });

  return new Elysia({ name: 'gaia-web-personas' })
    .get(
      '/personas',
      kit.handler('page', async (ctx) => {
        const view = html`<h1 class="text-3xl font-bold text-white mb-2">Personas</h1>
<p class="text-slate-400 mb-6">Choose who you chat with. Your choice applies from your next message.</p>
<div id="persona-list" class="grid grid-cols-1 md:grid-cols-2 gap-4">${await personaItems(ctx)}</div>
${personaForm()}`;
        return htmlAnswer(documentPage(pageLayout('personas', view), { debug: config.debug }));
      }),
    )
    .post(
      '/api/personas/select',
      kit.handler('fragment', async (ctx) => {
        const form = await readForm(ctx.request);
        const id = (form.persona_id ?? '').trim();
        if (!id) return errorToast('Please choose a persona.');
        const { res, body } = await ctx.apiJson<any>('/api/v0.2/personas/set', { json: { persona_id: id } });
        if (!res.ok) return errorToast(detailOf(body) || 'Failed to select persona. Please try again.');
        personaNames.forget(ctx);
        const name = typeof body?.persona_name === 'string' ? body.persona_name : 'the new persona';
        return htmlAnswer(await personaItems(ctx), {
          headers: { 'hx-trigger': triggers(toast(`Now chatting with ${name}`, 'success')) },
        });
      }),
      { parse: 'none' },
    )
    .post(
      '/api/personas',
      kit.handler('fragment', async (ctx) => {
        const form = await readForm(ctx.request);
        const name = (form.name ?? '').trim();
        const systemPrompt = (form.system_prompt ?? '').trim();
        const fail = (text: string) =>
          htmlAnswer(formMessage(box('error', text)), { headers: { 'hx-reswap': 'none' } });
        if (!name || name.length > 100) return fail('Name must be between 1 and 100 characters.');
        if (!systemPrompt) return fail('Please enter a system prompt.');
        const { res, body } = await ctx.apiJson<any>('/api/v0.2/personas', {
          json: { name, description: (form.description ?? '').trim(), system_prompt: systemPrompt },
        });
        if (!res.ok) {
          const errors = Array.isArray(body?.errors)
            ? body.errors.map((e: any) => `${e.path}: ${e.message}`).join('; ')
            : '';
          return fail(
            errors ? `${detailOf(body)} (${errors})` : detailOf(body) || 'Failed to create persona.',
          );
        }
        return htmlAnswer(html`${await personaItems(ctx)}${formMessage(null)}`, {
          headers: {
            'hx-trigger': triggers({
              ...toast(`Persona ${name} created`, 'success'),
              'gaia:persona-created': true,
            }),
          },
        });
      }),
      { parse: 'none' },
    )
    .delete(
      '/api/personas/:id',
      kit.handler('fragment', async (ctx, p) => {
        const res = await ctx.api(`/api/v0.2/personas/${encodeURIComponent(p.id ?? '')}`, {
          method: 'DELETE',
        });
        const text = await res.text();
        if (!res.ok) {
          let body: unknown = null;
          try {
            body = JSON.parse(text);
          } catch {
            body = null;
          }
          return errorToast(detailOf(body) || 'Failed to delete persona. Please try again.');
        }
        personaNames.forget(ctx);
        return htmlAnswer(await personaItems(ctx), {
          headers: { 'hx-trigger': triggers(toast('Persona deleted', 'success')) },
        });
      }),
      { parse: 'none' },
    );
}
