/**
 * Web UI benchmark (`bun run bench web`), in Chromium:
 *  1. What the page adds to a streamed reply: for each message sent through the chat page's composer, the time
 *     from the stream request's start to the first rendered token in the DOM (the `gaia:rendered:<turn>`
 *     performance mark), against the same stream read by a plain `fetch` in the same page (request start to
 *     the first `content` event), alternating, N each. Both paths share the provider, gateway, chat service and
 *     web relay, so the difference is the page's own work: reading, rendering and swapping the reply in.
 *  2. The weight of `/chat`: its HTML plus every CSS and JS file it loads, gzipped as a server would send them.
 * Gaia runs in-process (the all-in-one stack with its web UI, SQLite, the `local` provider streaming a word
 * every LOCAL_LLM_DELAY_MS). Knobs: BENCH_WEB_N (40).
 */
import { gzipSync } from 'node:zlib';
import { closeQuietly, launchBrowser, startWebStack } from '../test/support/browser.ts';
import { percentile } from './lib.ts';

const N = Number(process.env.BENCH_WEB_N ?? 40);
const WARMUP = 3;
const PASSWORD = 'bench-password-123';

const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

export async function main(): Promise<void> {
  const stack = await startWebStack({ LOCAL_LLM_DELAY_MS: '20' });
  const browser = await launchBrowser();
  try {
    const web = stack.webUrl;
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const email = `bench-${crypto.randomUUID().slice(0, 8)}@example.com`;
    await page.goto(`${web}/register`);
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.getByText('Registration successful').waitFor();
    await page.goto(`${web}/login`);
    await page.fill('input[name=email]', email);
    await page.fill('input[name=password]', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForURL(`${web}/chat`);

    const viaComposer = async (i: number): Promise<number> => {
      await page.fill('#chat-message-input', `Tell me something, take ${i}`);
      await page.press('#chat-message-input', 'Enter');
      await page.waitForFunction(() => {
        const b = document.querySelector('#chat-send-button');
        return !!b && !b.hasAttribute('data-streaming');
      });
      return page.evaluate(() => {
        const marks = performance.getEntriesByType('mark').filter((m) => m.name.startsWith('gaia:rendered:'));
        const byTurn = new Map<string, number>();
        for (const m of marks) if (!byTurn.has(m.name)) byTurn.set(m.name, m.startTime);
        const first = [...byTurn.values()].at(-1);
        const streams = performance
          .getEntriesByType('resource')
          .filter((r) => r.name.endsWith('/api/chat/stream'));
        const req = streams.at(-1);
        if (first === undefined || !req) throw new Error('no rendered mark or stream request');
        return first - req.startTime;
      });
    };

    const viaFetch = (i: number): Promise<number> =>
      page.evaluate(async (n) => {
        const started = performance.now();
        const res = await fetch('/api/chat/stream', {
          method: 'POST',
          body: new URLSearchParams({
            message: `Tell me something, plain ${n}`,
            conversation_id: '',
            turn: `b${n}`,
          }),
          headers: { Accept: 'text/event-stream' },
          credentials: 'same-origin',
        });
        const reader = res.body!.getReader();
        const decoder = new TextDecoder();
        let buf = '';
        let first: number | null = null;
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += decoder.decode(value, { stream: true });
          if (first === null && /"type":\s*"content"/.test(buf)) first = performance.now();
        }
        if (first === null) throw new Error('no content event');
        return first - started;
      }, i);

    const composer: number[] = [];
    const plain: number[] = [];
    for (let i = 0; i < WARMUP + N; i++) {
      const [a, b] =
        i % 2 ? [await viaFetch(i), await viaComposer(i)] : [await viaComposer(i), await viaFetch(i)];
      const [c, f] = i % 2 ? [b, a] : [a, b];
      if (i < WARMUP) continue;
      composer.push(c);
      plain.push(f);
    }
    const added = median(composer) - median(plain);
    console.log(`first rendered token, ${N} replies each way (local provider, a word every 20 ms):`);
    console.log(
      `  plain fetch of the same stream in the page, to the first content event: p50 ${median(plain).toFixed(1)} ms`,
    );
    console.log(
      `  the chat page, to the first rendered token in the DOM: p50 ${median(composer).toFixed(1)} ms`,
    );
    console.log(
      `  added by the page: p50 ${added.toFixed(1)} ms (target < 30 ms) ${added < 30 ? 'OK' : 'MISSED'}`,
    );

    // Page weight of /chat: the document and the same-origin CSS and JS it loaded.
    const fresh = await context.newPage();
    const loaded: string[] = [];
    fresh.on('response', (r) => {
      const type = r.headers()['content-type'] ?? '';
      if (r.url().startsWith(web) && /css|javascript/.test(type)) loaded.push(r.url());
    });
    await fresh.goto(`${web}/chat`);
    await fresh.waitForLoadState('networkidle');
    const cookie = (await context.cookies(web)).map((c) => `${c.name}=${c.value}`).join('; ');
    let total = 0;
    const rows: string[] = [];
    for (const url of [`${web}/chat`, ...new Set(loaded)]) {
      const bytes = new Uint8Array(await (await fetch(url, { headers: { cookie } })).arrayBuffer());
      const gz = gzipSync(bytes).length;
      total += gz;
      rows.push(
        `    ${url.slice(web.length)}: ${(bytes.length / 1024).toFixed(1)} KB, ${(gz / 1024).toFixed(1)} KB gzipped`,
      );
    }
    console.log('page weight of /chat (HTML + CSS + JS):');
    for (const r of rows) console.log(r);
    console.log(
      `  total ${(total / 1024).toFixed(1)} KB gzipped (target < 300 KB) ${total < 300 * 1024 ? 'OK' : 'MISSED'}`,
    );
    await closeQuietly(fresh);
    await closeQuietly(page);
    await context.close();
  } finally {
    await browser.close();
    await stack.stop();
  }
}

if (import.meta.main) await main();
