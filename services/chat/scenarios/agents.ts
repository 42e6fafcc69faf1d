/**
 * One scenario request's specialists at work. The lead calls `ask_<name>`; each call is a model call of its own
 * (the specialist's system prompt, the lead's request, nothing else), may use the KB tools the lead's persona
 * allows, is cut off after 30 s, and is written to the usage ledger like any other call. A failing specialist is
 * an error result for the lead, never a failed request.
 */
import type { User } from '../../../src/http/service.ts';
import type { Logger } from '../../../src/log.ts';
import { newLoopState, runToolLoop } from '../engine/tool-loop.ts';
import type { UsageLedger } from '../engine/usage.ts';
import type { ModelInfo } from '../models/registry.ts';
import type { Provider, ToolCall } from '../providers/types.ts';
import type { ToolRegistry } from '../tools/registry.ts';
import { clipSummary, type OfferedTool, parseArgs, type ToolOutcome, toolError } from '../tools/types.ts';
import type { ScenarioTeam } from './teams.ts';

export const SPECIALIST_TIMEOUT_MS = 30_000;

export interface AgentUsage {
  name: string;
  calls: number;
  model: string;
  input_tokens: number;
  output_tokens: number;
  duration_ms: number;
}

export interface AgentRunDeps {
  team: ScenarioTeam;
  provider: Provider;
  model: ModelInfo;
  maxTokens: number;
  temperature?: number;
  user: User;
  requestId: string;
  endpoint: string;
  conversationId: string | null;
  usage: UsageLedger;
  log: Logger;
  registry?: ToolRegistry;
  /** The KB tools the lead's persona allows, listed once per request on first need. */
  kbTools: () => Promise<OfferedTool[]>;
  timeoutMs?: number;
}

export class AgentRun {
  /** Per specialist, in the team's order once called. */
  readonly agents = new Map<string, AgentUsage>();

  constructor(private readonly d: AgentRunDeps) {}

  owns(name: string): boolean {
    return name.startsWith('ask_') && this.d.team.specialists.some((s) => `ask_${s.name}` === name);
  }

  async ask(call: ToolCall, signal: AbortSignal): Promise<ToolOutcome> {
    const d = this.d;
    const specialist = d.team.specialists.find((s) => `ask_${s.name}` === call.name);
    if (!specialist) return toolError(`Unknown specialist: ${call.name}`);
    const request = parseArgs(call.arguments).request;
    if (typeof request !== 'string' || request.trim() === '')
      return toolError('Send the specialist a non-empty "request".');

    const started = performance.now();
    const deadline = AbortSignal.timeout(d.timeoutMs ?? SPECIALIST_TIMEOUT_MS);
    const both = AbortSignal.any([signal, deadline]);
    const state = newLoopState();
    let error: string | null = null;
    try {
      const tools = await d.kbTools();
      await runToolLoop(
        {
          provider: d.provider,
          request: {
            model: d.model.id,
            system: specialist.prompt,
            maxTokens: d.maxTokens,
            temperature: d.temperature,
            personaName: specialist.name,
          },
          messages: [{ role: 'user', content: request }],
          tools,
          execute:
            tools.length && d.registry
              ? (c, s) =>
                  d.registry!.run(c.name, c.arguments, { user: d.user, signal: s, requestId: d.requestId })
              : undefined,
          maxRounds: 2,
          signal: both,
        },
        state,
      );
    } catch (err) {
      // The lead's own abort (client gone) propagates; a specialist's failure is the lead's information.
      if (signal.aborted) throw err;
      error = deadline.aborted
        ? `The ${specialist.name} specialist did not answer within ${Math.round((d.timeoutMs ?? SPECIALIST_TIMEOUT_MS) / 1000)} s.`
        : `The ${specialist.name} specialist failed: ${(err as Error)?.message ?? String(err)}`;
    }
    const ms = Math.round(performance.now() - started);
    const input = state.input ?? Math.ceil((specialist.prompt.length + request.length) / 4);
    const output = state.output ?? Math.ceil(state.text.length / 4);
    const a = this.agents.get(specialist.name) ?? {
      name: specialist.name,
      calls: 0,
      model: d.model.id,
      input_tokens: 0,
      output_tokens: 0,
      duration_ms: 0,
    };
    a.calls++;
    a.input_tokens += input;
    a.output_tokens += output;
    a.duration_ms += ms;
    this.agents.set(specialist.name, a);
    await d.usage.record({
      user: d.user,
      endpoint: d.endpoint,
      conversationId: d.conversationId,
      messageId: null,
      model: d.model,
      input,
      output,
      estimated: state.input === undefined || state.output === undefined,
      status: error ? 'error' : 'ok',
      latencyMs: ms,
      requestId: d.requestId,
    });
    if (error) {
      d.log.warn('scenario specialist failed', { agent: specialist.name, error });
      return toolError(error);
    }
    return {
      ok: true,
      content: state.text,
      summary: clipSummary(`${specialist.name} answered (${state.text.length} characters)`),
    };
  }

  /** Tokens of every specialist call together. */
  totals(): { input: number; output: number } {
    let input = 0;
    let output = 0;
    for (const a of this.agents.values()) {
      input += a.input_tokens;
      output += a.output_tokens;
    }
    return { input, output };
  }
}
