/**
 * The `response` markdown of the legacy KB routes. Clients of the Python Gaia Platform parse and display
 * these strings, so each renderer reproduces that system's output byte for byte from the JSON objects the
 * rest of the service works with: same emoji, same bold markers, same cut-off counts, same trailing
 * newlines (some templates end with one, some do not).
 */
import type {
  ContextData,
  FileObject,
  ListResult,
  NavNode,
  SearchResult,
  SynthesisResult,
  ThreadsResult,
} from '../types.ts';

// ── text helpers ────────────────────────────────────────────────────────────────────────────────────────

/**
 * Lengths and cuts count Unicode code points, as the Python system did; JS string length counts UTF-16
 * units and would cut an emoji in half or over-count it.
 */
export function charLength(s: string): number {
  // Fast path: without surrogates, UTF-16 units are code points.
  if (!/[\uD800-\uDFFF]/.test(s)) return s.length;
  let n = 0;
  for (const _ of s) n++;
  return n;
}

export function firstChars(s: string, n: number): string {
  if (s.length <= n) return s;
  if (!/[\uD800-\uDFFF]/.test(s)) return s.slice(0, n);
  let out = '';
  let i = 0;
  for (const ch of s) {
    if (i++ >= n) break;
    out += ch;
  }
  return out;
}

/** Python's `repr()` of a string: single quotes unless the text holds a single quote and no double one. */
function pyReprString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\') out += '\\\\';
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || (code >= 0x7f && code < 0xa0)) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out + quote;
}

function pyNumber(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Number.POSITIVE_INFINITY) return 'inf';
  if (n === Number.NEGATIVE_INFINITY) return '-inf';
  // Python writes a two-digit exponent (`1e-07`) where JS writes `1e-7`.
  return String(n).replace(/e([+-])(\d)$/, 'e$10$2');
}

function pyDate(d: Date): string {
  const iso = d.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  if (iso.endsWith('T00:00:00.000Z')) return iso.slice(0, 10);
  const ms = iso.slice(20, 23);
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${ms === '000' ? '' : `.${ms}000`}`;
}

/** Python's `repr()` of a YAML value (what a list or mapping prints its members as). */
function pyRepr(v: unknown): string {
  if (v === null || v === undefined) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'number') return pyNumber(v);
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'string') return pyReprString(v);
  if (v instanceof Date) return pyReprString(pyDate(v));
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (typeof v === 'object')
    return `{${Object.entries(v as Record<string, unknown>)
      .map(([k, x]) => `${pyReprString(k)}: ${pyRepr(x)}`)
      .join(', ')}}`;
  return String(v);
}

/**
 * How the Python system printed a frontmatter value in `- key: value`: strings as they are, everything
 * else as Python would (`['a', 'b']`, `True`, `None`, `{'k': 1}`), since existing clients saw exactly that.
 */
export function pyStr(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Date) return pyDate(v);
  return pyRepr(v);
}

/**
 * `size / 1024` with one decimal, rounded the way Python's `:.1f` rounds: to the nearest tenth of the
 * exact value, ties to even (`256` bytes is `0.2`, where `toFixed` would say `0.3`). Integer arithmetic
 * keeps the tie test exact.
 */
export function kilobytes(size: number): string {
  const bytes = Math.max(0, Math.trunc(size));
  const num = bytes * 10;
  let tenths = Math.floor(num / 1024);
  const rem = num - tenths * 1024;
  if (rem * 2 > 1024 || (rem * 2 === 1024 && tenths % 2 === 1)) tenths += 1;
  return `${Math.floor(tenths / 10)}.${tenths % 10}`;
}

// ── templates ───────────────────────────────────────────────────────────────────────────────────────────

export function formatSearch(q: string, result: SearchResult): string {
  const n = result.total;
  let out = `🔍 **KB Search Results for '${q}'**\n\nFound ${n} results:\n\n`;
  result.results.slice(0, 10).forEach((hit, i) => {
    out += `**${i + 1}. ${hit.path}**\n`;
    out += `Context: ${hit.context ?? 'root'}\n`;
    out += `Excerpt: ${firstChars(hit.excerpt, 200)}...\n\n`;
  });
  if (n > 10) out += `... and ${n - 10} more results.\n`;
  return out;
}

export function formatRead(file: FileObject): string {
  let out = `📄 **File: ${file.path}**\n\n`;
  const meta = Object.entries(file.frontmatter ?? {});
  if (meta.length > 0) {
    out += '**Metadata:**\n';
    for (const [key, value] of meta.slice(0, 5)) out += `- ${key}: ${pyStr(value)}\n`;
    out += '\n';
  }
  const len = charLength(file.content);
  if (len > 2000) {
    out += `**Content (truncated):**\n${firstChars(file.content, 2000)}...\n`;
    out += `\n*Full content: ${len} characters*`;
  } else {
    out += `**Content:**\n${file.content}`;
  }
  return out;
}

export function formatList(dir: string, list: ListResult): string {
  let out = `📁 **Directory: ${dir}**\n\n`;
  const dirs = list.directories;
  if (dirs.length > 0) {
    out += '**Subdirectories:**\n';
    for (const d of dirs.slice(0, 10)) out += `- 📁 ${d.name}/\n`;
    if (dirs.length > 10) out += `... and ${dirs.length - 10} more\n`;
  }
  const files = list.files;
  if (files.length > 0) {
    out += '\n**Files:**\n';
    for (const f of files.slice(0, 15)) out += `- 📄 ${f.name} (${kilobytes(f.size)} KB)\n`;
    if (files.length > 15) out += `... and ${files.length - 15} more\n`;
  }
  return out;
}

export function formatContext(name: string, ctx: ContextData): string {
  const total = Math.max(ctx.total_files, ctx.files.length);
  let out = `📚 **KOS Context: ${name}**\n\n`;
  out += `**Summary:** ${ctx.summary}\n\n`;
  out += `**Files:** ${total} documents\n`;
  out += `**Keywords:** ${ctx.keywords.slice(0, 10).join(', ')}\n`;
  if (ctx.dependencies.length > 0) out += `**Dependencies:** ${ctx.dependencies.slice(0, 5).join(', ')}\n`;
  out += '\n**Recent Files:**\n';
  for (const p of ctx.files.slice(0, 10)) out += `- ${p}\n`;
  if (total > 10) out += `... and ${total - 10} more files.\n`;
  return out;
}

export function formatNavigate(start: string, tree: NavNode): string {
  const lines: string[] = [];
  const walk = (node: NavNode, depth: number) => {
    const prefix = '  '.repeat(depth);
    lines.push(`${prefix}- **${node.name}** (${node.path})`);
    if (node.keywords && node.keywords.length > 0)
      lines.push(`${prefix}  Keywords: ${node.keywords.slice(0, 5).join(', ')}`);
    for (const child of node.children ?? []) walk(child, depth + 1);
  };
  walk(tree, 0);
  return `🧭 **KB Navigation from '${start}'**\n\n${lines.join('\n')}`;
}

export function formatSynthesis(names: string[], s: SynthesisResult): string {
  let out = `🔮 **Cross-Domain Synthesis**\n\nContexts analyzed: ${names.join(', ')}\n\n`;
  if (s.common_themes.length > 0) {
    out += '**Common Themes:**\n';
    for (const theme of s.common_themes) out += `- ${theme}\n`;
  }
  if (s.potential_connections.length > 0) {
    out += '\n**Connections Found:**\n';
    for (const c of s.potential_connections.slice(0, 5))
      out += `- ${c.context1} ↔ ${c.context2}: ${c.shared_keywords.slice(0, 3).join(', ')}\n`;
  }
  return out;
}

export function formatThreads(t: ThreadsResult): string {
  let out = `🧵 **Active KOS Threads**\n\nTotal: ${t.total_threads} | Active: ${t.active_count}\n\n`;
  for (const th of t.threads.slice(0, 10)) {
    out += `**${th.title}**\n`;
    out += `- ID: ${th.thread_id}\n`;
    out += `- State: ${th.state}\n`;
    out += `- Current: ${th.current_action}\n`;
    out += `- Updated: ${th.last_updated}\n\n`;
  }
  return out;
}

// ── multitask ───────────────────────────────────────────────────────────────────────────────────────────

/** One task of a multitask run: a result of any operation, or the error detail it failed with. */
export type MultitaskOutcome = { ok: true; result: unknown } | { ok: false; error: string };

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/**
 * What a successful task contributes to "Key Findings". The result's shape says what it was (as in the
 * Python system): a search with hits, a loaded context, or a read file; listings, trees and syntheses
 * contribute nothing.
 */
export function findingOf(result: unknown): string | null {
  if (!isObj(result)) return null;
  if (Array.isArray(result.results)) {
    if (result.results.length === 0) return null;
    return `Found ${result.results.length} matches for '${String(result.query ?? 'unknown')}'`;
  }
  if (Array.isArray(result.files) && typeof result.summary === 'string' && 'dependencies' in result) {
    const count = typeof result.total_files === 'number' ? result.total_files : result.files.length;
    return `Loaded context '${String(result.name ?? 'unknown')}' with ${count} files`;
  }
  if (typeof result.content === 'string' && typeof result.sha === 'string') {
    return `Read file '${String(result.path ?? 'unknown')}' (${charLength(result.content)} characters)`;
  }
  return null;
}

export function formatMultitask(results: readonly MultitaskOutcome[]): string {
  const ok = results.filter((r): r is Extract<MultitaskOutcome, { ok: true }> => r.ok);
  const failed = results.filter((r): r is Extract<MultitaskOutcome, { ok: false }> => !r.ok);
  let out = '⚡ **Multi-Task KB Execution Complete**\n\n';
  out += `**Tasks Executed:** ${results.length}\n`;
  out += `**Successful:** ${ok.length}\n`;
  out += `**Failed:** ${failed.length}\n\n`;
  const findings = ok
    .map((r) => findingOf(r.result))
    .filter((f): f is string => f !== null)
    .slice(0, 10);
  if (findings.length > 0) {
    out += '**Key Findings:**\n';
    for (const f of findings) out += `- ${f}\n`;
  }
  const errors = failed.map((r) => r.error).filter((e) => e);
  if (errors.length > 0) {
    out += '\n**Errors:**\n';
    for (const e of errors) out += `- ${e}\n`;
  }
  return out;
}
