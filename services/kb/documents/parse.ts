/**
 * What a KB document means beyond its bytes: frontmatter, body, title, keywords (hashtags and tags), wiki
 * links and whether it is an index. Search, contexts, threads and the file objects all read documents
 * through `parseDocument`, so the rules live in one place. Pure functions, no disk.
 */
import { posix } from 'node:path';
import { parseAllDocuments, parseDocument as parseYamlDocument } from 'yaml';
import type { FieldError } from '../../../src/http/errors.ts';
import { checkPath, hasTextExtension, isMarkdown } from '../paths/service.ts';
import type { ParsedDoc } from '../types.ts';

interface FrontmatterBlock {
  yaml: string;
  body: string;
}

/**
 * The frontmatter block: a first line `---`, then YAML, then a line `---` or `...`. Without the closing line
 * there is no block (a document that merely opens with a horizontal rule stays all body).
 */
function splitFrontmatter(text: string): FrontmatterBlock | null {
  const t = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const open = /^---[ \t]*\r?\n/.exec(t);
  if (!open) return null;
  let pos = open[0].length;
  while (pos <= t.length) {
    const nl = t.indexOf('\n', pos);
    const end = nl === -1 ? t.length : nl;
    const line = t.slice(pos, end);
    if (/^(?:---|\.\.\.)[ \t]*\r?$/.test(line)) {
      return { yaml: t.slice(open[0].length, pos), body: nl === -1 ? '' : t.slice(nl + 1) };
    }
    if (nl === -1) break;
    pos = nl + 1;
  }
  return null;
}

type YamlResult = { ok: true; value: Record<string, unknown> } | { ok: false; error: string };

function parseFrontmatterYaml(yaml: string): YamlResult {
  let value: unknown;
  try {
    // Duplicate keys are tolerated (last wins) because hand-edited notes have them and Python's loader
    // accepted them; the core schema keeps dates as the strings the author wrote.
    const doc = parseYamlDocument(yaml, { uniqueKeys: false });
    if (doc.errors.length > 0) throw doc.errors[0];
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    return { ok: false, error: `Frontmatter is not valid YAML: ${firstLine(err)}` };
  }
  // An empty block (`---\n---`) is an empty mapping, not an error.
  if (value === null || value === undefined) return { ok: true, value: {} };
  if (typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, error: 'Frontmatter is not a YAML mapping' };
  }
  return { ok: true, value: value as Record<string, unknown> };
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0]!.trim();
}

// ── code masking ────────────────────────────────────────────────────────────────────────────────────────

/** Which lines belong to fenced code blocks (the fences included). An unclosed fence runs to the end. */
function fencedLines(lines: string[]): boolean[] {
  const inCode: boolean[] = [];
  let fence: { char: string; len: number } | null = null;
  for (const line of lines) {
    if (fence === null) {
      const m = /^ {0,3}(`{3,}|~{3,})(.*)$/.exec(line);
      // A backtick fence's info string may not contain a backtick (that is inline code on one line).
      if (m && (m[1]![0] === '~' || !m[2]!.includes('`'))) {
        fence = { char: m[1]![0]!, len: m[1]!.length };
        inCode.push(true);
        continue;
      }
      inCode.push(false);
    } else {
      inCode.push(true);
      const m = /^ {0,3}(`{3,}|~{3,})[ \t]*\r?$/.exec(line);
      if (m && m[1]![0] === fence.char && m[1]!.length >= fence.len) fence = null;
    }
  }
  return inCode;
}

/**
 * Replaces inline code spans with spaces (newlines kept) so hashtags and links inside them are not seen.
 * A span is a run of n backticks closed by the next run of exactly n, within one paragraph; an unmatched
 * run is literal text. Runs are collected first and matched by length, so a hostile document full of
 * unmatched runs costs n·log n, not a rescan of the paragraph per run.
 */
function maskInlineCode(s: string): string {
  if (!s.includes('`')) return s;
  const runs: Array<{ start: number; len: number; para: number }> = [];
  let para = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '`') {
      let j = i;
      while (s[j] === '`') j++;
      runs.push({ start: i, len: j - i, para });
      i = j - 1;
    } else if (c === '\n') {
      // A blank line ends the paragraph: no span reaches across it.
      let j = i + 1;
      while (s[j] === ' ' || s[j] === '\t' || s[j] === '\r') j++;
      if (j >= s.length || s[j] === '\n') para++;
    }
  }
  const byLen = new Map<number, number[]>();
  runs.forEach((r, idx) => {
    const list = byLen.get(r.len);
    if (list) list.push(idx);
    else byLen.set(r.len, [idx]);
  });
  const nextSameLen = (idx: number): number => {
    const list = byLen.get(runs[idx]!.len)!;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid]! <= idx) lo = mid + 1;
      else hi = mid;
    }
    return lo < list.length ? list[lo]! : -1;
  };

  const parts: string[] = [];
  let done = 0;
  let idx = 0;
  while (idx < runs.length) {
    const open = runs[idx]!;
    const close = nextSameLen(idx);
    if (close === -1 || runs[close]!.para !== open.para) {
      idx++;
      continue;
    }
    const end = runs[close]!.start + open.len;
    parts.push(s.slice(done, open.start), s.slice(open.start, end).replace(/[^\n]/g, ' '));
    done = end;
    idx = close + 1;
  }
  parts.push(s.slice(done));
  return parts.join('');
}

/** The body with every fenced and inline code character blanked; line structure is preserved. */
function codeFree(lines: string[], fenced: boolean[]): string {
  return maskInlineCode(lines.map((l, i) => (fenced[i] ? '' : l)).join('\n'));
}

// ── extraction ──────────────────────────────────────────────────────────────────────────────────────────

// `#` at a line start or after whitespace or `(`: `# Heading` has a space after the hash, `page#part` a
// letter before it, so neither matches.
const HASHTAG = /(?<=^|[\s(])#([A-Za-z0-9_-]+)/gm;
const WIKI_LINK = /\[\[([^[\]\n]+?)\]\]/g;
const HEADING = /^ {0,3}#[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*\r?$/;

function extractHashtags(text: string): string[] {
  return [...text.matchAll(HASHTAG)].map((m) => m[1]!);
}

function extractWikiLinks(text: string): string[] {
  const seen = new Set<string>();
  for (const m of text.matchAll(WIKI_LINK)) {
    const inner = m[1]!.trim();
    if (inner !== '') seen.add(inner);
  }
  return [...seen];
}

/** Frontmatter `tags` as a list or a comma-separated string; a leading `#` is dropped. */
export function frontmatterTags(tags: unknown): string[] {
  const raw: unknown[] = Array.isArray(tags) ? tags : typeof tags === 'string' ? tags.split(',') : [];
  const out: string[] = [];
  for (const t of raw) {
    if (typeof t !== 'string' && typeof t !== 'number' && typeof t !== 'boolean') continue;
    const tag = String(t).trim().replace(/^#+/, '').trim();
    if (tag !== '') out.push(tag);
  }
  return out;
}

function fileStem(path: string): string {
  const name = path.slice(path.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

export function isIndexPath(path: string): boolean {
  const name = path.slice(path.lastIndexOf('/') + 1);
  return name.startsWith('+') && name.endsWith('.md');
}

/**
 * Parses a document. Only `.md` files carry frontmatter, hashtags and wiki links; any other text file is
 * all body with its file name as title (a `#` in YAML or JSON is a comment or data, not a tag).
 */
export function parseDocument(path: string, text: string): ParsedDoc {
  const isIndex = isIndexPath(path);
  if (!isMarkdown(path)) {
    return { frontmatter: {}, content: text, title: fileStem(path), keywords: [], wikiLinks: [], isIndex };
  }

  let frontmatter: Record<string, unknown> = {};
  let content = text;
  let frontmatterError: string | undefined;
  const block = splitFrontmatter(text);
  if (block) {
    const parsed = parseFrontmatterYaml(block.yaml);
    if (parsed.ok) {
      frontmatter = parsed.value;
      content = block.body;
    } else {
      frontmatterError = parsed.error;
    }
  }

  const lines = content.split('\n');
  const fenced = fencedLines(lines);
  const clean = codeFree(lines, fenced);

  let title = '';
  const fmTitle = frontmatter.title;
  if (typeof fmTitle === 'string') title = fmTitle.trim();
  else if (typeof fmTitle === 'number' || typeof fmTitle === 'boolean') title = String(fmTitle);
  if (title === '') {
    for (let i = 0; i < lines.length; i++) {
      if (fenced[i]) continue;
      const m = HEADING.exec(lines[i]!);
      if (m && m[1]!.trim() !== '') {
        title = m[1]!.trim();
        break;
      }
    }
  }
  if (title === '') title = fileStem(path);

  const keywords = [...new Set([...extractHashtags(clean), ...frontmatterTags(frontmatter.tags)])];
  const doc: ParsedDoc = {
    frontmatter,
    content,
    title,
    keywords,
    wikiLinks: extractWikiLinks(clean),
    isIndex,
  };
  if (frontmatterError !== undefined) doc.frontmatterError = frontmatterError;
  return doc;
}

// ── validation ──────────────────────────────────────────────────────────────────────────────────────────

export interface ContentValidation {
  errors: FieldError[];
  warnings: string[];
}

/**
 * The format checks of a validated write: errors make it a 422, warnings ride along on success. Only the
 * format is judged here; path, size and extension rules are applied elsewhere whether or not one validates.
 */
export function validateContent(path: string, text: string): ContentValidation {
  const errors: FieldError[] = [];
  const warnings: string[] = [];
  const lower = path.toLowerCase();
  if (lower.endsWith('.md')) {
    const doc = parseDocument(path, text);
    if (doc.frontmatterError !== undefined) errors.push({ path: 'content', message: doc.frontmatterError });
    const title = doc.frontmatter.title;
    if (title === undefined || title === null || (typeof title === 'string' && title.trim() === '')) {
      warnings.push(`Missing 'title' in frontmatter`);
    }
    if (doc.frontmatter.tags === undefined || doc.frontmatter.tags === null) {
      warnings.push(`Missing 'tags' in frontmatter`);
    }
  } else if (lower.endsWith('.json')) {
    try {
      JSON.parse(text);
    } catch (err) {
      errors.push({ path: 'content', message: `Invalid JSON: ${firstLine(err)}` });
    }
  } else if (lower.endsWith('.yml') || lower.endsWith('.yaml')) {
    // A YAML file may hold several documents (`---` separated); every one of them must parse.
    for (const doc of parseAllDocuments(text, { uniqueKeys: false })) {
      const err = 'errors' in doc ? doc.errors[0] : undefined;
      if (err) {
        errors.push({ path: 'content', message: `Invalid YAML: ${firstLine(err)}` });
        break;
      }
    }
  }
  return { errors, warnings };
}

// ── wiki links ──────────────────────────────────────────────────────────────────────────────────────────

const NAMESPACE_PREFIX = /^(user|team|workspace):\/*(.+)$/;

/**
 * The files a wiki link may point at, most likely first: relative to the linking file's directory, then
 * from the KB root; a namespace prefix (`user:<id>/x`, `team:`, `workspace:`, `shared:`) or a leading `/`
 * names one place only. `|label` and `#heading` are dropped, `.md` is added when the target has no
 * extension. Every candidate has passed the path rules; the caller checks which exists (and may be read).
 */
export function resolveWikiLink(fromPath: string, target: string): string[] {
  let t = target;
  const bar = t.indexOf('|');
  if (bar >= 0) t = t.slice(0, bar);
  const hash = t.indexOf('#');
  if (hash >= 0) t = t.slice(0, hash);
  t = t.trim();
  // `[[#heading]]` points into the linking file itself.
  if (t === '') return valid([fromPath]);

  let bases: string[];
  const ns = NAMESPACE_PREFIX.exec(t);
  if (ns) bases = [`${ns[1]}s/${ns[2]}`];
  else if (t.startsWith('shared:')) bases = [`shared/${t.slice(7).replace(/^\/+/, '')}`];
  else if (t.startsWith('/')) bases = [t.replace(/^\/+/, '')];
  else {
    const dir = posix.dirname(fromPath);
    bases = dir === '.' || dir === '' ? [t] : [`${dir}/${t}`, t];
  }

  const out: string[] = [];
  for (const base of bases) {
    const norm = posix.normalize(base);
    // A relative link (`../x`) may climb within the tree but never above its root.
    if (norm === '.' || norm === '..' || norm.startsWith('../') || norm.startsWith('/')) continue;
    const name = norm.slice(norm.lastIndexOf('/') + 1);
    if (hasTextExtension(name)) out.push(norm);
    else if (/\.[A-Za-z0-9]+$/.test(name)) out.push(norm, `${norm}.md`);
    else out.push(`${norm}.md`);
  }
  return valid(out);
}

function valid(candidates: string[]): string[] {
  const out: string[] = [];
  for (const c of candidates) {
    try {
      const p = checkPath(c, { kind: 'file' });
      if (!out.includes(p)) out.push(p);
    } catch {
      // A link text that is no valid path simply resolves nowhere.
    }
  }
  return out;
}
