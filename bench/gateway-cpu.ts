/**
 * The gateway's own cost per request, without the network or a load client: in one process, an authenticated
 * request (dev API key) through the all-in-one gateway to the trivial chat route, `gateway.fetch(request)` in a
 * loop with 16 in flight, against the same loop calling a bare handler that answers the same JSON. On a
 * 2-core machine the HTTP load client competes with the server, so the throughput ratio of `bench gateway`
 * moves by ±20 % between runs; this figure moves by a few per cent and shows what a change to the request
 * path costs or saves.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/log.ts';
import { startAllInOne } from '../wiring/stack.ts';

const DEV_KEY = 'FJUeDkZRy0uPp7cYtavMsIfwi7weF9-RT7BeOlusqnE';
const ROUTE = '/api/v0.2/chat/status';
const N = Number(process.env.BENCH_CPU_REQUESTS ?? 30_000);
const IN_FLIGHT = 16;

/** µs per request: the median of five rounds of `N` requests, `IN_FLIGHT` at a time. */
async function perRequest(one: () => Promise<void>): Promise<number> {
  for (let i = 0; i < 5000; i++) await one();
  const rounds: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: IN_FLIGHT }, async () => {
        for (let i = 0; i < N / IN_FLIGHT; i++) await one();
      }),
    );
    rounds.push(((performance.now() - t0) * 1000) / N);
  }
  return rounds.sort((a, b) => a - b)[2]!;
}

export async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'gaia-bench-cpu-'));
  const config = loadConfig({
    ...process.env,
    GAIA_ENV: 'development',
    GAIA_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    GAIA_RATE_LIMIT: '100000000/minute',
  });
  // The request log line is formatted as in production and handed to a sink that drops it.
  const log = createLogger({ service: 'gaia', level: 'info', json: true, sink: () => {} });
  const stack = await startAllInOne({ config, log, gatewayPort: 0, webPort: 0 });
  try {
    const url = `${stack.gatewayUrl}${ROUTE}`;
    const headers = { 'x-api-key': DEV_KEY };
    const body = await (await stack.gateway.fetch(new Request(url, { headers }))).text();
    const bare = (_req: Request) => new Response(body, { headers: { 'content-type': 'application/json' } });
    const baseline = await perRequest(async () => {
      await (await bare(new Request(url, { headers }))).arrayBuffer();
    });
    const gaia = await perRequest(async () => {
      const res = await stack.gateway.fetch(new Request(url, { headers }));
      if (res.status !== 200) throw new Error(`${ROUTE} answered ${res.status}`);
      await res.arrayBuffer();
    });
    console.log(
      `gateway CPU per request (in process, ${IN_FLIGHT} in flight, GET ${ROUTE} with the dev API key, median of 5 × ${N}):`,
    );
    console.log(
      `  bare handler ${baseline.toFixed(2)} µs, Gaia ${gaia.toFixed(2)} µs, added ${(gaia - baseline).toFixed(2)} µs`,
    );
  } finally {
    await stack.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.main) await main();
