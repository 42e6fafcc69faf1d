/**
 * The knowledge-base page's HTML: the folder tree on the left, the file, editor or search results on the
 * right. All user text goes through the escaping template; rendered Markdown comes from the shared
 * renderer, which escapes raw HTML itself.
 */
import { type Html, html, type Renderable, raw } from '../html.ts';
import { BTN_PRIMARY, BTN_SECONDARY, box, CARD, INPUT, LINK } from '../layout.ts';
import { kbHref, queryPath, renderMarkdown } from '../markdown.ts';
import type { KbAccess, KbCommit, KbFile, KbListing, KbMe, KbSearchResult } from './service.ts';

/** The messages a failed KB call shows, by status. */
export function kbErrorText(status: number, detail = ''): string {
  if (status === 403) return "You don't have access to this file.";
  if (status === 404) return 'File not found.';
  if (status === 400) return 'Invalid path.';
  if (status === 413) return 'This file is too large.';
  if (status === 503) return 'The knowledge base is not available right now. Please try again in a moment.';
  if (status === 422) return detail || 'The content was not accepted.';
  return detail || 'Something went wrong. Please try again.';
}

export function dirHref(dir: string): string {
  return `/kb?path=${queryPath(dir)}`;
}

export function fileHref(path: string): string {
  return kbHref(path);
}

function baseName(path: string): string {
  const p = path.replace(/\/+$/, '');
  return p.slice(p.lastIndexOf('/') + 1);
}

export function parentDir(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

export function isMarkdown(path: string): boolean {
  return /\.md$/i.test(path);
}

/** A date the way every reader sees the same one (commit times are UTC). */
export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function treeLink(dir: string, label: Renderable, extra = ''): Html {
  return html`<a href="${dirHref(dir)}" hx-get="${dirHref(dir)}" hx-target="#kb-tree" hx-swap="innerHTML" hx-push-url="true" class="kb-dir flex items-center gap-2 py-1 px-2 rounded-lg text-slate-200 hover:text-white hover:bg-slate-700/50 break-all${extra}"><span aria-hidden="true">📁</span><span>${label}</span></a>`;
}

function fileLink(path: string, name: string, current: boolean): Html {
  return html`<a href="${fileHref(path)}" hx-get="${fileHref(path)}" hx-target="#kb-content" hx-swap="innerHTML" hx-push-url="true" class="kb-file flex items-center gap-2 py-1 px-2 rounded-lg break-all ${current ? 'bg-slate-700/60 text-white' : 'text-slate-300 hover:text-white hover:bg-slate-700/50'}"${current ? raw(' aria-current="page"') : ''}><span aria-hidden="true">📄</span><span>${name}</span></a>`;
}

/** The label of a namespace folder: "My notes" for one's own, otherwise the folder's name. */
function segmentLabel(prefix: string, seg: string, meId: string | null): string {
  if (meId && prefix === 'users' && seg === meId) return 'My notes';
  return seg;
}

export function breadcrumb(dir: string, meId: string | null): Html {
  const segs = dir ? dir.split('/') : [];
  const crumbs: Html[] = [];
  let acc = '';
  crumbs.push(
    segs.length === 0
      ? html`<li><span class="text-white font-medium" aria-current="page">Knowledge base</span></li>`
      : html`<li><a href="${dirHref('')}" hx-get="${dirHref('')}" hx-target="#kb-tree" hx-swap="innerHTML" hx-push-url="true" class="${LINK}">Knowledge base</a></li>`,
  );
  segs.forEach((seg, i) => {
    const label = segmentLabel(acc, seg, meId);
    acc = acc ? `${acc}/${seg}` : seg;
    const last = i === segs.length - 1;
    crumbs.push(html`<li aria-hidden="true" class="text-slate-500">/</li>`);
    crumbs.push(
      last
        ? html`<li><span class="text-white font-medium break-all" aria-current="page">${label}</span></li>`
        : html`<li><a href="${dirHref(acc)}" hx-get="${dirHref(acc)}" hx-target="#kb-tree" hx-swap="innerHTML" hx-push-url="true" class="${LINK} break-all">${label}</a></li>`,
    );
  });
  return html`<nav id="kb-breadcrumb" aria-label="Breadcrumb" class="text-sm mb-3"><ol class="flex flex-wrap items-center gap-1">${crumbs}</ol></nav>`;
}

export interface TreeData {
  dir: string;
  meId: string | null;
  me?: KbMe | null;
  listing?: KbListing | null;
  /** A failed listing: the message shown instead of the entries. */
  error?: string | null;
  currentFile?: string | null;
}

function rootNamespaces(me: KbMe): Html {
  const items: Html[] = [
    html`<li>${treeLink(`users/${me.user_id}`, 'My notes')}</li>`,
    html`<li>${treeLink('shared', 'shared/')}</li>`,
  ];
  for (const t of me.teams ?? [])
    items.push(
      html`<li>${treeLink(`teams/${t.name}`, html`${t.name}/ <span class="text-xs text-slate-400">team</span>`)}</li>`,
    );
  for (const w of me.workspaces ?? [])
    items.push(
      html`<li>${treeLink(`workspaces/${w.name}`, html`${w.name}/ <span class="text-xs text-slate-400">workspace</span>`)}</li>`,
    );
  return html`<h2 class="text-xs uppercase tracking-wide text-slate-400 mb-1">Namespaces</h2><ul class="space-y-1 mb-4" id="kb-namespaces">${items}</ul>`;
}

/** The inside of `#kb-tree`: the breadcrumb, then folders, then files. */
export function treeView(t: TreeData): Html {
  const top = t.dir === '' && t.me ? rootNamespaces(t.me) : null;
  let entries: Html;
  if (t.error) entries = box('error', t.error);
  else {
    const l = t.listing;
    // At the root the namespaces are listed above; the containers stay for folders shared by others.
    const dirs = (l?.directories ?? []).filter((d) => !(t.dir === '' && t.me && d.name === 'shared'));
    const files = l?.files ?? [];
    entries =
      dirs.length + files.length === 0
        ? html`<p class="text-sm text-slate-400">This folder is empty.</p>`
        : html`<ul class="space-y-1" id="kb-entries">${dirs.map((d) => html`<li>${treeLink(d.path || (t.dir ? `${t.dir}/${d.name}` : d.name), `${d.name}/`)}</li>`)}${files.map((f) => html`<li>${fileLink(f.path, f.name, f.path === t.currentFile)}</li>`)}</ul>`;
    if (top && dirs.length + files.length > 0)
      entries = html`<h2 class="text-xs uppercase tracking-wide text-slate-400 mb-1">Folders and files</h2>${entries}`;
  }
  const create = t.error
    ? null
    : html`<p class="mt-3"><a id="kb-new-file" href="/kb/new?path=${queryPath(t.dir)}" hx-get="/kb/new?path=${queryPath(t.dir)}" hx-target="#kb-content" hx-swap="innerHTML" hx-push-url="true" class="${LINK} text-sm">+ New file${t.dir ? ' here' : ''}</a></p>`;
  return html`${breadcrumb(t.dir, t.meId)}${top}${entries}${create}`;
}

export function isNamespaceRoot(dir: string, meId: string | null, me?: KbMe | null): boolean {
  if (dir === 'shared' || (meId && dir === `users/${meId}`)) return true;
  const [a, b, ...rest] = dir.split('/');
  if (rest.length || !b) return false;
  if (a === 'teams') return !!me?.teams?.some((t) => t.name === b);
  if (a === 'workspaces') return !!me?.workspaces?.some((w) => w.name === b);
  return false;
}

/** Matched terms wrapped in `<mark>`; the excerpt is escaped piece by piece, so no term can break markup. */
export function highlight(text: string, terms: string[]): Html {
  const clean = [...new Set(terms.map((t) => t.trim()).filter(Boolean))].sort((a, b) => b.length - a.length);
  if (clean.length === 0) return html`${text}`;
  const alternatives = clean.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|');
  // A term is a whole word or the start of one, the way the KB splits text into terms.
  const re = new RegExp(`(?<![\\p{L}\\p{N}])(?:${alternatives})`, 'giu');
  const parts: Html[] = [];
  let last = 0;
  for (const m of text.matchAll(re)) {
    const at = m.index ?? 0;
    parts.push(html`${text.slice(last, at)}<mark>${m[0]}</mark>`);
    last = at + m[0].length;
  }
  parts.push(html`${text.slice(last)}`);
  return html`${parts}`;
}

export function fileTitle(file: KbFile): string {
  const t = file.frontmatter?.title;
  if (typeof t === 'string' && t.trim()) return t.trim();
  return baseName(file.path);
}

export interface FileViewData {
  file: KbFile;
  access: KbAccess | null;
  commit: KbCommit | null;
  /** A message shown above the file (after a save without htmx). */
  notice?: Html | null;
}

export function fileView(d: FileViewData): Html {
  const f = d.file;
  const canWrite = d.access?.can?.write === true;
  const body = isMarkdown(f.path)
    ? html`<div class="kb-markdown" hx-boost="true" hx-target="#kb-content" hx-swap="innerHTML">${raw(renderMarkdown(f.content ?? '', { fromPath: f.path, headingIds: true }))}</div>`
    : html`<pre class="kb-pre">${f.content ?? ''}</pre>`;
  const keywords = (f.keywords ?? []).length
    ? html`<div class="flex flex-wrap gap-2 mb-4">${f.keywords.map((k) => html`<span class="text-xs bg-slate-700 text-slate-200 rounded-full px-2 py-1">#${k}</span>`)}</div>`
    : null;
  const commit = d.commit
    ? html`<p id="kb-last-commit" class="text-xs text-slate-400">Last change by <span class="text-slate-300">${d.commit.author}</span>, <span title="${d.commit.date}">${formatDate(d.commit.date)}</span><span class="font-mono"> · ${d.commit.sha.slice(0, 7)}</span></p>`
    : html`<p id="kb-last-commit" class="text-xs text-slate-400">Modified ${formatDate(f.modified)}</p>`;
  return html`<article id="kb-file" data-path="${f.path}" data-sha="${f.sha}">
${d.notice ?? null}
<header class="flex flex-wrap items-start justify-between gap-4 mb-4 pb-4 border-b border-slate-700">
<div class="min-w-0">
<h1 id="kb-file-title" class="text-2xl font-bold text-white break-words">${fileTitle(f)}</h1>
<p id="kb-file-path" class="text-sm text-slate-400 font-mono break-all">${f.path}</p>
${commit}
</div>
${
  canWrite
    ? html`<a id="kb-edit-button" href="/kb/edit?path=${queryPath(f.path)}" hx-get="/kb/edit?path=${queryPath(f.path)}" hx-target="#kb-content" hx-swap="innerHTML" hx-push-url="true" class="${BTN_SECONDARY} text-sm">Edit</a>`
    : null
}
</header>
${keywords}
${body}
</article>`;
}

export interface EditorData {
  path: string;
  content: string;
  sha: string | null;
  message?: string;
  /** Line endings the file uses; browsers send textareas with CRLF, so the save restores these. */
  eol: 'lf' | 'crlf';
  error?: Html | null;
  /** A file that does not exist yet: its path is typed in, and the save must not replace anything. */
  isNew?: boolean;
}

export function editorView(d: EditorData): Html {
  const cancel = d.isNew ? dirHref(parentDir(d.path)) : fileHref(d.path);
  const cancelTarget = d.isNew ? '#kb-tree' : '#kb-content';
  const head = d.isNew
    ? html`<h1 class="text-2xl font-bold text-white mb-4">New file</h1>`
    : html`<h1 class="text-2xl font-bold text-white mb-1 break-words">Edit ${baseName(d.path)}</h1>
<p class="text-sm text-slate-400 font-mono break-all mb-4">${d.path}</p>`;
  const pathField = d.isNew
    ? html`<input type="hidden" name="new" value="1">
<div><label for="kb-editor-path" class="block text-sm text-slate-300 mb-1">Path</label>
<input id="kb-editor-path" name="path" type="text" required maxlength="1024" value="${d.path}" placeholder="folder/name.md" class="${INPUT} font-mono text-sm"></div>`
    : html`<input type="hidden" name="path" value="${d.path}">`;
  return html`${head}
<div id="kb-editor-message" class="mb-4" aria-live="polite">${d.error ?? null}</div>
<form id="kb-editor" method="post" action="/kb/file" hx-post="/kb/file" hx-target="#kb-content" hx-swap="innerHTML" class="space-y-4">
${pathField}
<input type="hidden" name="expected_sha" value="${d.sha ?? ''}">
<input type="hidden" name="eol" value="${d.eol}">
<div><label for="kb-editor-content" class="block text-sm text-slate-300 mb-1">Content</label>
<textarea id="kb-editor-content" name="content" rows="20" spellcheck="false" class="${INPUT} font-mono text-sm">
${d.content}</textarea></div>
<div><label for="kb-editor-commit-message" class="block text-sm text-slate-300 mb-1">Commit message</label>
<input id="kb-editor-commit-message" name="message" type="text" required maxlength="500" value="${d.message ?? ''}" placeholder="Describe your change" class="${INPUT}"></div>
<div class="flex items-center gap-2">
<button type="submit" class="${BTN_PRIMARY}">Save</button>
<a href="${cancel}" hx-get="${cancel}" hx-target="${cancelTarget}" hx-swap="innerHTML" hx-push-url="true" class="${BTN_SECONDARY}">Cancel</a>
</div>
</form>`;
}

/** The box a conflicting save shows: the text stays in the form, and a link loads the newer version. */
export function conflictBox(path: string): Html {
  const href = `/kb/edit?path=${queryPath(path)}`;
  return box(
    'error',
    'This file changed since you opened it.',
    html` <a id="kb-reload-link" href="${href}" hx-get="${href}" hx-target="#kb-content" hx-swap="innerHTML" class="${LINK} underline">Reload the latest version</a> <span class="text-xs">(copy your changes first: reloading replaces them)</span>`,
  );
}

export function searchView(q: string, path: string, r: KbSearchResult | null, error?: string | null): Html {
  if (!q.trim())
    return html`<p class="text-slate-400">Type in the search box to search the knowledge base.</p>`;
  const where = path ? html` in <span class="font-mono">${path}</span>` : null;
  if (error || !r)
    return html`<h1 class="text-xl font-semibold text-white mb-4">Search</h1>${box('error', error ?? 'Search failed.')}`;
  const summary =
    r.total === 0
      ? html`No results for “${q}”${where}.`
      : html`${r.total} ${r.total === 1 ? 'result' : 'results'} for “${q}”${where}${r.total > r.results.length ? html`, showing ${r.offset + 1}–${r.offset + r.results.length}` : null}.`;
  const pageLink = (offset: number, label: string, id: string) => {
    const params = new URLSearchParams({ q });
    if (path) params.set('path', path);
    if (offset > 0) params.set('offset', String(offset));
    const href = `/kb/search?${params}`;
    return html`<a id="${id}" href="${href}" hx-get="${href}" hx-target="#kb-content" hx-swap="innerHTML" class="${BTN_SECONDARY} text-sm">${label}</a>`;
  };
  const next = r.offset + r.results.length;
  const pager =
    r.offset > 0 || next < r.total
      ? html`<div class="flex items-center gap-2 mt-3">${r.offset > 0 ? pageLink(Math.max(0, r.offset - r.limit), 'Previous', 'kb-search-prev') : null}${next < r.total ? pageLink(next, 'Next', 'kb-search-next') : null}</div>`
      : null;
  const fallback =
    r.match === 'any' && r.total > 0
      ? html`<p class="text-xs text-slate-400 mb-3">No file contains every word; these contain some of them.</p>`
      : null;
  return html`<h1 class="text-xl font-semibold text-white mb-2">Search</h1>
<p id="kb-search-summary" class="text-sm text-slate-300 mb-2" role="status">${summary}</p>
${fallback}
<ol id="kb-search-results" class="space-y-3">${r.results.map(
    (h) => html`<li class="kb-result border border-slate-700 rounded-lg p-3" data-path="${h.path}">
<a href="${fileHref(h.path)}" hx-get="${fileHref(h.path)}" hx-target="#kb-content" hx-swap="innerHTML" hx-push-url="true" class="${LINK} font-semibold break-words">${h.title || baseName(h.path)}</a>
<p class="text-xs text-slate-400 font-mono break-all">${h.path}${h.line_number ? `:${h.line_number}` : ''}</p>
<p class="kb-excerpt text-sm text-slate-300 mt-1 break-words">${highlight(h.excerpt ?? '', h.matched_terms ?? [])}</p>
</li>`,
  )}</ol>
${pager}`;
}

export function welcomeView(dir: string): Html {
  return html`<div class="text-slate-400"><p>Choose a file on the left, or search above.</p>${
    dir ? html`<p class="text-xs mt-2">Folder: <span class="font-mono">${dir}</span></p>` : null
  }</div>`;
}

/** The whole page body: search on top, tree and content side by side from `md` up. */
export function kbPage(tree: Html, content: Html, q = ''): Html {
  return html`<h1 class="text-3xl font-bold text-white mb-4">Knowledge base</h1>
<div class="mb-4">
<label for="kb-search-input" class="sr-only">Search the knowledge base</label>
<input type="search" id="kb-search-input" name="q" value="${q}" autocomplete="off" placeholder="Search the knowledge base…" class="${INPUT}" hx-get="/kb/search" hx-trigger="input changed delay:300ms, search" hx-target="#kb-content" hx-swap="innerHTML">
</div>
<div class="grid grid-cols-1 md:grid-cols-3 gap-6">
<aside id="kb-tree" class="${CARD} md:col-span-1 min-w-0" aria-label="Files">${tree}</aside>
<section id="kb-content" class="${CARD} md:col-span-2 min-w-0">${content}</section>
</div>`;
}

/** A fragment for `#kb-content` that also refreshes the tree out of band. */
export function withTree(content: Html, tree: Html | null): Html {
  if (!tree) return content;
  return html`${content}<aside id="kb-tree" hx-swap-oob="innerHTML">${tree}</aside>`;
}
