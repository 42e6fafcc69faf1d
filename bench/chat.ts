/**
 * Chat benchmark. Side by side in one run, each process on its own event loop:
 *  1. Streaming latency at concurrency 1: the OpenAI fake alone (`/v1/chat/completions`, stream) against the
 *     same stream through Gaia (`POST /api/v1/chat` and `POST /v1/chat/completions`, provider `openai` pointed
 *     at the fake). The fake sends CHUNKS deltas CHUNK_DELAY_MS apart; the client records time to first
 *     content chunk (TTFT) and the mean gap between content chunks, and the bench prints what Gaia adds.
 *  2. 1,000 streams through Gaia at once (`/api/v1/chat`). The fake holds every stream after its role chunk
 *     until that many are open at the fake at the same moment (or a timeout), so the figure is about streams
 *     truly open together; errors, total time, peak RSS of Gaia.
 *  3. Non-streaming throughput at 64 connections: `POST /api/v1/chat` with the offline `local` provider
 *     (no fake involved) against the raw `Bun.serve` hello server, same load tool, ratio; and the stateless
 *     `POST /v1/chat/completions` on the same provider, which shows what storing conversations costs.
 *
 * Gaia's upstream calls go through Bun's fetch, which opens at most BUN_CONFIG_MAX_HTTP_REQUESTS (default 256)
 * connections at once. Gaia runs as `bun run dev` and the container run it, with 4096 (package.json,
 * Dockerfile); set BUN_CONFIG_MAX_HTTP_REQUESTS in this process's environment to measure another value.
 *
 * Processes: Gaia (`bun wiring/main.ts`), the fake (bench/servers/fake-openai.ts), the raw server, and a client
 * (this file with `client <job>`) that measures the streams; wrk (or a Bun fetch loop) for throughput.
 * Knobs: BENCH_CHAT_N (200), BENCH_CHAT_STREAMS (1000), BENCH_DURATION_S (5), BENCH_CHAT_PARTS
 * (`latency,burst,throughput`: a comma-separated subset runs only those parts, e.g. `burst` for the memory figure).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type GaiaChild, percentile, startGaia, stopProc, waitFor } from './lib.ts';

const DEV_KEY = 'FJUeDkZRy0uPp7cYtavMsIfwi7weF9-RT7BeOlusqnE';
const N = Number(process.env.BENCH_CHAT_N ?? 200);
const WARMUP = Math.min(30, N);
const STREAMS = Number(process.env.BENCH_CHAT_STREAMS ?? 1000);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const PARTS = new Set(
  (process.env.BENCH_CHAT_PARTS ?? 'latency,burst,throughput').split(',').map((p) => p.trim()),
);
const CHUNKS = 20;
const CHUNK_DELAY_MS = 2;
const MODEL = 'gpt-4o-mini';
/** Per-stream bound; a healthy stream here lasts well under a second. */
const STREAM_TIMEOUT_MS = 30_000;
/** How long the fake holds streams waiting for all of them to be open at once. */
const GATE_TIMEOUT_MS = 10_000;
/** The client process must not be the thing that caps concurrency (Bun's fetch allows 256 by default). */
const CLIENT_MAX_HTTP_REQUESTS = String(Math.max(4096, STREAMS * 2));

// ---------------------------------------------------------------------------------------------- client side

interface Target {
  name: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

interface StreamSample {
  ok: boolean;
  error?: string;
  /** Request start to the read that delivered the first non-empty content delta. */
  ttftMs: number;
  /** (last content arrival - first content arrival) / (content chunks - 1). */
  gapMs: number;
  contentChunks: number;
  /** performance.now() at request start, then offsets from it to response headers and to the stream's end. */
  startAt: number;
  headersMs: number;
  totalMs: number;
}

type ClientJob =
  | { kind: 'sequential'; targets: Target[]; n: number; warmup: number; expectChunks: number }
  | { kind: 'burst'; target: Target; n: number; expectChunks: number; deadlineMs: number }
  | { kind: 'load'; target: Target; connections: number; durationS: number };

const decoder = new TextDecoder();

/** Streams one request, timing content deltas as the client sees them. */
async function measureStream(t: Target, expectChunks: number, signal: AbortSignal): Promise<StreamSample> {
  const sample: StreamSample = {
    ok: false,
    ttftMs: Number.NaN,
    gapMs: Number.NaN,
    contentChunks: 0,
    startAt: 0,
    headersMs: 0,
    totalMs: 0,
  };
  const t0 = performance.now();
  sample.startAt = t0;
  let first = 0;
  let last = 0;
  let done = false;
  try {
    const res = await fetch(t.url, { method: 'POST', headers: t.headers, body: t.body, signal });
    sample.headersMs = performance.now() - t0;
    if (res.status !== 200 || !res.body) {
      sample.error = `HTTP ${res.status}: ${(await res.text()).slice(0, 120)}`;
      return sample;
    }
    const reader = res.body.getReader();
    let buf = '';
    for (;;) {
      const { value, done: eof } = await reader.read();
      if (eof) break;
      const at = performance.now();
      buf += decoder.decode(value, { stream: true });
      let cut = buf.indexOf('\n\n');
      while (cut >= 0) {
        const event = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        cut = buf.indexOf('\n\n');
        if (!event.startsWith('data: ')) continue;
        const payload = event.slice(6);
        if (payload === '[DONE]') {
          done = true;
          continue;
        }
        const obj = JSON.parse(payload);
        if (obj.error) sample.error = `error event: ${JSON.stringify(obj.error).slice(0, 120)}`;
        const content = obj.choices?.[0]?.delta?.content;
        if (typeof content === 'string' && content.length > 0) {
          if (sample.contentChunks === 0) first = at;
          last = at;
          sample.contentChunks++;
        }
      }
    }
  } catch (err) {
    sample.error = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
    return sample;
  }
  sample.totalMs = performance.now() - t0;
  sample.ttftMs = first - t0;
  sample.gapMs = sample.contentChunks > 1 ? (last - first) / (sample.contentChunks - 1) : Number.NaN;
  if (!sample.error && !done) sample.error = 'stream ended without [DONE]';
  if (!sample.error && sample.contentChunks !== expectChunks)
    sample.error = `${sample.contentChunks} content chunks, expected ${expectChunks}`;
  sample.ok = !sample.error;
  return sample;
}

interface Dist {
  p50: number;
  p99: number;
  mean: number;
}

function dist(values: number[]): Dist {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  return {
    p50: percentile(v, 50),
    p99: percentile(v, 99),
    mean: v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN,
  };
}

export interface SequentialResult {
  name: string;
  requests: number;
  errors: number;
  firstError?: string;
  ttft: Dist;
  gap: Dist;
}

async function runSequential(job: Extract<ClientJob, { kind: 'sequential' }>): Promise<SequentialResult[]> {
  const samples = new Map<string, StreamSample[]>(job.targets.map((t) => [t.name, []]));
  // Warm every target (JIT, keep-alive connections, caches), then interleave so machine noise hits all alike.
  for (let i = 0; i < job.warmup + job.n; i++) {
    for (const t of job.targets) {
      const s = await measureStream(t, job.expectChunks, AbortSignal.timeout(STREAM_TIMEOUT_MS));
      if (i >= job.warmup) samples.get(t.name)!.push(s);
    }
  }
  return job.targets.map((t) => {
    const all = samples.get(t.name)!;
    const ok = all.filter((s) => s.ok);
    return {
      name: t.name,
      requests: all.length,
      errors: all.length - ok.length,
      firstError: all.find((s) => !s.ok)?.error,
      ttft: dist(ok.map((s) => s.ttftMs)),
      gap: dist(ok.map((s) => s.gapMs)),
    };
  });
}

export interface BurstResult {
  streams: number;
  errors: number;
  errorKinds: Record<string, number>;
  totalMs: number;
  /** Most streams the client had open (headers received, not yet ended) at one moment. */
  peakOpenAtClient: number;
  headers: Dist;
  ttft: Dist;
}

async function runBurst(job: Extract<ClientJob, { kind: 'burst' }>): Promise<BurstResult> {
  const signal = AbortSignal.timeout(job.deadlineMs);
  let open = 0;
  let peakOpen = 0;
  const t0 = performance.now();
  const samples = await Promise.all(
    Array.from({ length: job.n }, () => measureStream(job.target, job.expectChunks, signal)),
  );
  const totalMs = performance.now() - t0;
  // The open-at-once peak, from each stream's [headers, end] interval.
  const edges: Array<[number, number]> = [];
  for (const s of samples) {
    if (!s.ok) continue;
    edges.push([s.startAt + s.headersMs, 1], [s.startAt + s.totalMs, -1]);
  }
  edges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (const [, d] of edges) {
    open += d;
    if (open > peakOpen) peakOpen = open;
  }
  const errorKinds: Record<string, number> = {};
  for (const s of samples) if (!s.ok) errorKinds[s.error!] = (errorKinds[s.error!] ?? 0) + 1;
  const ok = samples.filter((s) => s.ok);
  return {
    streams: job.n,
    errors: samples.length - ok.length,
    errorKinds,
    totalMs,
    peakOpenAtClient: peakOpen,
    headers: dist(ok.map((s) => s.headersMs)),
    ttft: dist(ok.map((s) => s.ttftMs)),
  };
}

/** POST load fallback when wrk is absent: keep-alive fetch loops, like bench/load.ts but with a body. */
async function runPostLoad(job: Extract<ClientJob, { kind: 'load' }>): Promise<LoadFigures> {
  const end = performance.now() + job.durationS * 1000;
  const latencies: number[] = [];
  let errors = 0;
  const loop = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const res = await fetch(job.target.url, {
          method: 'POST',
          headers: job.target.headers,
          body: job.target.body,
          signal: AbortSignal.timeout(STREAM_TIMEOUT_MS),
        });
        await res.arrayBuffer();
        if (res.status >= 400) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t0);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: job.connections }, loop));
  const secs = (performance.now() - t0) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    tool: 'bun-fetch',
    rps: latencies.length / secs,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    requests: latencies.length,
    errors,
  };
}

async function runClientJob(job: ClientJob): Promise<unknown> {
  if (job.kind === 'sequential') return runSequential(job);
  if (job.kind === 'burst') return runBurst(job);
  return runPostLoad(job);
}

/** Runs a client job in its own process, so the client never shares an event loop with the bench itself. */
async function client<T>(job: ClientJob, timeoutMs: number): Promise<T> {
  const proc = Bun.spawn(['bun', import.meta.path, 'client', JSON.stringify(job)], {
    env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: CLIENT_MAX_HTTP_REQUESTS },
    stdout: 'pipe',
    stderr: 'inherit',
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
  try {
    const out = await new Response(proc.stdout).text();
    const code = await proc.exited;
    if (code !== 0)
      throw new Error(
        `client ${job.kind} exited with ${code}${proc.signalCode ? ` (${proc.signalCode})` : ''}`,
      );
    return JSON.parse(out) as T;
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------------------------- processes

interface Child {
  proc: ReturnType<typeof Bun.spawn>;
  url: string;
  stop(): Promise<void>;
}

interface FakeChild extends Child {
  control: string;
  script(body: unknown): Promise<void>;
  stats(): Promise<{
    completions: number;
    inflight: number;
    peakInflight: number;
    gateReleasedBy: string | null;
  }>;
}

async function startFake(): Promise<FakeChild> {
  const proc = Bun.spawn(['bun', join(import.meta.dir, 'servers/fake-openai.ts')], {
    stdout: 'pipe',
    stderr: 'inherit',
  });
  const reader = proc.stdout.getReader();
  let line = '';
  const deadline = Date.now() + 10_000;
  try {
    while (!line.includes('\n')) {
      if (Date.now() > deadline) throw new Error('the OpenAI fake did not start within 10 s');
      const { value, done } = await Promise.race([
        reader.read(),
        Bun.sleep(deadline - Date.now()).then(() => ({ value: undefined, done: true as const })),
      ]);
      if (done) throw new Error('the OpenAI fake exited or stalled before printing its address');
      line += decoder.decode(value);
    }
  } catch (err) {
    await stopProc(proc);
    throw err;
  }
  reader.releaseLock();
  const { url, control } = JSON.parse(line.slice(0, line.indexOf('\n'))) as { url: string; control: string };
  return {
    proc,
    url,
    control,
    async script(body) {
      const res = await fetch(`${control}/script`, { method: 'POST', body: JSON.stringify(body) });
      if (res.status !== 200) throw new Error(`fake /script answered ${res.status}`);
      await res.arrayBuffer();
    },
    async stats() {
      return (await (await fetch(`${control}/stats`)).json()) as Awaited<ReturnType<FakeChild['stats']>>;
    },
    stop: () => stopProc(proc),
  };
}

async function startRaw(): Promise<Child> {
  const port = await freePort();
  const proc = Bun.spawn(['bun', join(import.meta.dir, 'servers/raw.ts')], {
    env: { ...process.env, PORT: String(port) },
    stdout: 'ignore',
    stderr: 'inherit',
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitFor(`${url}/`, 10_000);
  } catch (err) {
    await stopProc(proc);
    throw err;
  }
  return { proc, url, stop: () => stopProc(proc) };
}

function startChatGaia(fakeUrl: string): Promise<GaiaChild> {
  return startGaia({
    // `openai` answers from the fake; OPENAI_MODELS spares a model listing at startup. `local` stays
    // registered for the throughput part, which must not depend on the fake.
    OPENAI_API_KEY: 'sk-bench',
    OPENAI_BASE_URL: fakeUrl,
    OPENAI_MODELS: MODEL,
    LOCAL_LLM_ENABLED: 'true',
    LOCAL_LLM_DELAY_MS: '0',
  });
}

function procStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

// ---------------------------------------------------------------------------------------------- throughput

export interface LoadFigures {
  tool: 'wrk' | 'bun-fetch';
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
}

function wrkMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

/** wrk with a Lua script for the POST body (bench/lib.ts runs GETs only); the Bun loop when wrk is absent. */
async function postLoad(t: Target, connections: number, durationS: number): Promise<LoadFigures> {
  if (!Bun.which('wrk')) {
    return client<LoadFigures>({ kind: 'load', target: t, connections, durationS }, (durationS + 60) * 1000);
  }
  const dir = mkdtempSync(join(tmpdir(), 'gaia-bench-wrk-'));
  try {
    const lua = join(dir, 'post.lua');
    const lines = ['wrk.method = "POST"', `wrk.body = ${JSON.stringify(t.body)}`];
    for (const [k, v] of Object.entries(t.headers))
      lines.push(`wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`);
    writeFileSync(lua, `${lines.join('\n')}\n`);
    const args = [
      'wrk',
      '-t',
      String(Math.min(2, connections)),
      '-c',
      String(connections),
      '-d',
      `${durationS}s`,
    ];
    args.push('--latency', '--timeout', '10s', '-s', lua, t.url);
    const proc = Bun.spawn(args, { stdout: 'pipe', stderr: 'pipe' });
    const timer = setTimeout(() => proc.kill('SIGKILL'), (durationS + 30) * 1000);
    const out = await new Response(proc.stdout).text();
    await proc.exited;
    clearTimeout(timer);
    const p50 = /\s50%\s+([\d.]+)(us|ms|s)/.exec(out);
    const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
    const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
    return {
      tool: 'wrk',
      rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0),
      p50Ms: p50 ? wrkMs(p50[1]!, p50[2]!) : Number.NaN,
      p99Ms: p99 ? wrkMs(p99[1]!, p99[2]!) : Number.NaN,
      requests: Number(/(\d+) requests in/.exec(out)?.[1] ?? 0),
      errors:
        Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0) +
        (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------- the bench

export interface ChatBenchResult {
  latency: SequentialResult[];
  burst?: BurstResult & {
    fakePeakInflight: number;
    gateReleasedBy: string | null;
    idleRssMb: number;
    peakRssMb: number;
    hwmMb: number;
  };
  throughput?: { raw: LoadFigures; gaia: LoadFigures; stateless: LoadFigures };
  gaiaFetchLimit: string;
}

async function check(t: Target, expectChunks: number): Promise<void> {
  const s = await measureStream(t, expectChunks, AbortSignal.timeout(STREAM_TIMEOUT_MS));
  if (!s.ok) throw new Error(`${t.name} (${t.url}) is not streaming as expected: ${s.error}`);
}

export async function benchChat(): Promise<ChatBenchResult> {
  const children: Child[] = [];
  try {
    const fake = await startFake();
    children.push(fake);
    const raw = await startRaw();
    children.push(raw);
    const gaia = await startChatGaia(fake.url);
    children.push(gaia);

    const json = { 'content-type': 'application/json' };
    const auth = { ...json, 'x-api-key': DEV_KEY };
    const openaiBody = JSON.stringify({
      model: MODEL,
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const targets: Target[] = [
      { name: 'fake alone', url: `${fake.url}/chat/completions`, headers: json, body: openaiBody },
      {
        name: 'Gaia /api/v1/chat',
        url: `${gaia.url}/api/v1/chat`,
        headers: auth,
        body: JSON.stringify({ message: 'hi', model: MODEL, stream: true }),
      },
      {
        name: 'Gaia /v1/chat/completions',
        url: `${gaia.url}/v1/chat/completions`,
        headers: auth,
        body: openaiBody,
      },
    ];

    // 1. Latency at concurrency 1.
    const chunks = Array.from({ length: CHUNKS }, (_, i) => `tok${i} `);
    await fake.script({ script: { chunks, chunkDelayMs: CHUNK_DELAY_MS } });
    for (const t of targets) await check(t, CHUNKS);
    const latency = PARTS.has('latency')
      ? await client<SequentialResult[]>(
          { kind: 'sequential', targets, n: N, warmup: WARMUP, expectChunks: CHUNKS },
          // Each stream takes ~CHUNKS × CHUNK_DELAY_MS plus overhead; allow 25× that before giving up.
          (N + WARMUP) * targets.length * CHUNKS * CHUNK_DELAY_MS * 25 + 30_000,
        )
      : [];
    const burst = PARTS.has('burst') ? await runBurstPart(gaia, fake, targets[1]!, chunks) : undefined;
    const throughput = PARTS.has('throughput') ? await runThroughput(gaia, raw, auth, json) : undefined;
    return {
      latency,
      burst,
      throughput,
      gaiaFetchLimit: process.env.BUN_CONFIG_MAX_HTTP_REQUESTS ?? '4096',
    };
  } finally {
    // Gaia first: it drains its open streams, which need the fake still up.
    for (const c of children.reverse()) await c.stop();
  }
}

/** 2. STREAMS at once through Gaia, held at the fake until all are open together. */
async function runBurstPart(
  gaia: GaiaChild,
  fake: FakeChild,
  target: Target,
  chunks: string[],
): Promise<ChatBenchResult['burst']> {
  {
    await Bun.sleep(500);
    const idleRssKb = procStatusKb(gaia.proc.pid, 'VmRSS');
    await fake.script({
      script: { chunks, chunkDelayMs: CHUNK_DELAY_MS },
      gate: { count: STREAMS, timeoutMs: GATE_TIMEOUT_MS },
    });
    let peakRssKb = idleRssKb;
    const sampler = setInterval(() => {
      const kb = procStatusKb(gaia.proc.pid, 'VmRSS');
      if (kb > peakRssKb) peakRssKb = kb;
    }, 10);
    let burst: BurstResult;
    try {
      const deadlineMs = GATE_TIMEOUT_MS + 60_000;
      burst = await client<BurstResult>(
        { kind: 'burst', target, n: STREAMS, expectChunks: CHUNKS, deadlineMs },
        deadlineMs + 15_000,
      );
    } finally {
      clearInterval(sampler);
    }
    const fakeStats = await fake.stats();
    return {
      ...burst,
      fakePeakInflight: fakeStats.peakInflight,
      gateReleasedBy: fakeStats.gateReleasedBy,
      idleRssMb: idleRssKb / 1024,
      peakRssMb: peakRssKb / 1024,
      hwmMb: procStatusKb(gaia.proc.pid, 'VmHWM') / 1024,
    };
  }
}

async function runThroughput(
  gaia: GaiaChild,
  raw: Child,
  auth: Record<string, string>,
  json: Record<string, string>,
): Promise<ChatBenchResult['throughput']> {
  {
    // 3. Non-streaming throughput, `local` provider, against the raw server; same tool, warmed, back to back.
    const localTarget: Target = {
      name: 'Gaia /api/v1/chat (local)',
      url: `${gaia.url}/api/v1/chat`,
      headers: auth,
      body: JSON.stringify({ message: 'hi', model: 'gaia-local' }),
    };
    // The stateless OpenAI surface on the same provider separates the cost of storing conversations.
    const statelessTarget: Target = {
      name: 'Gaia /v1/chat/completions (local)',
      url: `${gaia.url}/v1/chat/completions`,
      headers: auth,
      body: JSON.stringify({ model: 'gaia-local', messages: [{ role: 'user', content: 'hi' }] }),
    };
    const rawTarget: Target = { name: 'raw', url: `${raw.url}/`, headers: json, body: localTarget.body };
    const probe = await fetch(localTarget.url, { method: 'POST', headers: auth, body: localTarget.body });
    const probeBody = (await probe.json()) as { _metadata?: { provider?: string } };
    if (probe.status !== 200 || probeBody._metadata?.provider !== 'local')
      throw new Error(`non-streaming probe answered ${probe.status} from ${probeBody._metadata?.provider}`);
    await postLoad(rawTarget, 8, 1);
    await postLoad(localTarget, 8, 1);
    await postLoad(statelessTarget, 8, 1);
    const rawLoad = await postLoad(rawTarget, 64, DURATION_S);
    const gaiaLoad = await postLoad(localTarget, 64, DURATION_S);
    const statelessLoad = await postLoad(statelessTarget, 64, DURATION_S);
    return { raw: rawLoad, gaia: gaiaLoad, stateless: statelessLoad };
  }
}

const f = (n: number, d = 3) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');
const signed = (n: number, d = 3) => (n >= 0 ? `+${f(n, d)}` : f(n, d));

export function printChat(r: ChatBenchResult): string[] {
  const lines = [
    `chat bench: fake OpenAI streams ${CHUNKS} content chunks ${CHUNK_DELAY_MS} ms apart; client in its own process (Bun fetch)`,
  ];
  const base = r.latency[0];
  if (base)
    lines.push(
      `  streaming @1 conn, ${base.requests} streams each, interleaved (TTFT = request start to first content chunk at the client):`,
    );
  for (const s of r.latency) {
    lines.push(
      `    ${s.name.padEnd(26)} TTFT p50 ${f(s.ttft.p50)} ms p99 ${f(s.ttft.p99)} ms; mean inter-chunk gap p50 ${f(s.gap.p50)} ms p99 ${f(s.gap.p99)} ms; errors ${s.errors}${s.firstError ? ` (first: ${s.firstError})` : ''}`,
    );
  }
  for (const s of base ? r.latency.slice(1) : []) {
    lines.push(
      `    added by ${s.name.replace('Gaia ', '')}: TTFT p50 ${signed(s.ttft.p50 - base!.ttft.p50)} ms (target < 2), p99 ${signed(s.ttft.p99 - base!.ttft.p99)} ms; mean gap p50 ${signed(s.gap.p50 - base!.gap.p50)} ms, p99 ${signed(s.gap.p99 - base!.gap.p99)} ms`,
    );
  }
  const b = r.burst;
  const kinds = Object.entries(b?.errorKinds ?? {})
    .slice(0, 3)
    .map(([k, n]) => `${n}× ${k}`)
    .join('; ');
  if (b)
    lines.push(
      `  ${b.streams} streams at once through Gaia (POST /api/v1/chat, stream; the fake holds each after its role chunk until ${b.streams} are open there, at most ${GATE_TIMEOUT_MS / 1000} s): errors ${b.errors} (target 0)${kinds ? ` [${kinds}]` : ''}, total ${f(b.totalMs, 0)} ms`,
      `    open at once: ${b.fakePeakInflight} at the fake (gate released by ${b.gateReleasedBy ?? 'n/a'}), ${b.peakOpenAtClient} at the client; headers p50 ${f(b.headers.p50, 1)} ms p99 ${f(b.headers.p99, 1)} ms, TTFT p50 ${f(b.ttft.p50, 1)} ms p99 ${f(b.ttft.p99, 1)} ms`,
      `    Gaia RSS: idle ${f(b.idleRssMb, 1)} MB, peak during the burst ${f(b.peakRssMb, 1)} MB (VmHWM ${f(b.hwmMb, 1)} MB); Gaia's BUN_CONFIG_MAX_HTTP_REQUESTS: ${r.gaiaFetchLimit}`,
    );
  if (r.throughput) {
    const { raw, gaia, stateless } = r.throughput;
    lines.push(
      `  non-streaming throughput @64 conns (load tool: ${gaia.tool}; provider: local, offline, no delay; no fake involved):`,
      `    raw Bun.serve ${f(raw.rps, 0)} req/s, Gaia POST /api/v1/chat ${f(gaia.rps, 0)} req/s, ratio ${f(gaia.rps / raw.rps)}; Gaia p50 ${f(gaia.p50Ms)} ms p99 ${f(gaia.p99Ms)} ms; errors raw ${raw.errors}, Gaia ${gaia.errors}`,
      `    for reference, stateless POST /v1/chat/completions (no conversation stored): ${f(stateless.rps, 0)} req/s, ratio ${f(stateless.rps / raw.rps)}; p50 ${f(stateless.p50Ms)} ms p99 ${f(stateless.p99Ms)} ms; errors ${stateless.errors}`,
    );
  }
  for (const l of lines) console.log(l);
  return lines;
}

export async function main(): Promise<void> {
  printChat(await benchChat());
}

if (import.meta.main) {
  if (process.argv[2] === 'client') {
    const job = JSON.parse(process.argv[3] ?? '{}') as ClientJob;
    // Bun.write resolves once the pipe has taken everything, so exiting right after loses nothing.
    await Bun.write(Bun.stdout, JSON.stringify(await runClientJob(job)));
    process.exit(0);
  } else await main();
}
