/**
 * Tools benchmark (`bun run bench tools`), each figure against a baseline measured in the same run:
 *  1. One tool round through Gaia: `POST /api/v1/chat` where the model (the OpenAI fake) asks for an MCP tool,
 *     the tool (a Streamable HTTP MCP server in this process) answers, and the model answers. Baseline: the same
 *     two model calls made straight to the fake. Paired, alternating, N after a warm-up; p50 of the differences.
 *  2. `POST /api/v1/chat/gamemaster`: the lead asks three specialists at once, each answering after
 *     SPECIALIST_MS; the lead answers. Baseline: the slowest path made straight to the fake (lead call, one
 *     specialist call, lead call, in sequence). Ratio of medians; parallel specialists keep it near 1, running
 *     them one after another would make it about 3.
 * Knobs: BENCH_TOOLS_N (200), BENCH_TOOLS_SCENARIOS (10).
 */
import { startFakeMcpHttp } from '../test/fakes/mcp-http-server.ts';
import { startFakeOpenAI } from '../test/fakes/openai.ts';
import { percentile, startGaia } from './lib.ts';

const DEV_KEY = 'FJUeDkZRy0uPp7cYtavMsIfwi7weF9-RT7BeOlusqnE';
const N = Number(process.env.BENCH_TOOLS_N ?? 200);
const WARMUP = Math.min(20, N);
const SCENARIOS = Number(process.env.BENCH_TOOLS_SCENARIOS ?? 10);
const SPECIALIST_MS = 200;
const MODEL = 'gpt-4o-mini';

const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
const fmt = (ms: number) => `${ms.toFixed(2)} ms`;

export async function main(): Promise<void> {
  const oa = await startFakeOpenAI();
  const mcp = await startFakeMcpHttp();
  const gaia = await startGaia({
    OPENAI_API_KEY: 'sk-bench',
    OPENAI_BASE_URL: oa.url,
    GAIA_MCP_SERVERS: JSON.stringify({ mcpServers: { bench: { url: mcp.url } } }),
  });
  const auth = { authorization: `Bearer ${DEV_KEY}`, 'content-type': 'application/json' };
  try {
    const persona = await fetch(`${gaia.url}/api/v1/chat/personas`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        name: `bench-tools-${crypto.randomUUID().slice(0, 8)}`,
        description: 'Uses the bench MCP server',
        system_prompt: 'You are a tool-using assistant.',
        tools: ['bench__*'],
      }),
    });
    if (!persona.ok) throw new Error(`persona: HTTP ${persona.status} ${await persona.text()}`);
    const personaId = ((await persona.json()) as { persona: { id: string } }).persona.id;

    const round = () =>
      oa.enqueue(
        { chunks: [], toolCalls: [{ name: 'bench__echo', arguments: '{"text":"ping"}' }] },
        { chunks: ['pong'] },
      );
    const throughGaia = async () => {
      round();
      const t0 = performance.now();
      const r = await fetch(`${gaia.url}/api/v1/chat`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ message: 'echo ping', model: MODEL, persona_id: personaId }),
      });
      const body = (await r.json()) as { _metadata?: { tools_used?: string[] } };
      const ms = performance.now() - t0;
      if (r.status !== 200 || !body._metadata?.tools_used?.includes('bench__echo'))
        throw new Error(`tool round failed: ${r.status} ${JSON.stringify(body).slice(0, 300)}`);
      return ms;
    };
    const modelCall = async () => {
      const r = await fetch(`${oa.url}/chat/completions`, {
        method: 'POST',
        headers: { authorization: 'Bearer sk-bench', 'content-type': 'application/json' },
        body: JSON.stringify({
          model: MODEL,
          stream: true,
          stream_options: { include_usage: true },
          messages: [{ role: 'user', content: 'echo ping' }],
        }),
      });
      await r.text();
    };
    const direct = async () => {
      round();
      const t0 = performance.now();
      await modelCall();
      await modelCall();
      return performance.now() - t0;
    };

    const g: number[] = [];
    const d: number[] = [];
    for (let i = 0; i < WARMUP + N; i++) {
      // Alternate which goes first so drift on the shared machine hits both alike.
      const [a, b] = i % 2 ? [await direct(), await throughGaia()] : [await throughGaia(), await direct()];
      const [gm, dm] = i % 2 ? [b, a] : [a, b];
      if (i < WARMUP) continue;
      g.push(gm);
      d.push(dm);
    }
    const diffs = g.map((x, i) => x - d[i]!);
    console.log(`one tool round (model → MCP tool → model), ${N} sequential after ${WARMUP} warm-up:`);
    console.log(`  the two model calls straight to the fake: p50 ${fmt(median(d))}`);
    console.log(`  through Gaia (gateway → chat → fake, MCP echo, fake): p50 ${fmt(median(g))}`);
    const added = median(diffs);
    console.log(
      `  added per round: p50 ${fmt(added)}, p99 ${fmt(
        percentile(
          [...diffs].sort((a, b) => a - b),
          99,
        ),
      )} (target < 5 ms) ${added < 5 ? 'OK' : 'MISSED'}`,
    );

    // Scenario: three specialists in parallel.
    const scenarioScript = () =>
      oa.enqueue(
        {
          chunks: [],
          toolCalls: [
            { name: 'ask_npc_voice', arguments: '{"request":"greet"}' },
            { name: 'ask_rules_arbiter', arguments: '{"request":"haggle?"}' },
            { name: 'ask_world_state', arguments: '{"request":"who is here"}' },
          ],
        },
        { chunks: ['npc'], delayMs: SPECIALIST_MS },
        { chunks: ['rules'], delayMs: SPECIALIST_MS },
        { chunks: ['world'], delayMs: SPECIALIST_MS },
        { chunks: ['The innkeeper waves.'] },
      );
    const gm: number[] = [];
    const path: number[] = [];
    for (let i = 0; i < SCENARIOS + 2; i++) {
      scenarioScript();
      const t0 = performance.now();
      const r = await fetch(`${gaia.url}/api/v1/chat/gamemaster`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ message: 'I enter the tavern', model: MODEL }),
      });
      const body = (await r.json()) as { _scenario?: { mode?: string; agents?: unknown[] } };
      const ms = performance.now() - t0;
      if (r.status !== 200 || body._scenario?.mode !== 'multi_agent' || body._scenario.agents?.length !== 4)
        throw new Error(`scenario failed: ${r.status} ${JSON.stringify(body).slice(0, 300)}`);
      oa.enqueue({ chunks: [] }, { chunks: ['npc'], delayMs: SPECIALIST_MS }, { chunks: ['x'] });
      const t1 = performance.now();
      await modelCall();
      await modelCall();
      await modelCall();
      const p = performance.now() - t1;
      if (i < 2) continue;
      gm.push(ms);
      path.push(p);
    }
    const ratio = median(gm) / median(path);
    console.log(
      `gamemaster, three specialists answering in ${SPECIALIST_MS} ms each, ${SCENARIOS} requests:`,
    );
    console.log(`  slowest path straight to the fake (lead, one specialist, lead): p50 ${fmt(median(path))}`);
    console.log(
      `  through Gaia: p50 ${fmt(median(gm))} (the sum of the calls would be ≥ ${3 * SPECIALIST_MS} ms)`,
    );
    console.log(`  ratio ${ratio.toFixed(2)} (target < 1.5) ${ratio < 1.5 ? 'OK' : 'MISSED'}`);
  } finally {
    await gaia.stop();
    await mcp.stop();
    await oa.stop();
  }
}

if (import.meta.main) await main();
