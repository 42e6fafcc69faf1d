/** Tool-call ids in OpenAI's shape, for providers and legacy requests that give none. */

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `call_` and 24 random alphanumerics. */
export function newCallId(): string {
  // 256 is not a multiple of 62; rejecting the top bytes keeps every character equally likely.
  let out = 'call_';
  while (out.length < 29) {
    for (const b of crypto.getRandomValues(new Uint8Array(32))) {
      if (b >= 248) continue;
      out += ALNUM[b % 62];
      if (out.length === 29) break;
    }
  }
  return out;
}
