/**
 * The line shown under a search hit: the body line with the most query-term occurrences (the first of
 * equals), cut to a window around its first hit so a long paragraph still shows the matching words.
 */
import { findPhrase, fold, wordsWithOffsets } from './terms.ts';

export const EXCERPT_CHARS = 200;
/** How much of the line before the first hit a cut window keeps, so the hit is read in context. */
const LEAD_CHARS = 60;

export interface Excerpt {
  /** 1-based line within the body. */
  line: number;
  text: string;
}

/**
 * `phrase` (folded) is given in phrase mode: only lines holding the phrase qualify then. A file that
 * matched on its title, file name or keywords alone has no such line; it shows its first non-empty line.
 */
export function excerptOf(body: string, terms: string[], phrase: string | null): Excerpt {
  const wanted = new Set(terms);
  const lines = body.split('\n');
  let best = -1;
  let bestHits = 0;
  let bestPos = 0;
  let firstText = -1;
  for (let i = 0; i < lines.length; i++) {
    const line = stripCr(lines[i]!);
    if (firstText < 0 && line.trim() !== '') firstText = i;
    const folded = fold(line);
    // Cheap substring test first: most lines contain none of the terms.
    if (!terms.some((t) => folded.includes(t))) continue;
    if (phrase !== null && findPhrase(folded, phrase) < 0) continue;
    let hits = 0;
    let pos = -1;
    for (const w of wordsWithOffsets(line)) {
      if (!wanted.has(w.term)) continue;
      hits++;
      if (pos < 0) pos = w.start;
    }
    if (hits > bestHits) {
      best = i;
      bestHits = hits;
      bestPos = pos;
    }
  }
  if (best < 0) {
    if (firstText < 0) return { line: 1, text: '' };
    return { line: firstText + 1, text: cut(stripCr(lines[firstText]!), 0) };
  }
  return { line: best + 1, text: cut(stripCr(lines[best]!), bestPos) };
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** At most EXCERPT_CHARS characters of `line`, including the character at `pos`. */
export function cut(line: string, pos: number): string {
  const trimmed = line.trim();
  if (trimmed.length <= EXCERPT_CHARS) return trimmed;
  let start = Math.max(0, Math.min(pos - LEAD_CHARS, line.length - EXCERPT_CHARS));
  let end = Math.min(line.length, start + EXCERPT_CHARS);
  // Never split a surrogate pair at either edge.
  if (start > 0 && isLowSurrogate(line.charCodeAt(start))) start++;
  if (end < line.length && isLowSurrogate(line.charCodeAt(end))) end--;
  return line.slice(start, end).trim();
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
