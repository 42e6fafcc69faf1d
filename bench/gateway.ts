/**
 * Gateway benchmark (issue: foundation). Side by side in one run, with the same load tool:
 *  - a raw `Bun.serve` hello-world (the baseline), and
 *  - Gaia all-in-one, an authenticated request (dev API key) through the gateway to a trivial service route.
 * Prints throughput at 64 connections and the ratio, latency at concurrency 1 and the latency Gaia adds,
 * cold start to a healthy `/health`, and idle RSS.
 *
 * Load tool: wrk when installed (`apt-get install wrk`), else a Bun fetch loop in a separate process.
 */
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

function rssMb(pid: number): number {
  const status = require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8') as string;
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export interface GatewayBenchResult {
  tool: string;
  raw: { c64: LoadResult; c1: LoadResult };
  gaia: { c64: LoadResult; c1: LoadResult };
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
    return {
      tool: rawC64.tool,
      raw: { c64: rawC64, c1: rawC1 },
      gaia: { c64: gaiaC64, c1: gaiaC1 },
      route: ROUTE,
      coldStartMs: gaia.coldStartMs,
      idleRssMb,
      rawIdleRssMb,
    };
  } finally {
    await raw.stop();
    await gaia.stop();
  }
}

export function printGateway(r: GatewayBenchResult): string[] {
  const lines = [
    `gateway bench (load tool: ${r.tool}; route: GET ${r.route} with the dev API key)`,
    `  throughput @64 conns: raw Bun.serve ${r.raw.c64.rps.toFixed(0)} req/s, Gaia ${r.gaia.c64.rps.toFixed(0)} req/s, ratio ${(r.gaia.c64.rps / r.raw.c64.rps).toFixed(3)} (target >= 0.5)`,
    `  latency @1 conn: raw p50 ${r.raw.c1.p50Ms.toFixed(3)} ms p99 ${r.raw.c1.p99Ms.toFixed(3)} ms; Gaia p50 ${r.gaia.c1.p50Ms.toFixed(3)} ms p99 ${r.gaia.c1.p99Ms.toFixed(3)} ms`,
    `  added by Gaia @1 conn: p50 +${(r.gaia.c1.p50Ms - r.raw.c1.p50Ms).toFixed(3)} ms (target < 0.2), p99 +${(r.gaia.c1.p99Ms - r.raw.c1.p99Ms).toFixed(3)} ms (target < 1)`,
    `  errors: raw ${r.raw.c64.errors + r.raw.c1.errors}, Gaia ${r.gaia.c64.errors + r.gaia.c1.errors}`,
    `  cold start to healthy /health: ${r.coldStartMs.toFixed(0)} ms (target < 1000)`,
    `  idle RSS: Gaia ${r.idleRssMb.toFixed(1)} MB (target < 120), raw Bun.serve ${r.rawIdleRssMb.toFixed(1)} MB`,
  ];
  for (const l of lines) console.log(l);
  return lines;
}

if (import.meta.main) printGateway(await benchGateway());
