/**
 * Gateway benchmark (issue: foundation). Side by side in one run, with the same load tool:
 *  - a raw `Bun.serve` hello-world (the baseline), and
 *  - Gaia all-in-one, an authenticated request (dev API key) through the gateway to a trivial service route.
 * Prints throughput at 64 connections and the ratio, latency at concurrency 1 and the latency Gaia adds,
 * cold start to a healthy `/health`, and idle RSS.
 *
 * Load tool: wrk when installed (`apt-get install wrk`), else a Bun fetch loop in a separate process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, type LoadResult, runLoad, startGaia, waitFor } from './lib.ts';

const DEV_KEY = 'FJUeDkZRy0uPp7cYtavMsIfwi7weF9-RT7BeOlusqnE';
const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 5);
// A trivial authenticated service route: chat's in-memory scratch-history status, no database.
const ROUTE = process.env.BENCH_ROUTE ?? '/api/v0.2/chat/status';

interface Proc {
  proc: ReturnType<typeof Bun.spawn>;
  url: string;
  stop(): Promise<void>;
}

async function startRaw(): Promise<Proc> {
  const port = await freePort();
  const proc = Bun.spawn(['bun', join(import.meta.dir, 'servers/raw.ts')], {
    env: { ...process.env, PORT: String(port) },
    stdout: 'ignore',
    stderr: 'inherit',
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(`${url}/`, 10_000);
  return {
    proc,
    url,
    async stop() {
      proc.kill();
      await proc.exited;
    },
  };
}

/**
 * Split mode: the chat service and the gateway as two processes on one SQLite file, the gateway calling chat
 * over HTTP with the signed identity, as `bun services/<name>/index.ts` runs them.
 */
async function startSplit(): Promise<Proc> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gaia-bench-split-'));
  const gatewayPort = await freePort();
  const chatPort = await freePort();
  const env = {
    ...process.env,
    GAIA_ENV: 'development',
    GAIA_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    GATEWAY_PORT: String(gatewayPort),
    CHAT_PORT: String(chatPort),
    CHAT_SERVICE_URL: `http://127.0.0.1:${chatPort}`,
    GAIA_INTERNAL_SECRET: 'bench-internal-secret-0123456789abcdef0123456789',
    GAIA_RATE_LIMIT: '100000000/minute',
    BUN_CONFIG_MAX_HTTP_REQUESTS: process.env.BUN_CONFIG_MAX_HTTP_REQUESTS ?? '4096',
  };
  const spawn = (entry: string) =>
    Bun.spawn(['bun', join(import.meta.dir, '..', entry)], { env, stdout: 'ignore', stderr: 'inherit' });
  // Chat first: it migrates and seeds the shared database before the gateway opens it.
  const chat = spawn('services/chat/index.ts');
  await waitFor(`http://127.0.0.1:${chatPort}/health`, 30_000);
  const gateway = spawn('services/gateway/index.ts');
  const url = `http://127.0.0.1:${gatewayPort}`;
  await waitFor(`${url}/health/live`, 30_000);
  return {
    proc: gateway,
    url,
    async stop() {
      for (const p of [gateway, chat]) p.kill();
      await Promise.all([gateway.exited, chat.exited]);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

function rssMb(pid: number): number {
  const status = require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8') as string;
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export interface GatewayBenchResult {
  tool: string;
  raw: { c64: LoadResult; c1: LoadResult };
  gaia: { c64: LoadResult; c1: LoadResult };
  /** The same route with the gateway and the chat service in two processes. */
  split: { c64: LoadResult; c1: LoadResult };
  route: string;
  coldStartMs: number;
  idleRssMb: number;
  rawIdleRssMb: number;
}

export async function benchGateway(): Promise<GatewayBenchResult> {
  const raw = await startRaw();
  const gaia = await startGaia();
  try {
    const auth = { 'X-API-Key': DEV_KEY };
    const check = await fetch(gaia.url + ROUTE, { headers: auth });
    if (check.status !== 200) throw new Error(`${ROUTE} answered ${check.status}; pick BENCH_ROUTE`);
    await Bun.sleep(300);
    const idleRssMb = rssMb(gaia.proc.pid);
    const rawIdleRssMb = rssMb(raw.proc.pid);
    // Warm both (JIT, caches), then measure alternately so machine noise hits both alike.
    await runLoad({ url: `${raw.url}/`, connections: 8, durationS: 1 });
    await runLoad({ url: gaia.url + ROUTE, headers: auth, connections: 8, durationS: 1 });
    const rawC64 = await runLoad({ url: `${raw.url}/`, connections: 64, durationS: DURATION_S });
    const gaiaC64 = await runLoad({
      url: gaia.url + ROUTE,
      headers: auth,
      connections: 64,
      durationS: DURATION_S,
    });
    const rawC1 = await runLoad({ url: `${raw.url}/`, connections: 1, durationS: DURATION_S });
    const gaiaC1 = await runLoad({
      url: gaia.url + ROUTE,
      headers: auth,
      connections: 1,
      durationS: DURATION_S,
    });
    await gaia.stop();
    const split = await startSplit();
    let splitC64: LoadResult;
    let splitC1: LoadResult;
    try {
      const res = await fetch(split.url + ROUTE, { headers: auth });
      if (res.status !== 200) throw new Error(`split mode: ${ROUTE} answered ${res.status}`);
      await runLoad({ url: split.url + ROUTE, headers: auth, connections: 8, durationS: 1 });
      splitC64 = await runLoad({
        url: split.url + ROUTE,
        headers: auth,
        connections: 64,
        durationS: DURATION_S,
      });
      splitC1 = await runLoad({
        url: split.url + ROUTE,
        headers: auth,
        connections: 1,
        durationS: DURATION_S,
      });
    } finally {
      await split.stop();
    }
    return {
      tool: rawC64.tool,
      raw: { c64: rawC64, c1: rawC1 },
      gaia: { c64: gaiaC64, c1: gaiaC1 },
      split: { c64: splitC64, c1: splitC1 },
      route: ROUTE,
      coldStartMs: gaia.coldStartMs,
      idleRssMb,
      rawIdleRssMb,
    };
  } finally {
    await raw.stop();
    await gaia.stop().catch(() => {});
  }
}

export function printGateway(r: GatewayBenchResult): string[] {
  const lines = [
    `gateway bench (load tool: ${r.tool}; route: GET ${r.route} with the dev API key)`,
    `  throughput @64 conns: raw Bun.serve ${r.raw.c64.rps.toFixed(0)} req/s, Gaia ${r.gaia.c64.rps.toFixed(0)} req/s, ratio ${(r.gaia.c64.rps / r.raw.c64.rps).toFixed(3)} (target >= 0.5)`,
    `  latency @1 conn: raw p50 ${r.raw.c1.p50Ms.toFixed(3)} ms p99 ${r.raw.c1.p99Ms.toFixed(3)} ms; Gaia p50 ${r.gaia.c1.p50Ms.toFixed(3)} ms p99 ${r.gaia.c1.p99Ms.toFixed(3)} ms`,
    `  added by Gaia @1 conn: p50 +${(r.gaia.c1.p50Ms - r.raw.c1.p50Ms).toFixed(3)} ms (target < 0.2), p99 +${(r.gaia.c1.p99Ms - r.raw.c1.p99Ms).toFixed(3)} ms (target < 1)`,
    `  split mode (gateway and chat in two processes): ${r.split.c64.rps.toFixed(0)} req/s @64, ratio ${(r.split.c64.rps / r.raw.c64.rps).toFixed(3)}; @1 conn p50 +${(r.split.c1.p50Ms - r.raw.c1.p50Ms).toFixed(3)} ms, p99 +${(r.split.c1.p99Ms - r.raw.c1.p99Ms).toFixed(3)} ms`,
    `  errors: raw ${r.raw.c64.errors + r.raw.c1.errors}, Gaia ${r.gaia.c64.errors + r.gaia.c1.errors}, split ${r.split.c64.errors + r.split.c1.errors}`,
    `  cold start to healthy /health: ${r.coldStartMs.toFixed(0)} ms (target < 1000)`,
    `  idle RSS: Gaia ${r.idleRssMb.toFixed(1)} MB (target < 120), raw Bun.serve ${r.rawIdleRssMb.toFixed(1)} MB`,
  ];
  for (const l of lines) console.log(l);
  return lines;
}

if (import.meta.main) printGateway(await benchGateway());
