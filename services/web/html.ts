/**
 * Server-side HTML with escaping by default: every interpolated value is escaped unless it is already
 * `Html` (the result of another `html` template or of `raw`). Arrays are joined, `null`, `undefined` and
 * `false` render as nothing, so `${cond && html`…`}` reads naturally.
 */

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export class Html {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

export type Renderable = Html | string | number | null | undefined | false | Renderable[];

function render(v: Renderable): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof Html) return v.value;
  if (Array.isArray(v)) return v.map(render).join('');
  return escapeHtml(String(v));
}

export function html(strings: TemplateStringsArray, ...values: Renderable[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/** Trusted markup only (never user text). */
export function raw(s: string): Html {
  return new Html(s);
}

/** A JSON value for an attribute such as `hx-vals` (escaped when interpolated). */
export function attrJson(value: unknown): string {
  return JSON.stringify(value);
}
