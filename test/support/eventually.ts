/**
 * Polls `fn` until it returns something other than undefined (a thrown error counts as "not yet"), for
 * things that happen asynchronously by design: a push landing, a peer pulling, a clone finishing.
 */
export async function eventually<T>(fn: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms`);
    await Bun.sleep(50);
  }
}
