/**
 * The wire-true OpenAI fake (test/fakes/openai.ts) in its own process, so the benchmark's timings do not share
 * an event loop with Gaia or the client. Prints one JSON line `{"url", "control"}` on stdout once listening.
 *
 * The fake answers queued scripts; this process keeps the queue topped up with one script chosen over a small
 * control server (loopback, separate port), and counts streams in flight at the fake:
 *  - `POST /script` `{script, gate?: {count, timeoutMs}}`: every following completion uses `script`
 *    (and the stats restart). With `gate`,
 *    each stream sends its role chunk and then waits until `count` completions are in flight at once (or
 *    `timeoutMs` passed), which proves that many streams were open end to end at the same moment.
 *  - `GET /stats`: `{completions, inflight, peakInflight, gateReleasedBy}`; `POST /stats/reset` zeroes them.
 */
import {
  createGate,
  type Gate,
  type OpenAIScript,
  type RecordedRequest,
  startFakeOpenAI,
} from '../../test/fakes/openai.ts';

const fake = await startFakeOpenAI();
/** Copies queued per top-up; the queue holds references to one object, so this costs little. */
const BATCH = 10_000;

let script: OpenAIScript = {};
let sinceTopUp = 0;
let completions = 0;
let inflight = 0;
let peakInflight = 0;
let gate: { gate: Gate; count: number; timer: Timer } | undefined;
let gateReleasedBy: 'count' | 'timeout' | undefined;

function refill(): void {
  fake.reset();
  sinceTopUp = 0;
  fake.enqueue(...Array.from({ length: BATCH }, () => script));
}

function releaseGate(by: 'count' | 'timeout'): void {
  if (!gate || gate.gate.released) return;
  clearTimeout(gate.timer);
  gateReleasedBy = by;
  gate.gate.release();
}

// The fake records every request in one array (reset empties it in place); hooking its push counts streams
// exactly as they arrive, without a poll competing with the fake's own timers.
const log = fake.requests as RecordedRequest[];
const push = log.push;
log.push = function (this: RecordedRequest[], ...recs: RecordedRequest[]): number {
  for (const rec of recs) {
    if (rec.path !== '/v1/chat/completions') continue;
    completions++;
    sinceTopUp++;
    inflight++;
    if (inflight > peakInflight) peakInflight = inflight;
    if (gate && inflight >= gate.count) releaseGate('count');
    rec.done.then(() => {
      inflight--;
    });
  }
  // Keep well ahead of demand (a benchmark run sends a few thousand completions at most).
  if (sinceTopUp >= BATCH / 2) {
    sinceTopUp -= BATCH / 2;
    fake.enqueue(...Array.from({ length: BATCH / 2 }, () => script));
  }
  return push.apply(this, recs);
};

const control = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  async fetch(req) {
    const url = new URL(req.url);
    if (req.method === 'POST' && url.pathname === '/script') {
      const body = (await req.json()) as {
        script: OpenAIScript;
        gate?: { count: number; timeoutMs: number };
      };
      if (gate) releaseGate('timeout');
      gate = undefined;
      gateReleasedBy = undefined;
      completions = 0;
      peakInflight = inflight;
      script = { ...body.script };
      if (body.gate) {
        const g = createGate();
        gate = {
          gate: g,
          count: body.gate.count,
          timer: setTimeout(() => releaseGate('timeout'), body.gate.timeoutMs),
        };
        script.gate = g;
        script.holdAfter = 0;
      }
      refill();
      return Response.json({ ok: true });
    }
    if (req.method === 'GET' && url.pathname === '/stats')
      return Response.json({ completions, inflight, peakInflight, gateReleasedBy: gateReleasedBy ?? null });
    if (req.method === 'POST' && url.pathname === '/stats/reset') {
      completions = 0;
      peakInflight = inflight;
      return Response.json({ ok: true });
    }
    return new Response('not found', { status: 404 });
  },
});

const shutdown = async () => {
  if (gate) releaseGate('timeout');
  control.stop(true);
  await fake.stop();
  process.exit(0);
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

console.log(JSON.stringify({ url: fake.url, control: `http://127.0.0.1:${control.port}` }));
