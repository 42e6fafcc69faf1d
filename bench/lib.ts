/** Shared benchmark plumbing: free ports, readiness waits, and one load tool used for every target. */

import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LoadResult {
  tool: 'wrk' | 'bun-fetch';
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
}

export interface LoadOptions {
  url: string;
  headers?: Record<string, string>;
  connections: number;
  durationS: number;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function waitFor(
  url: string,
  timeoutMs: number,
  headers?: Record<string, string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { headers });
      if (res.status === 200) {
        await res.arrayBuffer();
        return;
      }
    } catch {
      // not listening yet
    }
    await Bun.sleep(10);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

const hasWrk = Bun.which('wrk') !== null;

function wrkMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

async function runWrk(o: LoadOptions): Promise<LoadResult> {
  const args = [
    'wrk',
    '-t',
    String(Math.min(2, o.connections)),
    '-c',
    String(o.connections),
    '-d',
    `${o.durationS}s`,
    '--latency',
  ];
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`);
  args.push(o.url);
  const proc = Bun.spawn(args, { stdout: 'pipe', stderr: 'pipe' });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0);
  const p50 = /\s50%\s+([\d.]+)(us|ms|s)/.exec(out);
  const p99 = /\s99%\s+([\d.]+)(us|ms|s)/.exec(out);
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0);
  const sockErr = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = non2xx + (sockErr ? sockErr.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  return {
    tool: 'wrk',
    rps,
    p50Ms: p50 ? wrkMs(p50[1]!, p50[2]!) : Number.NaN,
    p99Ms: p99 ? wrkMs(p99[1]!, p99[2]!) : Number.NaN,
    requests,
    errors,
  };
}

async function runBunLoad(o: LoadOptions): Promise<LoadResult> {
  const proc = Bun.spawn(['bun', join(import.meta.dir, 'load.ts'), JSON.stringify(o)], {
    stdout: 'pipe',
    stderr: 'inherit',
  });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  return { tool: 'bun-fetch', ...JSON.parse(out) };
}

/** The same tool for every target in a run, so ratios compare like with like. */
export function runLoad(o: LoadOptions): Promise<LoadResult> {
  return hasWrk ? runWrk(o) : runBunLoad(o);
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const ROOT = join(import.meta.dir, '..');

export async function stopProc(proc: ReturnType<typeof Bun.spawn>, graceMs = 5000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  proc.kill('SIGTERM');
  const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
  if (!exited) {
    proc.kill('SIGKILL');
    await proc.exited;
  }
}

export interface GaiaChild {
  proc: ReturnType<typeof Bun.spawn>;
  url: string;
  /** Spawn to a healthy `/health`. */
  coldStartMs: number;
  stop(): Promise<void>;
}

/**
 * All-in-one Gaia as its own process, as `bun run dev` starts it, on free ports and a throwaway data dir.
 * Benchmarks measure Gaia, not its limiter, so the per-identity limits are lifted; `env` adds the rest.
 */
export async function startGaia(env: Record<string, string> = {}): Promise<GaiaChild> {
  const port = await freePort();
  const webPort = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'gaia-bench-'));
  const t0 = performance.now();
  const proc = Bun.spawn(['bun', join(ROOT, 'wiring/main.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      GAIA_ENV: 'development',
      GAIA_DATA_DIR: dataDir,
      GATEWAY_PORT: String(port),
      WEB_PORT: String(webPort),
      HOST: '127.0.0.1',
      GAIA_RATE_LIMIT: '100000000/minute',
      GAIA_MAX_CONCURRENT_STREAMS: '100000',
      // As `bun run dev` and the container start Gaia (package.json, Dockerfile).
      BUN_CONFIG_MAX_HTTP_REQUESTS: process.env.BUN_CONFIG_MAX_HTTP_REQUESTS ?? '4096',
      ...env,
    },
    // The per-request log line is part of the cost; it goes to /dev/null as it would to a collector.
    stdout: 'ignore',
    stderr: 'inherit',
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await stopProc(proc, 10_000);
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    await waitFor(`${url}/health`, 30_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { proc, url, coldStartMs: performance.now() - t0, stop };
}
