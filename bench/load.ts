/** Fallback load generator (when wrk is absent): keep-alive fetch loops in their own process. */
import { percentile } from './lib.ts';

const o = JSON.parse(process.argv[2] ?? '{}') as {
  url: string;
  headers?: Record<string, string>;
  connections: number;
  durationS: number;
};
const end = performance.now() + o.durationS * 1000;
const latencies: number[] = [];
let errors = 0;
async function loop(): Promise<void> {
  while (performance.now() < end) {
    const t0 = performance.now();
    try {
      const res = await fetch(o.url, { headers: o.headers });
      await res.arrayBuffer();
      if (res.status >= 400) errors++;
    } catch {
      errors++;
    }
    latencies.push(performance.now() - t0);
  }
}
const t0 = performance.now();
await Promise.all(Array.from({ length: o.connections }, loop));
const secs = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
console.log(
  JSON.stringify({
    rps: latencies.length / secs,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    requests: latencies.length,
    errors,
  }),
);
