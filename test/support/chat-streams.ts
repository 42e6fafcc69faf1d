/**
 * Reading chat streams the way a client does, for the chat and fault tests: the `data:` payloads of an SSE body, a
 * reader that stops at a marker, and the gateway's open-streams gauge (a stream the gateway never closed
 * would keep it up and hold the caller's concurrency slot).
 */
import { expect } from 'bun:test';
import { exposition } from '../../src/metrics.ts';
import { eventually } from './eventually.ts';

/** The `data:` payloads of a complete SSE body, as sent (heartbeat comments dropped). */
export function payloads(text: string): string[] {
  expect(text.endsWith('\n\n')).toBe(true);
  return text
    .split('\n\n')
    .filter((e) => e.startsWith('data: '))
    .map((e) => e.slice(6));
}

/** Reads until `needle` has arrived (or the stream ended); returns everything read so far. */
export async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  needle: string,
  acc = '',
): Promise<string> {
  const dec = new TextDecoder();
  let seen = acc;
  while (!seen.includes(needle)) {
    const r = await reader.read();
    if (r.done) break;
    seen += dec.decode(r.value, { stream: true });
  }
  return seen;
}

/** Reads to the end of the stream. */
export async function readRest(reader: ReadableStreamDefaultReader<Uint8Array>, acc = ''): Promise<string> {
  const dec = new TextDecoder();
  let seen = acc;
  for (;;) {
    const r = await reader.read();
    if (r.done) return seen + dec.decode();
    seen += dec.decode(r.value, { stream: true });
  }
}

/** The text of the content deltas of any chat family (v1 and OpenAI chunks, v0.3 `content` events). */
export function streamedText(text: string): string {
  let out = '';
  for (const block of text.split('\n\n')) {
    if (!block.startsWith('data: ') || block === 'data: [DONE]') continue;
    let ev: any;
    try {
      ev = JSON.parse(block.slice(6));
    } catch {
      // A block cut by the disconnect: the client never got it whole, so it never saw its text.
      continue;
    }
    if (ev.type === 'content') out += ev.content;
    else out += ev.choices?.[0]?.delta?.content ?? '';
  }
  return out;
}

/** `gaia_open_streams` as the metrics endpoint shows it. */
export async function openStreams(): Promise<number> {
  const m = /^gaia_open_streams (\S+)$/m.exec(await exposition());
  return Number(m?.[1] ?? Number.NaN);
}

/** Waits (generously: a loaded 2-core machine) for the gauge to come back to `baseline`. */
export async function streamsBackTo(baseline: number): Promise<void> {
  await eventually(async () => ((await openStreams()) === baseline ? true : undefined), 5000).catch(
    async () => {
      expect(await openStreams()).toBe(baseline);
    },
  );
}
