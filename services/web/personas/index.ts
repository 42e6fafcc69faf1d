/**
 * The persona picker: the shared catalogue, the current persona, creating one's own,
 * editing and deleting those one created (or any, for admins), and each persona's tools. Selecting applies
 * from the next message in every conversation.
 */
import { Elysia } from 'elysia';
import { currentPersona, listPersonas, type PersonaNames } from '../chat/service.ts';
import type { Persona } from '../chat/views.ts';
import { detailOf, htmlAnswer, readForm, toast, triggers, type WebContext } from '../context.ts';
import { attrJson, type Html, html } from '../html.ts';
import type { Kit } from '../kit.ts';
import {
  BTN_DANGER,
  BTN_GHOST,
  BTN_PRIMARY,
  BTN_SECONDARY,
  box,
  CARD,
  documentPage,
  INPUT,
  pageLayout,
} from '../layout.ts';
import { parseToolsField, type ToolsValue, toolsFieldText } from './tools.ts';

/** The chat service's persona object, with the fields this page edits beyond the shared `Persona`. */
type FullPersona = Persona & { system_prompt?: string; tools?: ToolsValue };

const CHIP = 'text-xs rounded-full px-2 py-1';

/** What a persona's chats may use, in words: the three cases of `tools` must read differently. */
function toolsLine(tools: ToolsValue | undefined): Html {
  const label = html`<span class="text-xs text-slate-400">Tools:</span>`;
  if (tools === null || tools === undefined)
    return html`<div class="flex flex-wrap items-center gap-2 mb-4" data-tools="default">${label}<span class="${CHIP} bg-slate-700/60 text-slate-300">knowledge base (default)</span></div>`;
  if (tools.length === 0)
    return html`<div class="flex flex-wrap items-center gap-2 mb-4" data-tools="none">${label}<span class="${CHIP} bg-slate-700/60 text-slate-300">none</span></div>`;
  return html`<div class="flex flex-wrap items-center gap-2 mb-4" data-tools="list">${label}${tools.map((t) => html`<code class="${CHIP} bg-slate-900 text-purple-200">${t}</code>`)}</div>`;
}

function personaCard(p: FullPersona, current: boolean, canModify: boolean): Html {
  const traits = Object.entries(p.personality_traits ?? {})
    .filter(([, v]) => v === true)
    .map(([k]) => k.replace(/_/g, ' '));
  return html`<article class="${CARD} flex flex-col${current ? ' border-purple-500' : ''}" data-persona-id="${p.id}">
<div class="flex items-center justify-between mb-2">
<h2 class="text-lg font-semibold text-white">${p.name}</h2>
${current ? html`<span class="text-xs bg-gradient-to-r from-purple-600 to-pink-600 text-white rounded-full px-3 py-1">Current</span>` : null}
</div>
<p class="text-sm text-slate-300 mb-3 break-words">${p.description ?? ''}</p>
<div class="flex flex-wrap gap-2 mb-3">${traits.map((t) => html`<span class="text-xs bg-slate-700 text-slate-200 rounded-full px-2 py-1">${t}</span>`)}</div>
${toolsLine(p.tools)}
<div class="mt-auto flex items-center gap-2">
${
  current
    ? null
    : html`<button type="button" class="${BTN_PRIMARY} text-sm" hx-post="/api/personas/select" hx-vals="${attrJson({ persona_id: p.id })}" hx-target="#persona-list" hx-swap="innerHTML">Use ${p.name}</button>`
}
${
  canModify
    ? html`<button type="button" class="${BTN_SECONDARY} text-xs py-1" hx-get="/api/personas/${encodeURIComponent(p.id)}/edit" hx-target="#persona-form-section" hx-swap="outerHTML">Edit</button>`
    : null
}
${
  canModify
    ? html`<button type="button" class="${BTN_DANGER}" hx-delete="/api/personas/${encodeURIComponent(p.id)}" hx-target="#persona-list" hx-swap="innerHTML" hx-confirm="Delete the persona ${p.name}? Users who chose it go back to the default.">Delete</button>`
    : null
}
</div>
</article>`;
}

async function personaItems(ctx: WebContext): Promise<Html> {
  ctx.requireSession();
  const [personas, current] = await Promise.all([listPersonas(ctx), currentPersona(ctx)]);
  if (personas.length === 0) return html`<p class="text-slate-400">No personas yet.</p>`;
  return html`${personas.map((p) => personaCard(p, p.id === current?.id, mayModify(ctx, p)))}`;
}

/** The chat service's rule: the creator or an admin; seeded ("system") personas only admins. */
function mayModify(ctx: WebContext, p: Persona): boolean {
  const s = ctx.requireSession();
  return s.adm === true || (p.created_by !== 'system' && p.created_by === s.uid);
}

function toolsFields(tools: ToolsValue | undefined): Html {
  return html`<fieldset class="space-y-2">
<legend class="block text-sm text-slate-300 mb-1">Tools</legend>
<textarea id="persona-tools" name="tools" rows="3" maxlength="9000" spellcheck="false" aria-describedby="persona-tools-help" placeholder="kb:*&#10;github__*&#10;asset:generate" class="${INPUT} font-mono text-sm">${toolsFieldText(tools)}</textarea>
<label class="flex items-center gap-2 text-sm text-slate-300"><input id="persona-no-tools" name="no_tools" type="checkbox" value="1"${tools?.length === 0 ? ' checked' : ''}> No tools: this persona only talks</label>
<p id="persona-tools-help" class="text-xs text-slate-400">One tool name or pattern per line (or separated by commas): <code>kb:*</code> for the knowledge base, <code>github__*</code> for every tool of the MCP server "github", <code>asset:generate</code> to create images and models, <code>agent:*</code> for other agents. Leave it empty to give the persona the default knowledge-base tools; tick "No tools" for none at all.</p>
</fieldset>`;
}

/** The create form, or the edit form of `editing`; both keep the ids the page's DOM contract names. */
function personaForm(error?: string, editing?: FullPersona, oob = false): Html {
  const action = editing
    ? html`hx-put="/api/personas/${encodeURIComponent(editing.id)}"`
    : html`hx-post="/api/personas"`;
  return html`<section id="persona-form-section"${oob ? html` hx-swap-oob="true"` : null} class="${CARD} mt-8">
<h2 class="text-xl font-semibold text-white mb-4">${editing ? html`Edit ${editing.name}` : 'Create a persona'}</h2>
<div id="persona-form-message" aria-live="polite">${error ? box('error', error) : null}</div>
<form id="persona-form" class="space-y-4" ${action} hx-target="#persona-list" hx-swap="innerHTML">
<div><label for="persona-name" class="block text-sm text-slate-300 mb-1">Name</label>
<input id="persona-name" name="name" type="text" required maxlength="100" value="${editing?.name ?? ''}" class="${INPUT}"></div>
<div><label for="persona-description" class="block text-sm text-slate-300 mb-1">Description</label>
<input id="persona-description" name="description" type="text" maxlength="2000" value="${editing?.description ?? ''}" class="${INPUT}"></div>
<div><label for="persona-system-prompt" class="block text-sm text-slate-300 mb-1">System prompt</label>
<textarea id="persona-system-prompt" name="system_prompt" required maxlength="20000" rows="5" class="${INPUT}">${editing?.system_prompt ?? ''}</textarea></div>
${toolsFields(editing?.tools)}
<div class="flex items-center gap-2">
<button type="submit" class="${BTN_PRIMARY}">${editing ? 'Save changes' : 'Create persona'}</button>
${editing ? html`<button type="button" class="${BTN_GHOST}" hx-get="/api/personas/form" hx-target="#persona-form-section" hx-swap="outerHTML">Cancel</button>` : null}
</div>
</form>
</section>`;
}

/** The fields of a submitted form, checked as far as the page can before the chat service sees them. */
function personaInput(
  form: Record<string, string>,
): { error: string } | { name: string; description: string; system_prompt: string; tools: ToolsValue } {
  const name = (form.name ?? '').trim();
  const systemPrompt = (form.system_prompt ?? '').trim();
  if (!name || name.length > 100) return { error: 'Name must be between 1 and 100 characters.' };
  if (!systemPrompt) return { error: 'Please enter a system prompt.' };
  const tools = parseToolsField(form.tools ?? '', form.no_tools !== undefined && form.no_tools !== '');
  if ('error' in tools) return tools;
  return {
    name,
    description: (form.description ?? '').trim(),
    system_prompt: systemPrompt,
    tools: tools.tools,
  };
}

/** The chat service's refusal as one line: its detail, and which fields it named. */
function refusal(body: any, fallback: string): string {
  const errors = Array.isArray(body?.errors)
    ? body.errors.map((e: any) => `${e.path}: ${e.message}`).join('; ')
    : '';
  return errors ? `${detailOf(body)} (${errors})` : detailOf(body) || fallback;
}

/** Replaces the message above the form out of band. */
function formMessage(content: Html | null): Html {
  return html`<div id="persona-form-message" hx-swap-oob="true" aria-live="polite">${content}</div>`;
}

export function personaRoutes(kit: Kit, personaNames: PersonaNames) {
  const { config } = kit.s;
  const errorToast = (text: string) =>
    htmlAnswer('', { headers: { 'hx-reswap': 'none', 'hx-trigger': triggers(toast(text, 'error')) } });
  // The form stays as typed; only the message above it changes.
  const failOnForm = (text: string) =>
    htmlAnswer(formMessage(box('error', text)), { headers: { 'hx-reswap': 'none' } });

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
        const input = personaInput(await readForm(ctx.request));
        if ('error' in input) return failOnForm(input.error);
        const { res, body } = await ctx.apiJson<any>('/api/v0.2/personas', { json: input });
        if (!res.ok) return failOnForm(refusal(body, 'Failed to create persona.'));
        const name = input.name;
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
    .get(
      '/api/personas/form',
      kit.handler('fragment', async () => htmlAnswer(personaForm())),
    )
    .get(
      '/api/personas/:id/edit',
      kit.handler('fragment', async (ctx, p) => {
        const { res, body } = await ctx.apiJson<any>(`/api/v0.2/personas/${encodeURIComponent(p.id ?? '')}`);
        if (!res.ok || !body?.persona) return errorToast(detailOf(body) || 'Failed to load persona.');
        const persona = body.persona as FullPersona;
        if (!mayModify(ctx, persona)) return errorToast('Not allowed to modify this persona');
        return htmlAnswer(personaForm(undefined, persona));
      }),
    )
    .put(
      '/api/personas/:id',
      kit.handler('fragment', async (ctx, p) => {
        const input = personaInput(await readForm(ctx.request));
        if ('error' in input) return failOnForm(input.error);
        const { res, body } = await ctx.apiJson<any>(`/api/v0.2/personas/${encodeURIComponent(p.id ?? '')}`, {
          method: 'PUT',
          json: input,
        });
        if (!res.ok) return failOnForm(refusal(body, 'Failed to save persona.'));
        // A renamed current persona must show its new name in the chat's stream metadata.
        personaNames.forget(ctx);
        return htmlAnswer(html`${await personaItems(ctx)}${personaForm(undefined, undefined, true)}`, {
          headers: { 'hx-trigger': triggers(toast(`Persona ${input.name} saved`, 'success')) },
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
