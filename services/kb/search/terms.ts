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

/** FNV-1a over UTF-16 units of `s[start, end)`. */
function hashRange(s: string, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function sameRange(term: string, s: string, start: number, end: number): boolean {
  if (term.length !== end - start) return false;
  for (let i = 0; i < term.length; i++) if (term.charCodeAt(i) !== s.charCodeAt(start + i)) return false;
  return true;
}

/**
 * The index's dictionary: term ↔ small integer id. Building an index looks up every word of every file,
 * so words are looked up straight from the document text by offsets (an open-addressing table with
 * linear probing), without cutting a string per word; a string is made only for a word never seen.
 */
export class TermTable {
  private slots = new Int32Array(1024).fill(-1);
  private mask = 1023;
  private hashes = new Uint32Array(512);
  private names: Array<string | undefined> = [];
  private free: number[] = [];
  private count = 0;
  /** Word-character answers for non-ASCII BMP characters: 0 unknown, 1 word, 2 not. */
  private wide = new Uint8Array(0);

  get size(): number {
    return this.count;
  }

  /** One past the highest id in use: arrays indexed by term id need this length. */
  get capacity(): number {
    return this.names.length;
  }

  name(id: number): string | undefined {
    return this.names[id];
  }

  /** The id of an existing term, or -1. */
  find(term: string): number {
    return this.lookup(term, 0, term.length, false);
  }

  /**
   * Calls `fn` with the id of every word of `folded` (already folded), creating ids for new words.
   * Words are the same runs `termsOf` returns.
   */
  scan(folded: string, fn: (id: number) => void): void {
    const n = folded.length;
    let start = -1;
    let i = 0;
    while (i < n) {
      const c = folded.charCodeAt(i);
      let width = 1;
      let word: boolean;
      if (c < 128) word = (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || (c >= 65 && c <= 90);
      else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const cp = folded.codePointAt(i)!;
        width = cp > 0xffff ? 2 : 1;
        word = WORD_CHAR.test(String.fromCodePoint(cp));
      } else word = this.wideWord(c);
      if (word) {
        if (start < 0) start = i;
      } else if (start >= 0) {
        fn(this.lookup(folded, start, i, true));
        start = -1;
      }
      i += width;
    }
    if (start >= 0) fn(this.lookup(folded, start, n, true));
  }

  /** Forgets a term; its id may be handed out again. */
  delete(id: number): void {
    const name = this.names[id];
    if (name === undefined) return;
    let i = this.hashes[id]! & this.mask;
    while (this.slots[i] !== id) i = (i + 1) & this.mask;
    // Backward-shift deletion keeps every probe chain unbroken without tombstones.
    this.slots[i] = -1;
    let j = i;
    for (;;) {
      j = (j + 1) & this.mask;
      const other = this.slots[j]!;
      if (other === -1) break;
      const home = this.hashes[other]! & this.mask;
      const stays = i <= j ? i < home && home <= j : i < home || home <= j;
      if (stays) continue;
      this.slots[i] = other;
      this.slots[j] = -1;
      i = j;
    }
    this.names[id] = undefined;
    this.free.push(id);
    this.count--;
  }

  private lookup(s: string, start: number, end: number, create: boolean): number {
    const h = hashRange(s, start, end);
    let i = h & this.mask;
    for (;;) {
      const id = this.slots[i]!;
      if (id === -1) break;
      if (this.hashes[id] === h && sameRange(this.names[id]!, s, start, end)) return id;
      i = (i + 1) & this.mask;
    }
    if (!create) return -1;
    const id = this.free.pop() ?? this.names.length;
    // A fresh copy: a slice would keep the whole document text alive for as long as the term exists.
    this.names[id] = JSON.parse(JSON.stringify(s.slice(start, end))) as string;
    if (id >= this.hashes.length) {
      const next = new Uint32Array(this.hashes.length * 2);
      next.set(this.hashes);
      this.hashes = next;
    }
    this.hashes[id] = h;
    this.slots[i] = id;
    this.count++;
    if (this.count * 2 > this.slots.length) this.grow();
    return id;
  }

  private grow(): void {
    const size = this.slots.length * 2;
    this.slots = new Int32Array(size).fill(-1);
    this.mask = size - 1;
    for (let id = 0; id < this.names.length; id++) {
      if (this.names[id] === undefined) continue;
      let i = this.hashes[id]! & this.mask;
      while (this.slots[i] !== -1) i = (i + 1) & this.mask;
      this.slots[i] = id;
    }
  }

  private wideWord(c: number): boolean {
    if (this.wide.length === 0) this.wide = new Uint8Array(65536);
    let v = this.wide[c]!;
    if (v === 0) {
      v = WORD_CHAR.test(String.fromCharCode(c)) ? 1 : 2;
      this.wide[c] = v;
    }
    return v === 1;
  }
}
