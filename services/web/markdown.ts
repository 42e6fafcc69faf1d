/**
 * Markdown to HTML for pages that show user-written text (knowledge-base files now, chat replies later).
 * The text is untrusted: raw HTML is escaped, only http(s), mailto and tel links keep their address, and
 * links that point into the knowledge base (relative links, `[[wiki links]]`) stay inside the web UI
 * instead of sending the browser to a URL the author made up.
 */
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import csharp from 'highlight.js/lib/languages/csharp';
import css from 'highlight.js/lib/languages/css';
import diff from 'highlight.js/lib/languages/diff';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import lua from 'highlight.js/lib/languages/lua';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';
import MarkdownIt, { type StateCore, type StateInline, type Token } from 'markdown-it';

export interface MarkdownOptions {
  /**
   * The href for a knowledge-base path (KB-relative, no leading slash; a trailing `/` names a folder).
   * `fallback` is a second candidate to try when the first does not exist: a wiki link resolves against
   * the linking file's folder first, then the KB root, and only the server can tell which one exists.
   * Return null to show the link text without a link. The default points at the `/kb` pages.
   */
  linkBase?: (target: string, fallback?: string) => string | null;
  /** The KB path of the file being rendered, for links relative to its folder. */
  fromPath?: string;
  /**
   * Give headings `id="md-<slug>"` so `#heading` links land. Off by default: a page that renders many
   * documents (a chat) would repeat ids.
   */
  headingIds?: boolean;
  /** Wrap fenced code in a block with a Copy button (chat replies). */
  codeCopy?: boolean;
}

/** A KB path as a query value; `/` stays readable, as it may in a query string. */
export function queryPath(path: string): string {
  return encodeURIComponent(path).replace(/%2F/g, '/');
}

/** Where the web UI shows a KB file or folder. */
export function kbHref(target: string, fallback?: string): string {
  if (target.endsWith('/') || target === '') return `/kb?path=${queryPath(target)}`;
  const base = `/kb/file?path=${queryPath(target)}`;
  return fallback ? `${base}&fallback=${queryPath(fallback)}` : base;
}

interface RenderEnv {
  linkBase: (target: string, fallback?: string) => string | null;
  fromDir: string;
  headingIds: boolean;
  codeCopy: boolean;
}

/*
 * The languages people paste most into chats and notes. Only code whose fence names one of them is
 * coloured: guessing the language of every block costs time on each streamed re-render and guesses wrong.
 */
const LANGUAGES: Array<[string, Parameters<typeof hljs.registerLanguage>[1]]> = [
  ['bash', bash],
  ['c', c],
  ['cpp', cpp],
  ['csharp', csharp],
  ['css', css],
  ['diff', diff],
  ['go', go],
  ['java', java],
  ['javascript', javascript],
  ['json', json],
  ['lua', lua],
  ['markdown', markdown],
  ['python', python],
  ['rust', rust],
  ['sql', sql],
  ['typescript', typescript],
  ['xml', xml],
  ['yaml', yaml],
];
for (const [name, lang] of LANGUAGES) hljs.registerLanguage(name, lang);

/** Highlighted HTML for `code` (highlight.js escapes what it emits), or null for an unknown language. */
export function highlightCode(code: string, lang: string): string | null {
  const name = lang.trim().toLowerCase();
  if (!name || !hljs.getLanguage(name)) return null;
  try {
    return hljs.highlight(code, { language: name, ignoreIllegals: true }).value;
  } catch {
    return null;
  }
}

const SAFE_SCHEMES = new Set(['http', 'https', 'mailto', 'tel']);
const EXTERNAL_SCHEMES = new Set(['http', 'https']);
const NAMESPACE_PREFIX = /^(user|team|workspace):([^/]+)\/?(.*)$/;

/** An id-friendly form of a heading, close to what GitHub and Obsidian produce. */
export function slugify(text: string): string {
  return text
    .normalize('NFC')
    .toLowerCase()
    .trim()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s+/g, '-');
}

function dirOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

/**
 * `rel` applied to the folder `base`, with `.` and `..` resolved. Null when it climbs above the root:
 * such a link can only be a mistake or a probe, and the server would refuse it anyway.
 */
export function resolveKbPath(base: string, rel: string): string | null {
  const segs = base ? base.split('/').filter(Boolean) : [];
  const parts = rel.split('/');
  const dir = rel.endsWith('/');
  for (const s of parts) {
    if (s === '' || s === '.') continue;
    if (s === '..') {
      if (segs.length === 0) return null;
      segs.pop();
      continue;
    }
    segs.push(s);
  }
  const out = segs.join('/');
  return dir && out ? `${out}/` : out;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function withMd(path: string): string {
  if (path === '' || path.endsWith('/')) return path;
  const last = path.slice(path.lastIndexOf('/') + 1);
  return /\.[A-Za-z][A-Za-z0-9]{0,7}$/.test(last) ? path : `${path}.md`;
}

function fragment(hash: string | undefined): string {
  if (hash === undefined) return '';
  const slug = slugify(safeDecode(hash));
  return slug ? `#md-${slug}` : '';
}

function joinHref(href: string | null, hash: string): string | null {
  if (href === null) return null;
  return href + hash;
}

/** The href of a `[[wiki link]]` target (the part before `|`), or null to leave it unlinked. */
function wikiHref(target: string, env: RenderEnv): string | null {
  const hashAt = target.indexOf('#');
  const pathPart = (hashAt < 0 ? target : target.slice(0, hashAt)).trim();
  const hash = fragment(hashAt < 0 ? undefined : target.slice(hashAt + 1));
  if (pathPart === '') return hash || null;
  const ns = NAMESPACE_PREFIX.exec(pathPart);
  let absolute: string | null = null;
  if (ns) absolute = `${ns[1]}s/${ns[2]}/${ns[3] ?? ''}`;
  else if (pathPart.startsWith('shared:')) absolute = `shared/${pathPart.slice(7).replace(/^\/+/, '')}`;
  else if (pathPart.startsWith('/')) absolute = pathPart;
  if (absolute !== null) {
    const p = resolveKbPath('', absolute);
    return p ? joinHref(env.linkBase(withMd(p)), hash) : null;
  }
  const near = resolveKbPath(env.fromDir, pathPart);
  const root = resolveKbPath('', pathPart);
  if (near === null && root === null) return null;
  if (near === null) return joinHref(env.linkBase(withMd(root!)), hash);
  const nearMd = withMd(near);
  const rootMd = root === null ? null : withMd(root);
  return joinHref(rootMd && rootMd !== nearMd ? env.linkBase(nearMd, rootMd) : env.linkBase(nearMd), hash);
}

type LinkKind = { kind: 'external'; href: string } | { kind: 'local'; href: string | null };

/** Classifies a Markdown link destination (already normalised by markdown-it). */
function classify(url: string, env: RenderEnv): LinkKind {
  // Browsers ignore tabs, newlines and leading control characters inside a scheme ("java\tscript:"), so
  // the scheme is judged on the string without them.
  const squashed = url.replace(/[\u0000-\u0020\u007f]/g, '');
  const scheme = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(squashed)?.[1]?.toLowerCase();
  if (scheme !== undefined) {
    if (!SAFE_SCHEMES.has(scheme)) return { kind: 'local', href: null };
    return EXTERNAL_SCHEMES.has(scheme) ? { kind: 'external', href: url } : { kind: 'local', href: url };
  }
  if (squashed.startsWith('//')) return { kind: 'external', href: url };
  const hashAt = url.indexOf('#');
  let pathPart = hashAt < 0 ? url : url.slice(0, hashAt);
  const hash = fragment(hashAt < 0 ? undefined : url.slice(hashAt + 1));
  const q = pathPart.indexOf('?');
  if (q >= 0) pathPart = pathPart.slice(0, q);
  pathPart = safeDecode(pathPart);
  if (pathPart === '') return { kind: 'local', href: hash || null };
  let resolved: string | null;
  // A leading slash (or the old `/kb/` form) means the KB root, as the KB itself reads such paths.
  if (pathPart.startsWith('/')) resolved = resolveKbPath('', pathPart.replace(/^\/kb\//, '/'));
  else resolved = resolveKbPath(env.fromDir, pathPart);
  if (resolved === null || resolved === '') return { kind: 'local', href: resolved === '' ? '/kb' : null };
  return { kind: 'local', href: joinHref(env.linkBase(resolved), hash) };
}

function setHref(token: Token, href: string | null): void {
  token.attrs = (token.attrs ?? []).filter(([k]) => k !== 'href' && k !== 'target' && k !== 'rel');
  if (href !== null) token.attrs.unshift(['href', href]);
}

function rewriteLinks(children: Token[], env: RenderEnv, TokenCtor: typeof Token): Token[] {
  const out: Token[] = [];
  for (const t of children) {
    if (t.type === 'link_open') {
      if (t.meta?.wiki !== undefined) setHref(t, wikiHref(String(t.meta.wiki), env));
      else {
        const c = classify(String(t.attrGet('href') ?? ''), env);
        setHref(t, c.href);
        if (c.kind === 'external') {
          t.attrSet('rel', 'noopener noreferrer');
          t.attrSet('target', '_blank');
        }
      }
      out.push(t);
      continue;
    }
    if (t.type === 'image') {
      // Images are not fetched: the KB serves text only, and an image from elsewhere would make the page
      // call another site. The alt text stays, linked when the address is a safe external one.
      const alt = t.content || t.children?.map((c) => c.content).join('') || '';
      const c = classify(String(t.attrGet('src') ?? ''), env);
      const text = new TokenCtor('text', '', 0);
      text.content = alt || 'image';
      if (c.kind === 'external' && c.href) {
        const open = new TokenCtor('link_open', 'a', 1);
        open.attrs = [
          ['href', c.href],
          ['rel', 'noopener noreferrer'],
          ['target', '_blank'],
        ];
        out.push(open, text, new TokenCtor('link_close', 'a', -1));
      } else out.push(text);
      continue;
    }
    out.push(t);
  }
  return out;
}

function kbLinksRule(state: StateCore): void {
  const env = state.env as unknown as RenderEnv;
  const used = new Map<string, number>();
  const tokens = state.tokens;
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.type === 'inline' && t.children) t.children = rewriteLinks(t.children, env, state.Token);
    if (env.headingIds && t.type === 'heading_open') {
      const inline = tokens[i + 1];
      const text = inline?.children?.map((c) => c.content).join('') ?? inline?.content ?? '';
      const base = slugify(text);
      if (!base) continue;
      const n = used.get(base) ?? 0;
      used.set(base, n + 1);
      t.attrSet('id', `md-${n === 0 ? base : `${base}-${n}`}`);
    }
  }
}

/** `[[target]]`, `[[target|label]]`, `[[target#heading]]` on one line. */
function wikiLinkRule(state: StateInline, silent: boolean): boolean {
  const src = state.src;
  const start = state.pos;
  if (src.charCodeAt(start) !== 0x5b || src.charCodeAt(start + 1) !== 0x5b) return false;
  const end = src.indexOf(']]', start + 2);
  if (end < 0) return false;
  const inner = src.slice(start + 2, end);
  if (!inner.trim() || /[[\]\n]/.test(inner)) return false;
  if (!silent) {
    const bar = inner.indexOf('|');
    const target = (bar < 0 ? inner : inner.slice(0, bar)).trim();
    const label = (bar < 0 ? '' : inner.slice(bar + 1)).trim() || target;
    const open = state.push('link_open', 'a', 1);
    open.attrs = [['href', '']];
    open.meta = { wiki: target };
    open.markup = 'wikilink';
    const text = state.push('text', '', 0);
    text.content = label;
    state.push('link_close', 'a', -1).markup = 'wikilink';
  }
  state.pos = end + 2;
  return true;
}

function createParser() {
  const md = new MarkdownIt({ html: false, linkify: true, typographer: false });
  // "notes.md" is a file name, not a Moldovan domain: only addresses with a scheme become links.
  md.linkify.set({ fuzzyLink: false });
  // markdown-it would print a refused link as literal "[x](javascript:…)"; we keep the text and drop only
  // the address, so every destination reaches the rewrite rule, which decides.
  md.validateLink = () => true;
  md.inline.ruler.before('link', 'kb_wikilink', wikiLinkRule);
  md.core.ruler.push('kb_links', kbLinksRule);
  md.renderer.rules.fence = (tokens, idx, _options, envIn) => {
    const env = envIn as unknown as RenderEnv;
    const t = tokens[idx]!;
    const lang = (t.info.trim().split(/\s+/)[0] ?? '').replace(/[^\w+#.-]/g, '');
    const lit = highlightCode(t.content, lang);
    const langClass = lang ? ` class="hljs language-${md.utils.escapeHtml(lang)}"` : ' class="hljs"';
    const pre = `<pre><code${langClass}>${lit ?? md.utils.escapeHtml(t.content)}</code></pre>`;
    if (!env.codeCopy) return `${pre}\n`;
    const label = lang
      ? `<span class="code-lang">${md.utils.escapeHtml(lang)}</span>`
      : '<span class="code-lang"></span>';
    return `<div class="code-block"><div class="code-head">${label}<button type="button" class="code-copy" data-copy-code>Copy</button></div>${pre}</div>\n`;
  };
  // Wide tables scroll inside the reply instead of widening it.
  md.renderer.rules.table_open = () => '<div class="md-table"><table>\n';
  md.renderer.rules.table_close = () => '</table></div>\n';
  return md;
}

/**
 * Configured once and never changed afterwards; everything that differs per call travels in `env`, so two
 * stacks in one process can share it.
 */
const parser = createParser();

export function renderMarkdown(md: string, opts: MarkdownOptions = {}): string {
  const env: RenderEnv = {
    linkBase: opts.linkBase ?? kbHref,
    fromDir: dirOf((opts.fromPath ?? '').replace(/^\/+/, '')),
    headingIds: opts.headingIds ?? false,
    codeCopy: opts.codeCopy ?? false,
  };
  return parser.render(md, env as unknown as Record<string, unknown>);
}

/** A chat reply: the same rules as KB files, with a Copy button on fenced code. */
export function renderChatMarkdown(md: string): string {
  return renderMarkdown(md, { codeCopy: true });
}
