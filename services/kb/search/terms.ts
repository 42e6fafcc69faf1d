/**
 * How text becomes search terms. The query and the documents must be cut the same way, or a word in a
 * file could never be found by typing it: both are lower-cased, NFC-normalised (so a decomposed `é` in a
 * file matches a composed one typed by a user) and split on anything that is not a letter or a digit.
 * Combining marks stay inside words for the same reason.
 */

/** A run of word characters. Global, so `String.prototype.match` returns every run at once. */
const WORD_RUN = /[\p{L}\p{N}\p{M}]+/gu;
const WORD_CHAR = /^[\p{L}\p{N}\p{M}]$/u;

/** At most this many distinct terms take part in a query: one bit each in a 32-bit mask. */
export const MAX_QUERY_TERMS = 32;

/** Lower-cases and normalises; cheap for plain ASCII, which is most text. */
export function fold(s: string): string {
  const lower = s.toLowerCase();
  // Normalising a string with only ASCII in it is a no-op; skipping the call saves a copy per document.
  return isAscii(lower) ? lower : lower.normalize('NFC');
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 127) return false;
  return true;
}

/** Every term occurrence in already-folded text, in order (repeats included). */
export function termsOf(folded: string): string[] {
  return folded.match(WORD_RUN) ?? [];
}

/** The distinct terms of a query, in order of first appearance, at most MAX_QUERY_TERMS. */
export function queryTerms(q: string): string[] {
  const out: string[] = [];
  for (const t of termsOf(fold(q))) {
    if (!out.includes(t)) out.push(t);
    if (out.length === MAX_QUERY_TERMS) break;
  }
  return out;
}

/** Whether the UTF-16 unit (or the code point starting) at `i` is part of a word. */
export function isWordAt(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  if (Number.isNaN(c)) return false;
  if (c < 128) return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  return WORD_CHAR.test(String.fromCodePoint(s.codePointAt(i)!));
}

/** Like `isWordAt` for the character that ends just before `i` (a low surrogate looks back one more). */
export function isWordBefore(s: string, i: number): boolean {
  if (i <= 0) return false;
  const c = s.charCodeAt(i - 1);
  if (c >= 0xdc00 && c <= 0xdfff && i >= 2) return isWordAt(s, i - 2);
  return isWordAt(s, i - 1);
}

/** Word runs of `s` with their offsets in `s` itself, each with its folded form. */
export function wordsWithOffsets(s: string): Array<{ term: string; start: number; end: number }> {
  const out: Array<{ term: string; start: number; end: number }> = [];
  // A fresh regex per call: a shared global regex carries `lastIndex` between callers.
  for (const m of s.matchAll(new RegExp(WORD_RUN.source, 'gu'))) {
    const start = m.index;
    out.push({ term: fold(m[0]), start, end: start + m[0].length });
  }
  return out;
}

/**
 * Where `phrase` (folded) occurs in `folded` so that it neither starts nor ends inside a longer word:
 * `dragon lair` is in "the dragon lair" but not in "megadragon lairs". This keeps a phrase hit
 * consistent with term matching, where `dragon` is not a term of "megadragon". -1 when absent.
 */
export function findPhrase(folded: string, phrase: string, from = 0): number {
  if (phrase === '') return -1;
  const needsStart = isWordAt(phrase, 0);
  const needsEnd = isWordBefore(phrase, phrase.length);
  let at = folded.indexOf(phrase, from);
  while (at >= 0) {
    const okStart = !needsStart || !isWordBefore(folded, at);
    const okEnd = !needsEnd || !isWordAt(folded, at + phrase.length);
    if (okStart && okEnd) return at;
    at = folded.indexOf(phrase, at + 1);
  }
  return -1;
}
