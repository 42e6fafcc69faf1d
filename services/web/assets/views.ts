/**
 * The markup of the assets studio: the request form with its live estimate, job progress cards that poll
 * until the job ends, and gallery cards that preview each kind of file in the page (an image, an audio
 * player, a 3D viewer for GLB). Files are shown through this site's own `/assets/{id}/…` routes, which
 * stream them from the gateway with the user's credentials, so nothing is loaded from another origin.
 */
import { type Html, html, raw } from '../html.ts';
import { BTN_PRIMARY, BTN_SECONDARY, box, CARD, INPUT, LINK } from '../layout.ts';

export const CATEGORIES: Array<[string, string]> = [
  ['image', 'Image'],
  ['texture', 'Texture (seamless)'],
  ['prop', '3D prop'],
  ['character', '3D character'],
  ['environment', '3D environment'],
  ['audio', 'Audio'],
];
export const QUALITIES = ['low', 'medium', 'high', 'ultra'] as const;

/** One asset as both the list route and a finished generation describe it. */
export interface GalleryItem {
  id: string;
  category: string;
  title: string;
  style: string;
  provider: string;
  format: string;
  sizeMb: number | null;
  cost: number;
  /** The signed link engines fetch directly (GAIA_PUBLIC_URL). */
  signedUrl: string | null;
  createdAt: string | null;
  reused: boolean;
}

export interface Job {
  job_id: string;
  status: 'queued' | 'processing' | 'completed' | 'failed';
  progress: number | null;
  category?: string;
  provider?: string;
  estimated_cost?: number;
  asset_id?: string | null;
  asset?: any;
  error?: { message?: string; type?: string } | null;
}

export const usd = (n: number): string => `$${(Number.isFinite(n) ? n : 0).toFixed(4)}`;

function str(v: unknown, fallback = ''): string {
  return typeof v === 'string' ? v : fallback;
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** A row of `GET /api/v1/assets`. */
export function itemFromList(a: any): GalleryItem {
  return {
    id: str(a?.asset_id),
    category: str(a?.category),
    title: str(a?.title, 'Untitled'),
    style: str(a?.style),
    provider: str(a?.provider),
    format: str(a?.file_format),
    sizeMb: num(a?.file_size_mb),
    cost: num(a?.cost) ?? 0,
    signedUrl: str(a?.download_url) || null,
    createdAt: str(a?.created_at) || null,
    reused: false,
  };
}

/** An `AssetResponse` (a generation's answer, or a finished job's `asset`). */
export function itemFromResponse(r: any): GalleryItem {
  const meta = r?.metadata ?? {};
  const data = r?.asset_data ?? {};
  return {
    id: str(r?.asset_id),
    category: str(meta.category ?? r?.category),
    title: str(meta.title, 'Untitled'),
    style: str(meta.style),
    provider: str(meta.provider ?? r?.storage_info?.external_source),
    format: str(data.file_format),
    sizeMb: num(data.file_size_mb),
    cost: num(r?.cost) ?? 0,
    signedUrl: str(data.download_url) || null,
    createdAt: str(meta.generated_at ?? r?.created_at) || null,
    reused: r?.source === 'database',
  };
}

const PREVIEW_STYLE = 'width:100%;aspect-ratio:1/1;object-fit:cover;display:block';

function previewOf(a: GalleryItem): Html {
  const id = encodeURIComponent(a.id);
  const file = `/assets/${id}/file`;
  const preview = `/assets/${id}/preview`;
  if (a.format === 'glb')
    return html`<model-viewer class="asset-model rounded-lg bg-slate-900" src="${file}" poster="${preview}" alt="${a.title}" camera-controls style="${PREVIEW_STYLE};height:auto"></model-viewer>`;
  const img = html`<img class="rounded-lg bg-slate-900" src="${preview}" alt="${a.title}" loading="lazy" style="${PREVIEW_STYLE}">`;
  if (a.category === 'audio')
    return html`${img}<audio class="asset-audio w-full mt-2" controls preload="metadata" src="${file}"></audio>`;
  return img;
}

export function galleryCard(a: GalleryItem, fresh = false): Html {
  const id = encodeURIComponent(a.id);
  const details = [
    a.category,
    a.provider,
    a.format.toUpperCase(),
    a.sizeMb !== null ? `${a.sizeMb < 0.01 ? '<0.01' : a.sizeMb.toFixed(2)} MB` : '',
    usd(a.cost),
  ].filter(Boolean);
  return html`<article class="asset-card bg-slate-800/50 border border-slate-700 rounded-xl p-3 shadow-lg${fresh ? ' animate-fadeIn' : ''}" data-asset-id="${a.id}" data-category="${a.category}" data-format="${a.format}">
${previewOf(a)}
<h3 class="text-white font-medium mt-2 truncate" title="${a.title}">${a.title}</h3>
<p class="text-xs text-slate-400">${details.join(' · ')}${a.reused ? ' · reused' : ''}</p>
${a.createdAt ? html`<p class="text-xs text-slate-500"><time datetime="${a.createdAt}">${a.createdAt.slice(0, 16).replace('T', ' ')} UTC</time></p>` : null}
<div class="flex items-center gap-2 mt-2">
<a class="${BTN_SECONDARY} text-xs" href="/assets/${id}/download" download>Download</a>
${a.signedUrl ? html`<button type="button" class="${BTN_SECONDARY} text-xs" data-asset-copy="${a.signedUrl}" title="A signed link that game engines can fetch without credentials">Copy link</button>` : null}
</div>
</article>`;
}

export function gallery(items: GalleryItem[]): Html {
  return html`<div id="asset-gallery" class="grid grid-cols-1 md:grid-cols-3 gap-4">${items.map((a) => galleryCard(a))}</div>
<p id="asset-gallery-empty" class="text-slate-400 text-sm${items.length ? ' hidden' : ''}">No assets yet. Describe one above to make your first.</p>`;
}

/** The new asset in the result area, and the same card put first in the gallery. */
export function resultWithGallery(a: GalleryItem): Html {
  const msg = a.reused
    ? `Reused an identical asset you already had (cost ${usd(0)}).`
    : `Generated with ${a.provider || 'the provider'} for ${usd(a.cost)}.`;
  return html`${box('success', msg, null, 'status')}
<div hx-swap-oob="afterbegin:#asset-gallery">${galleryCard(a, true)}</div>
<p id="asset-gallery-empty" class="text-slate-400 text-sm hidden" hx-swap-oob="true"></p>`;
}

export function jobCard(job: Job): Html {
  const id = encodeURIComponent(job.job_id);
  const pct = typeof job.progress === 'number' ? Math.max(0, Math.min(100, Math.round(job.progress))) : null;
  const label = job.status === 'queued' ? 'Waiting for a free slot' : 'Generating';
  return html`<div class="asset-job ${CARD}" id="asset-job-${job.job_id}" data-job-status="${job.status}" hx-get="/assets/jobs/${id}" hx-trigger="every 1s" hx-swap="outerHTML" role="status">
<div class="flex items-center justify-between mb-2"><span class="text-white font-medium">${label}${job.category ? ` a ${job.category}` : ''}${job.provider ? ` with ${job.provider}` : ''}…</span>
<span class="asset-job-progress text-sm text-slate-300">${pct === null ? '' : `${pct}%`}</span></div>
<div class="w-full bg-slate-700 rounded-full overflow-hidden" style="height:0.5rem"><div class="bg-gradient-to-r from-purple-600 to-pink-600 h-full rounded-full transition-all" style="width:${pct ?? 5}%"></div></div>
<p class="text-xs text-slate-400 mt-2">It keeps going if you leave this page; it will be in your gallery when it is done.${job.estimated_cost !== undefined ? ` Estimated cost ${usd(job.estimated_cost)}.` : ''}</p>
</div>`;
}

export function jobFailed(job: Job): Html {
  return html`<div id="asset-job-${job.job_id}">${box('error', `Generation failed: ${job.error?.message || 'the provider did not finish'}. Nothing was charged beyond what the provider billed.`)}</div>`;
}

/** A budget refusal, said plainly with what today has cost so far. */
export function budgetRefusal(detail: string, spentToday: number | null): Html {
  return html`<div id="asset-budget-refusal">${box(
    'error',
    `Not generated: ${detail || 'over budget'}.`,
    spentToday === null
      ? null
      : html`<p class="text-sm mt-1">Spent on assets today: <strong class="asset-spent-today">${usd(spentToday)}</strong>. Nothing was charged for this request.</p>`,
  )}</div>`;
}

export function estimateView(e: any): Html {
  const cost = num(e?.estimated_cost) ?? 0;
  const provider = str(e?.provider);
  const over = e?.within_max_cost === false;
  return html`<p class="text-sm text-slate-300">Estimated cost: <strong class="text-white" id="asset-estimate-cost">${usd(cost)}</strong>${provider ? html` with <span class="text-purple-400">${provider}</span>` : null}.</p>
${e?.reuse_available ? html`<p class="text-xs text-green-200 mt-1">You already have an identical asset: it will be reused for ${usd(0)}.</p>` : null}
${over ? html`<p class="text-xs text-yellow-200 mt-1">That is above your max cost of ${usd(num(e?.max_cost) ?? 0)}: the request would be refused.</p>` : null}`;
}

export function estimateProblem(text: string): Html {
  return html`<p class="text-sm text-yellow-200">${text}</p>`;
}

export function studioPage(o: { items: Html; jobs: Job[]; spentToday: number | null }): Html {
  return html`<h1 class="text-3xl font-bold text-white mb-2">Assets studio</h1>
<p class="text-slate-400 mb-6">Describe an image, a seamless texture, a 3D model or a sound. The price is shown before anything is spent.
${o.spentToday !== null ? html`<span class="text-slate-300">Spent today: <strong id="asset-spent-today" class="text-white">${usd(o.spentToday)}</strong>.</span>` : null}</p>
<section class="${CARD} mb-8">
<form id="asset-form" class="grid grid-cols-1 md:grid-cols-3 gap-4" hx-post="/assets/generate" hx-target="#asset-result" hx-swap="innerHTML" hx-disabled-elt="#asset-generate-button" hx-disinherit="*">
<div><label for="asset-category" class="block text-sm text-slate-300 mb-1">Category</label>
<select id="asset-category" name="category" class="${INPUT}">${CATEGORIES.map(([v, l]) => html`<option value="${v}">${l}</option>`)}</select></div>
<div><label for="asset-style" class="block text-sm text-slate-300 mb-1">Style</label>
<input id="asset-style" name="style" type="text" required maxlength="100" value="fantasy" placeholder="fantasy, sci_fi, low_poly, ambient-calm…" class="${INPUT}"></div>
<div><label for="asset-quality" class="block text-sm text-slate-300 mb-1">Quality</label>
<select id="asset-quality" name="quality" class="${INPUT}">${QUALITIES.map((q) => html`<option value="${q}"${q === 'medium' ? raw(' selected') : ''}>${q}</option>`)}</select></div>
<div class="md:col-span-2"><label for="asset-description" class="block text-sm text-slate-300 mb-1">Description</label>
<textarea id="asset-description" name="description" required maxlength="4000" rows="3" placeholder="A glowing magical sword with runes" class="${INPUT}"></textarea></div>
<div><label for="asset-max-cost" class="block text-sm text-slate-300 mb-1">Max cost (USD)</label>
<input id="asset-max-cost" name="max_cost" type="number" min="0" step="0.01" value="0.50" class="${INPUT}"></div>
<div class="md:col-span-3 flex items-center justify-between gap-4 flex-wrap">
<div id="asset-estimate" aria-live="polite" hx-post="/assets/estimate" hx-target="this" hx-include="#asset-form" hx-trigger="load, change from:#asset-form, input delay:400ms from:#asset-form" hx-swap="innerHTML"><p class="text-sm text-slate-400">Estimating…</p></div>
<button id="asset-generate-button" type="submit" class="${BTN_PRIMARY}">Generate</button>
</div>
</form>
<div id="asset-result" class="mt-4 space-y-3" aria-live="polite"></div>
</section>
<section class="${CARD}">
<h2 class="text-xl font-semibold text-white mb-4">Your assets</h2>
<div id="asset-jobs" class="space-y-3 mb-4">${o.jobs.map(jobCard)}</div>
${o.items}
<p class="text-xs text-slate-500 mt-4">“Copy link” copies a signed download link (valid for a limited time) that engines and scripts can fetch without signing in. See also your <a class="${LINK}" href="/usage">usage</a>.</p>
</section>
<script src="/static/js/assets.js" defer></script>
<script type="module" src="/static/vendor/model-viewer.min.js"></script>`;
}
