/**
 * A small in-memory cache for derived answers (contexts, navigation trees, searches). It is only an
 * optimisation: every commit and every pull clears the derived categories, so a stale entry can never
 * outlive the change that made it stale. Its counters back the legacy `cache/stats` route.
 */

export const CACHE_CATEGORIES = ['search', 'context', 'nav', 'file'] as const;
export type CacheCategory = (typeof CACHE_CATEGORIES)[number];

const MAX_ENTRIES = 1000;

export class KbCache {
  private readonly entries = new Map<string, unknown>();
  private hits = 0;
  private misses = 0;

  async get<T>(category: CacheCategory, id: string, load: () => Promise<T>): Promise<T> {
    const key = `${category}:${id}`;
    if (this.entries.has(key)) {
      this.hits++;
      return this.entries.get(key) as T;
    }
    this.misses++;
    const value = await load();
    if (this.entries.size >= MAX_ENTRIES) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(key, value);
    return value;
  }

  /** Drops the categories a change to the files can make stale. */
  clearDerived(): void {
    for (const key of [...this.entries.keys()]) if (!key.startsWith('file:')) this.entries.delete(key);
  }

  /** Drops the keys matching a glob over `<category>:<id>`; returns how many went. */
  invalidate(pattern: string): number {
    const glob = new Bun.Glob(pattern);
    let n = 0;
    for (const key of [...this.entries.keys()])
      if (pattern === '*' || glob.match(key)) {
        this.entries.delete(key);
        n++;
      }
    return n;
  }

  stats() {
    const categories: Record<CacheCategory, number> = { search: 0, context: 0, nav: 0, file: 0 };
    for (const key of this.entries.keys()) {
      const c = key.slice(0, key.indexOf(':')) as CacheCategory;
      if (c in categories) categories[c]++;
    }
    return {
      enabled: true,
      backend: 'memory',
      entries: this.entries.size,
      categories,
      hits: this.hits,
      misses: this.misses,
    };
  }
}
