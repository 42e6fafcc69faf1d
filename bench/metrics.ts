/**
 * The cost of metrics on the request path (`bun run bench metrics`): what one request's instrumentation costs
 * (a route-template lookup, a counter and a histogram observation), for a gateway request and for the service
 * behind it in all-in-one mode, against the same loop doing nothing, in the same process.
 */
import { observeHttp, RouteTemplates } from '../src/metrics.ts';

const N = Number(process.env.BENCH_METRICS_N ?? 1_000_000);

function time(fn: (i: number) => void): number {
  const t0 = performance.now();
  for (let i = 0; i < N; i++) fn(i);
  return ((performance.now() - t0) * 1000) / N;
}

export async function main(): Promise<void> {
  const routes = [
    { method: 'GET', path: '/api/v0.2/chat/status' },
    { method: 'GET', path: '/api/v0.3/conversations' },
    { method: 'GET', path: '/api/v1/conversations/:conversation_id' },
    { method: 'GET', path: '/api/v1/conversations/:conversation_id/messages' },
    { method: 'POST', path: '/api/v1/chat' },
    ...Array.from({ length: 80 }, (_, i) => ({ method: 'GET', path: `/api/v1/other${i}/:id` })),
  ];
  const templates = new RouteTemplates(routes);
  const paths = ['/api/v0.2/chat/status', '/api/v1/conversations/3b9d1c2e-5f4a-4e8b-9c1d-2a7f6e0b8c91'];
  let sink = 0;
  // Warm the JIT and the label series.
  for (let i = 0; i < 10_000; i++)
    observeHttp('gateway', 'GET', templates.match('GET', paths[i % 2]!), 200, 0.001);
  const empty = time((i) => {
    sink += paths[i % 2]!.length;
  });
  const exact = time(() => {
    observeHttp('gateway', 'GET', templates.match('GET', paths[0]!), 200, 0.0012);
  });
  const pattern = time(() => {
    observeHttp('chat', 'GET', templates.match('GET', paths[1]!), 200, 0.0012);
  });
  console.log(
    `metrics per request, ${N.toLocaleString()} iterations each (empty loop ${empty.toFixed(3)} µs):`,
  );
  console.log(`  exact route (map lookup) + counter + histogram: ${(exact - empty).toFixed(3)} µs`);
  console.log(`  parameterised route (regex list) + counter + histogram: ${(pattern - empty).toFixed(3)} µs`);
  const allInOne = exact + pattern - 2 * empty;
  console.log(
    `  one all-in-one request (gateway + service): ${allInOne.toFixed(3)} µs (target < 2 µs per request) ${allInOne < 2 ? 'OK' : 'MISSED'}`,
  );
  if (sink < 0) console.log(sink);
}

if (import.meta.main) await main();
