/**
 * Asset benchmark. Gaia runs as its own process (startGaia: gateway + asset service in one, SQLite, local storage),
 * its `openai` image provider pointed at the wire-true OpenAI images fake (test/fakes/openai-images.ts) running in
 * this process. Side by side in one run:
 *  1. Added latency of one generation: `POST /api/v1/assets/generate` through the gateway (validation, pricing,
 *     budget reservation, job row, provider call, PNG check, preview, file + row stored, signed links) against the
 *     same image request sent straight to the fake, interleaved, BENCH_ASSET_N (200) of each after a warm-up.
 *     Every description is unique and `allow_database:false`, so nothing is reused. What Gaia adds is the
 *     difference, which leaves the provider's own time out.
 *  2. BENCH_ASSET_BURST (200) generations submitted at once against a fake that takes BENCH_ASSET_DELAY_MS (2000)
 *     per image, MAX_CONCURRENT_GENERATIONS=5. Requests carry `max_wait_time_ms` (1000) so they come back 202 and
 *     the jobs are polled: errors, drain time against ceil(n / 5) × delay, most jobs seen processing at once, and
 *     the peak RSS of the Gaia process (the kernel's high-water mark of a Gaia started for this part alone).
 *  3. A BENCH_ASSET_FILE_MB (10) MB PNG (random pixels, so it does not compress) generated through Gaia and then
 *     downloaded over and over through its signed link, against the same bytes served by a plain `Bun.serve`
 *     returning `Bun.file` (bench/asset-raw-file.ts), same load tool, BENCH_ASSET_DL_CONNECTIONS (4) connections
 *     for BENCH_DURATION_S (5) s each: throughput ratio (target ≥ 0.7).
 * Knobs: BENCH_ASSET_N, BENCH_ASSET_BURST, BENCH_ASSET_DELAY_MS, BENCH_ASSET_FILE_MB, BENCH_ASSET_DL_CONNECTIONS,
 * BENCH_DURATION_S, BENCH_ASSET_PARTS (default `latency,burst,download`).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { type FakeOpenAIImages, startFakeOpenAIImages } from '../test/fakes/openai-images.ts';
import { freePort, type GaiaChild, percentile, runLoad, startGaia, stopProc, waitFor } from './lib.ts';

const DEV_KEY = 'FJUeDkZRy0uPp7cYtavMsIfwi7weF9-RT7BeOlusqnE';
const N = Number(process.env.BENCH_ASSET_N ?? 200);
const WARMUP = Math.min(20, N);
const BURST = Number(process.env.BENCH_ASSET_BURST ?? 200);
const DELAY_MS = Number(process.env.BENCH_ASSET_DELAY_MS ?? 2000);
const CONCURRENCY = 5;
const BURST_WAIT_MS = 1000;
const FILE_MB = Number(process.env.BENCH_ASSET_FILE_MB ?? 10);
const DL_CONNECTIONS = Number(process.env.BENCH_ASSET_DL_CONNECTIONS ?? 4);
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
const PARTS = new Set((process.env.BENCH_ASSET_PARTS ?? 'latency,burst,download').split(','));
const MODEL = 'gpt-image-1';

const ms = (v: number) => `${v.toFixed(v < 10 ? 2 : 0)} ms`;
const mb = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MB`;
const auth = { 'x-api-key': DEV_KEY, 'content-type': 'application/json' };

/** One counter from /proc/<pid>/status in bytes (VmRSS now, VmHWM the peak since the process started). */
function procStatus(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Gaia with its image provider on the fake; no daily cap, so the budget never refuses a bench request. */
function startAssetGaia(fake: FakeOpenAIImages): Promise<GaiaChild> {
  return startGaia({
    OPENAI_API_KEY: fake.apiKey,
    OPENAI_IMAGES_BASE_URL: fake.url,
    OPENAI_IMAGE_MODEL: MODEL,
    ASSET_DAILY_BUDGET_USD: '0',
    MAX_CONCURRENT_GENERATIONS: String(CONCURRENCY),
    LOG_LEVEL: 'warn',
  });
}

function generateBody(description: string, maxWaitMs: number): string {
  return JSON.stringify({
    category: 'image',
    style: 'fantasy',
    description,
    requirements: { platform: 'desktop_vr', quality: 'medium' },
    preferences: { allow_database: false, max_wait_time_ms: maxWaitMs },
    session_id: 'bench-asset',
  });
}

interface AssetAnswer {
  asset_id: string;
  source: string;
  response_time_ms: number;
  asset_data: { download_url: string; file_size_mb: number };
  metadata: { generation_id: string; generation_time_ms: number };
}

async function generate(gaia: GaiaChild, description: string, maxWaitMs = 60_000): Promise<AssetAnswer> {
  const res = await fetch(`${gaia.url}/api/v1/assets/generate`, {
    method: 'POST',
    headers: auth,
    body: generateBody(description, maxWaitMs),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`generate answered ${res.status}: ${text.slice(0, 200)}`);
  const body = JSON.parse(text) as AssetAnswer;
  if (body.source !== 'generated') throw new Error(`expected a new generation, got source=${body.source}`);
  return body;
}

// ── 1. added latency ────────────────────────────────────────────────────────────────────────────────────

interface LatencyResult {
  fake: { p50: number; p99: number };
  gaia: { p50: number; p99: number };
  /** Median and p99 of (Gaia − fake) over consecutive pairs: robust to drift during the run. */
  pairedAdded: { p50: number; p99: number };
  /**
   * Medians of where the time goes, from the service's own figures: the provider call as the service timed it
   * (`generation_time_ms`), the service's work around it (`response_time_ms` − that), and the rest (gateway,
   * the two HTTP hops, the identity token) = client total − `response_time_ms`.
   */
  split: { providerMs: number; serviceMs: number; outsideMs: number };
  n: number;
}

async function benchLatency(gaia: GaiaChild, fake: FakeOpenAIImages, runId: string): Promise<LatencyResult> {
  const direct = async (prompt: string): Promise<number> => {
    const t0 = performance.now();
    const res = await fetch(`${fake.url}/images/generations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: MODEL,
        prompt,
        n: 1,
        size: '1024x1024',
        quality: 'medium',
        output_format: 'png',
      }),
    });
    const body = (await res.json()) as { data?: Array<{ b64_json: string }> };
    if (res.status !== 200 || !body.data?.[0]?.b64_json) throw new Error(`fake answered ${res.status}`);
    return performance.now() - t0;
  };
  const providerTimes: number[] = [];
  const serviceTimes: number[] = [];
  const outsideTimes: number[] = [];
  const through = async (description: string): Promise<number> => {
    const t0 = performance.now();
    const a = await generate(gaia, description);
    const total = performance.now() - t0;
    providerTimes.push(a.metadata.generation_time_ms);
    serviceTimes.push(a.response_time_ms - a.metadata.generation_time_ms);
    outsideTimes.push(total - a.response_time_ms);
    return total;
  };
  const fakeTimes: number[] = [];
  const gaiaTimes: number[] = [];
  const diffs: number[] = [];
  // Warm both paths (JIT, keep-alive connections, SQLite pages), then interleave so noise hits both alike.
  for (let i = 0; i < WARMUP + N; i++) {
    const description = `A bench lantern number ${i} of run ${runId} glowing over a quiet harbour`;
    const f = await direct(description);
    const g = await through(description);
    if (i < WARMUP) {
      providerTimes.length = 0;
      serviceTimes.length = 0;
      outsideTimes.length = 0;
      continue;
    }
    fakeTimes.push(f);
    gaiaTimes.push(g);
    diffs.push(g - f);
  }
  const sorted = (v: number[]) => [...v].sort((a, b) => a - b);
  const pf = sorted(fakeTimes);
  const pg = sorted(gaiaTimes);
  const pd = sorted(diffs);
  return {
    fake: { p50: percentile(pf, 50), p99: percentile(pf, 99) },
    gaia: { p50: percentile(pg, 50), p99: percentile(pg, 99) },
    pairedAdded: { p50: percentile(pd, 50), p99: percentile(pd, 99) },
    split: {
      providerMs: percentile(sorted(providerTimes), 50),
      serviceMs: percentile(sorted(serviceTimes), 50),
      outsideMs: percentile(sorted(outsideTimes), 50),
    },
    n: N,
  };
}

// ── 2. a burst through the concurrency cap ──────────────────────────────────────────────────────────────

interface JobView {
  job_id: string;
  status: string;
  asset_id: string | null;
  error: { message: string; type: string } | null;
  created_at: string;
  completed_at: string | null;
}

interface BurstResult {
  n: number;
  accepted202: number;
  answered200: number;
  errors: number;
  firstError?: string;
  completed: number;
  failed: number;
  wallMs: number;
  /** Last completed_at − first created_at, from the job records. */
  jobsSpanMs: number;
  expectedMs: number;
  maxProcessing: number;
  maxQueued: number;
  peakRss: number;
  rssAfter: number;
  fakeRequests: number;
}

async function jobCount(gaia: GaiaChild, status: string): Promise<number> {
  const res = await fetch(`${gaia.url}/api/v1/assets/jobs?status=${status}&limit=1`, { headers: auth });
  if (res.status !== 200)
    throw new Error(`jobs list answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  return ((await res.json()) as { total: number }).total;
}

async function benchBurst(fake: FakeOpenAIImages, runId: string): Promise<BurstResult> {
  fake.reset();
  fake.enqueue(...Array.from({ length: BURST }, () => ({ delayMs: DELAY_MS })));
  const gaia = await startAssetGaia(fake);
  try {
    const expectedMs = Math.ceil(BURST / CONCURRENCY) * DELAY_MS;
    const t0 = performance.now();
    const answers = await Promise.all(
      Array.from({ length: BURST }, async (_, i) => {
        try {
          const res = await fetch(`${gaia.url}/api/v1/assets/generate`, {
            method: 'POST',
            headers: auth,
            body: generateBody(
              `Burst crate ${i} of run ${runId}, weathered oak with iron bands`,
              BURST_WAIT_MS,
            ),
          });
          const text = await res.text();
          if (res.status === 202)
            return { kind: 202 as const, jobId: (JSON.parse(text) as { job_id: string }).job_id };
          // Answered within the wait: the job id is the generation id, so it is read back like the others.
          if (res.status === 200)
            return { kind: 200 as const, jobId: (JSON.parse(text) as AssetAnswer).metadata.generation_id };
          return { kind: 'error' as const, error: `HTTP ${res.status}: ${text.slice(0, 160)}` };
        } catch (err) {
          return { kind: 'error' as const, error: String(err) };
        }
      }),
    );
    const jobIds = answers.flatMap((a) => (a.kind === 'error' ? [] : [a.jobId]));
    const answered200 = answers.filter((a) => a.kind === 200).length;
    const failedAnswers = answers.filter((a) => a.kind === 'error');
    let maxProcessing = 0;
    let maxQueued = 0;
    // Poll the job list once a second (cheap: counts only) until every accepted job has finished.
    const deadline = t0 + expectedMs * 2 + 60_000;
    let done = 0;
    for (;;) {
      const [completed, failed, processing, queued] = await Promise.all([
        jobCount(gaia, 'completed'),
        jobCount(gaia, 'failed'),
        jobCount(gaia, 'processing'),
        jobCount(gaia, 'queued'),
      ]);
      maxProcessing = Math.max(maxProcessing, processing);
      maxQueued = Math.max(maxQueued, queued);
      done = completed + failed;
      if (done >= BURST - failedAnswers.length || performance.now() > deadline) break;
      await Bun.sleep(250);
    }
    const wallMs = performance.now() - t0;
    const peakRss = procStatus(gaia.proc.pid, 'VmHWM');
    const rssAfter = procStatus(gaia.proc.pid, 'VmRSS');
    // Every accepted job, read back: its final state and timestamps.
    let completed = 0;
    let failed = 0;
    let firstCreated = Number.POSITIVE_INFINITY;
    let lastCompleted = 0;
    let firstError = failedAnswers[0]?.error;
    for (const id of jobIds) {
      const res = await fetch(`${gaia.url}/api/v1/assets/jobs/${id}`, { headers: auth });
      const job = (await res.json()) as JobView;
      firstCreated = Math.min(firstCreated, Date.parse(job.created_at));
      if (job.status === 'completed' && job.asset_id) {
        completed++;
        lastCompleted = Math.max(lastCompleted, Date.parse(job.completed_at ?? job.created_at));
      } else {
        failed++;
        firstError ??= `job ${job.status}: ${job.error?.type ?? ''} ${job.error?.message ?? ''}`;
      }
    }
    return {
      n: BURST,
      accepted202: jobIds.length - answered200,
      answered200,
      errors: failedAnswers.length + failed,
      firstError,
      completed,
      failed,
      wallMs,
      jobsSpanMs: lastCompleted - firstCreated,
      expectedMs,
      maxProcessing,
      maxQueued,
      peakRss,
      rssAfter,
      fakeRequests: fake.requests.length,
    };
  } finally {
    await gaia.stop();
  }
}

// ── 3. signed downloads of a large file ─────────────────────────────────────────────────────────────────

/** An RGB PNG of random pixels, about `bytes` long: random data does not deflate, so the file stays large. */
function largePng(bytes: number): Uint8Array {
  const side = Math.ceil(Math.sqrt(bytes / 3));
  const png = new PNG({ width: side, height: side, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  const data = Buffer.alloc(side * side * 3);
  // xorshift32: deterministic, and fast enough to fill ten megabytes in a few milliseconds.
  let x = 0x9e3779b9;
  for (let i = 0; i < data.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
  png.data = data;
  return Uint8Array.from(
    PNG.sync.write(png, {
      colorType: 2,
      inputColorType: 2,
      inputHasAlpha: false,
      filterType: 0,
      deflateLevel: 1,
    }),
  );
}

interface DownloadResult {
  fileBytes: number;
  storeMs: number;
  raw: Awaited<ReturnType<typeof runLoad>>;
  gaia: Awaited<ReturnType<typeof runLoad>>;
  ratio: number;
}

async function benchDownload(
  gaia: GaiaChild,
  fake: FakeOpenAIImages,
  runId: string,
): Promise<DownloadResult> {
  const png = largePng(FILE_MB * 1_000_000);
  const sha = createHash('sha256').update(png).digest('hex');
  fake.reset();
  fake.enqueue({ image: png });
  const t0 = performance.now();
  const asset = await generate(gaia, `A large bench mosaic of run ${runId}`, 120_000);
  const storeMs = performance.now() - t0;
  const link = new URL(asset.asset_data.download_url);
  const gaiaUrl = `${gaia.url}${link.pathname}${link.search}`;
  // The link must serve exactly the bytes the provider returned, without credentials.
  const check = await fetch(gaiaUrl);
  const got = new Uint8Array(await check.arrayBuffer());
  if (check.status !== 200 || createHash('sha256').update(got).digest('hex') !== sha)
    throw new Error(`the signed link answered ${check.status} with ${got.length} bytes, not the stored file`);

  const dir = mkdtempSync(join(tmpdir(), 'gaia-asset-bench-'));
  const path = join(dir, 'large.png');
  writeFileSync(path, png);
  const port = await freePort();
  const proc = Bun.spawn(['bun', join(import.meta.dir, 'asset-raw-file.ts'), path, 'image/png'], {
    env: { ...process.env, PORT: String(port) },
    stdout: 'ignore',
    stderr: 'inherit',
  });
  try {
    const rawUrl = `http://127.0.0.1:${port}/large.png`;
    await waitFor(rawUrl, 10_000);
    const raw = await runLoad({ url: rawUrl, connections: DL_CONNECTIONS, durationS: DURATION_S });
    const viaGaia = await runLoad({ url: gaiaUrl, connections: DL_CONNECTIONS, durationS: DURATION_S });
    return { fileBytes: png.length, storeMs, raw, gaia: viaGaia, ratio: viaGaia.rps / raw.rps };
  } finally {
    await stopProc(proc);
    rmSync(dir, { recursive: true, force: true });
  }
}

// ── report ──────────────────────────────────────────────────────────────────────────────────────────────

export async function main(): Promise<void> {
  const runId = Date.now().toString(36);
  const fake = await startFakeOpenAIImages({ apiKey: 'sk-bench-images' });
  try {
    if (PARTS.has('latency') || PARTS.has('download')) {
      const gaia = await startAssetGaia(fake);
      try {
        if (PARTS.has('latency')) {
          const r = await benchLatency(gaia, fake, runId);
          const added = r.gaia.p50 - r.fake.p50;
          console.log(
            `generation latency, ${r.n} sequential (after ${WARMUP} warm-up), unique descriptions, allow_database:false:`,
          );
          console.log(`  OpenAI images fake alone:  p50 ${ms(r.fake.p50)}  p99 ${ms(r.fake.p99)}`);
          console.log(
            `  through Gaia (gateway -> asset -> fake -> storage): p50 ${ms(r.gaia.p50)}  p99 ${ms(r.gaia.p99)}`,
          );
          console.log(
            `  added by Gaia: p50 +${ms(added)}  p99 +${ms(r.gaia.p99 - r.fake.p99)}; paired differences p50 +${ms(r.pairedAdded.p50)}  p99 +${ms(r.pairedAdded.p99)} (target p50 < 5 ms) ${added < 5 ? 'OK' : 'SLOW'}`,
          );
          console.log(
            `  medians inside Gaia: provider call as the service timed it ${ms(r.split.providerMs)}, the service's own work around it ${ms(r.split.serviceMs)}, gateway + HTTP hops ${ms(r.split.outsideMs)}`,
          );
        }
        if (PARTS.has('download')) {
          const r = await benchDownload(gaia, fake, runId);
          const rate = (l: DownloadResult['raw']) =>
            `${l.rps.toFixed(1)} req/s = ${((l.rps * r.fileBytes) / 1_048_576).toFixed(0)} MB/s, p50 ${ms(l.p50Ms)}, ${l.errors} errors`;
          console.log(
            `signed download of a ${mb(r.fileBytes)} PNG (generated and stored through Gaia in ${ms(r.storeMs)}), ${DL_CONNECTIONS} connections x ${DURATION_S} s, ${r.raw.tool}:`,
          );
          console.log(`  raw Bun.serve + Bun.file: ${rate(r.raw)}`);
          console.log(`  Gaia signed link:         ${rate(r.gaia)}`);
          console.log(`  ratio ${r.ratio.toFixed(2)} (target >= 0.7) ${r.ratio >= 0.7 ? 'OK' : 'LOW'}`);
        }
      } finally {
        await gaia.stop();
      }
    }
    if (PARTS.has('burst')) {
      const r = await benchBurst(fake, runId);
      console.log(
        `burst: ${r.n} generations at once, fake ${DELAY_MS} ms each, MAX_CONCURRENT_GENERATIONS=${CONCURRENCY}, max_wait_time_ms ${BURST_WAIT_MS}:`,
      );
      console.log(
        `  ${r.accepted202} answered 202, ${r.answered200} answered 200; ${r.completed} completed, ${r.failed} failed, ${r.errors} errors${r.firstError ? ` (first: ${r.firstError})` : ''} ${r.errors === 0 ? 'OK' : 'ERRORS'}`,
      );
      console.log(
        `  drained in ${(r.wallMs / 1000).toFixed(1)} s wall (${(r.jobsSpanMs / 1000).toFixed(1)} s first created -> last completed) vs ${(r.expectedMs / 1000).toFixed(0)} s expected (${(r.jobsSpanMs / r.expectedMs).toFixed(3)}x)`,
      );
      console.log(
        `  most jobs seen processing at once ${r.maxProcessing}, queued ${r.maxQueued}; provider calls ${r.fakeRequests}`,
      );
      console.log(`  Gaia peak RSS ${mb(r.peakRss)} (VmHWM), ${mb(r.rssAfter)} after the drain`);
    }
  } finally {
    await fake.stop();
  }
}

if (import.meta.main) await main();
