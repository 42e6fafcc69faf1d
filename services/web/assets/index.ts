/**
 * The assets studio (`/assets`): ask for an asset with its price shown first, follow slow generations as
 * jobs, and browse, play, turn and download what was made. Every call goes through the gateway as the
 * signed-in user; files are streamed back through this site so the page never reaches another origin.
 *
 * The page relaxes the site's CSP in two narrow ways that the 3D viewer needs: WebAssembly compilation
 * (`'wasm-unsafe-eval'`, which allows no `eval` of script text) and `blob:` for the textures a GLB carries
 * inside it, which the viewer unpacks into object URLs of the page's own making.
 */
import { Elysia } from 'elysia';
import { detailOf, htmlAnswer, json, readForm, type WebContext } from '../context.ts';
import { type Html, html } from '../html.ts';
import type { Kit } from '../kit.ts';
import { SECURITY_HEADERS } from '../kit.ts';
import { box, documentPage, pageLayout } from '../layout.ts';
import {
  budgetRefusal,
  CATEGORIES,
  estimateProblem,
  estimateView,
  gallery,
  itemFromList,
  itemFromResponse,
  type Job,
  jobCard,
  jobFailed,
  QUALITIES,
  resultWithGallery,
  studioPage,
} from './views.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How long a generate call waits before the page switches to following the job. */
export const SYNC_WAIT_MS = 2500;

export const STUDIO_CSP = SECURITY_HEADERS['content-security-policy']!.replace(
  "script-src 'self'",
  "script-src 'self' 'wasm-unsafe-eval'",
)
  .replace("img-src 'self' data:", "img-src 'self' data: blob:")
  .replace("connect-src 'self'", "connect-src 'self' blob:");

const today = () => new Date().toISOString().slice(0, 10);

/** What the caller's assets have cost today (UTC), from their generation records; null if unknown. */
async function spentToday(ctx: WebContext): Promise<number | null> {
  const d = today();
  const { res, body } = await ctx.apiJson<{ total_cost?: number }>(
    `/api/v0.2/assets/pricing/analytics?start_date=${d}&end_date=${d}`,
  );
  return res.ok && typeof body?.total_cost === 'number' ? body.total_cost : null;
}

interface StudioForm {
  request: Record<string, unknown>;
  problem: string | null;
}

/** The form as an asset request; a problem the page can say without asking the gateway. */
function requestFrom(form: Record<string, string>): StudioForm {
  const category = (form.category ?? '').trim();
  const style = (form.style ?? '').trim();
  const description = (form.description ?? '').trim();
  const quality = (form.quality ?? 'medium').trim();
  const maxCostRaw = (form.max_cost ?? '').trim();
  const request: Record<string, unknown> = {
    category,
    style,
    description,
    requirements: { platform: 'web', quality },
  };
  let problem: string | null = null;
  if (!CATEGORIES.some(([c]) => c === category)) problem = 'Please choose a category.';
  else if (!(QUALITIES as readonly string[]).includes(quality)) problem = 'Please choose a quality.';
  if (maxCostRaw !== '') {
    const maxCost = Number(maxCostRaw);
    if (!Number.isFinite(maxCost) || maxCost < 0)
      problem ??= 'Max cost must be a number of dollars, 0 or more.';
    else request.preferences = { max_cost: maxCost };
  }
  return { request, problem };
}

/** A validation answer as one line: the detail and each field's message. */
function validationText(body: any): string {
  const errs = Array.isArray(body?.errors) ? body.errors : [];
  const parts = errs
    .slice(0, 4)
    .map((e: any) => `${String(e?.path ?? '')}: ${String(e?.message ?? '')}`.replace(/^: /, ''));
  const detail = detailOf(body);
  return parts.length && !parts.every((p: string) => detail.includes(p))
    ? `${detail} (${parts.join('; ')})`
    : detail;
}

async function galleryHtml(ctx: WebContext): Promise<Html> {
  const { res, body } = await ctx.apiJson<{ assets?: unknown[] }>('/api/v1/assets?limit=48');
  if (!res.ok) return box('error', detailOf(body) || 'Failed to load your assets.');
  return gallery((body?.assets ?? []).map(itemFromList).filter((a) => a.id));
}

async function activeJobs(ctx: WebContext): Promise<Job[]> {
  const out: Job[] = [];
  for (const status of ['processing', 'queued']) {
    const { res, body } = await ctx.apiJson<{ jobs?: Job[] }>(
      `/api/v1/assets/jobs?status=${status}&limit=10`,
    );
    if (res.ok) out.push(...(body?.jobs ?? []));
  }
  return out;
}

/** A finished, failed or still running job as the page shows it. */
function jobAnswer(job: Job): Response {
  // The card (swapped by its outerHTML) becomes the result line; the asset lands first in the gallery.
  if (job.status === 'completed' && job.asset)
    return htmlAnswer(resultWithGallery(itemFromResponse(job.asset)));
  if (job.status === 'completed')
    return htmlAnswer(box('success', 'Done. Reload the page to see it in your gallery.', null, 'status'));
  if (job.status === 'failed') return htmlAnswer(jobFailed(job));
  return htmlAnswer(jobCard(job));
}

/** Streams a stored file back from the gateway with the owner's credentials. */
async function proxyFile(ctx: WebContext, id: string, kind: 'file' | 'preview', attach: boolean) {
  if (!UUID.test(id)) return json({ detail: 'Not Found' }, 404);
  const headers: Record<string, string> = { accept: '*/*' };
  for (const h of ['range', 'if-none-match', 'if-range']) {
    const v = ctx.request.headers.get(h);
    if (v) headers[h] = v;
  }
  const res = await ctx.api(`/api/v1/assets/${id}/${kind}`, { headers, signal: ctx.request.signal });
  const out = new Headers();
  for (const h of [
    'content-type',
    'content-length',
    'content-range',
    'accept-ranges',
    'etag',
    'cache-control',
    'content-disposition',
    'last-modified',
  ]) {
    const v = res.headers.get(h);
    if (v) out.set(h, v);
  }
  if (!res.ok && res.status !== 304 && res.status !== 206) {
    await res.body?.cancel();
    return json(
      { detail: res.status === 410 ? 'Asset file is no longer available' : 'Not Found' },
      res.status === 410 ? 410 : 404,
    );
  }
  if (attach) {
    const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? `${id}`;
    out.set('content-disposition', `attachment; filename="${name.replace(/[^\w.-]/g, '_')}"`);
  }
  if (!out.has('cache-control')) out.set('cache-control', 'private, max-age=3600');
  return new Response(res.body, { status: res.status, headers: out });
}

export function assetRoutes(kit: Kit) {
  const { config } = kit.s;
  return new Elysia({ name: 'gaia-web-assets' })
    .get(
      '/assets',
      kit.handler('page', async (ctx) => {
        const [items, jobs, spent] = await Promise.all([galleryHtml(ctx), activeJobs(ctx), spentToday(ctx)]);
        const page = documentPage(pageLayout('assets', studioPage({ items, jobs, spentToday: spent })), {
          debug: config.debug,
        });
        return htmlAnswer(page, { headers: { 'content-security-policy': STUDIO_CSP } });
      }),
    )
    .post(
      '/assets/estimate',
      kit.handler('fragment', async (ctx) => {
        const { request, problem } = requestFrom(await readForm(ctx.request));
        if (problem) return htmlAnswer(estimateProblem(problem));
        // The estimator validates the whole request; describe what is missing rather than repeating it.
        if (!request.description) request.description = 'estimate';
        if (!request.style) return htmlAnswer(estimateProblem('Give a style to see the price.'));
        const { res, body } = await ctx.apiJson('/api/v0.2/assets/pricing/cost-estimator/estimate', {
          json: { asset_request: request },
        });
        if (res.ok) return htmlAnswer(estimateView(body));
        return htmlAnswer(estimateProblem(validationText(body) || 'No estimate available.'));
      }),
      { parse: 'none' },
    )
    .post(
      '/assets/generate',
      kit.handler('fragment', async (ctx) => {
        const { request, problem } = requestFrom(await readForm(ctx.request));
        if (problem) return htmlAnswer(box('error', problem));
        if (!request.style || !request.description)
          return htmlAnswer(box('error', 'Please give a style and a description.'));
        request.preferences = { ...(request.preferences as object), max_wait_time_ms: SYNC_WAIT_MS };
        const { res, body } = await ctx.apiJson<any>('/api/v1/assets/generate', { json: request });
        if (res.status === 200 && body?.asset_id)
          return htmlAnswer(resultWithGallery(itemFromResponse(body)));
        if (res.status === 202 && typeof body?.job_id === 'string')
          return htmlAnswer(
            html`<p class="text-sm text-slate-300">This one takes a while: follow it below.</p>
<div hx-swap-oob="afterbegin:#asset-jobs">${jobCard({ ...body, progress: body.progress ?? null })}</div>`,
          );
        if (res.status === 402) return htmlAnswer(budgetRefusal(detailOf(body), await spentToday(ctx)));
        if (res.status === 429)
          return htmlAnswer(
            box('error', 'Too many generations at once. Please wait a moment and try again.'),
          );
        if (res.status === 422 || res.status === 400 || res.status === 413)
          return htmlAnswer(box('error', validationText(body) || 'The request was not accepted.'));
        return htmlAnswer(box('error', detailOf(body) || 'Generation failed. Please try again.'));
      }),
      { parse: 'none' },
    )
    .get(
      '/assets/jobs/:id',
      kit.handler('fragment', async (ctx, p) => {
        const id = p.id ?? '';
        if (!UUID.test(id)) return htmlAnswer(box('error', 'No such job.'));
        const { res, body } = await ctx.apiJson<Job>(`/api/v1/assets/jobs/${id}`);
        if (!res.ok || !body)
          return htmlAnswer(
            html`<div id="asset-job-${id}">${box('error', detailOf(body) || 'This job is no longer available.')}</div>`,
          );
        return jobAnswer(body);
      }),
    )
    .get(
      '/assets/:id/file',
      kit.handler('json', (ctx, p) => proxyFile(ctx, p.id ?? '', 'file', false)),
    )
    .get(
      '/assets/:id/preview',
      kit.handler('json', (ctx, p) => proxyFile(ctx, p.id ?? '', 'preview', false)),
    )
    .get(
      '/assets/:id/download',
      kit.handler('json', (ctx, p) => proxyFile(ctx, p.id ?? '', 'file', true)),
    );
}
