/**
 * The pipeline every chat request goes through, independent of wire format:
 *
 *   prepare()  validate → conversation → persona → model → persist the user message   (errors are plain JSON)
 *   run()      prompt → provider call with timeouts, tools and fallback → persist the assistant message
 *
 * `run` reports text through `onDelta` as it arrives (awaited, so a slow client slows the provider read) and
 * resolves with the outcome only after everything is stored, so callers write their terminal events last.
 * Provider failures are outcomes, not exceptions: each family renders them its own way.
 */
import type { Bus } from '../../../src/bus/types.ts';
import type { Config } from '../../../src/config.ts';
import { HttpError } from '../../../src/http/errors.ts';
import type { User } from '../../../src/http/service.ts';
import type { Logger } from '../../../src/log.ts';
import { llmTimeToFirstToken, llmTokensPerSecond } from '../../../src/metrics.ts';
import {
  type ConversationRow,
  type ConversationStore,
  conversationNotFound,
  isUuid,
  type MessageRow,
  type NewMessage,
  titleFromMessage,
} from '../conversations/service.ts';
import { costUsd, type ModelInfo } from '../models/registry.ts';
import type { PersonaRow, PersonaStore } from '../personas/service.ts';
import { ProviderError, toProviderError } from '../providers/errors.ts';
import type { ProviderSet } from '../providers/service.ts';
import type {
  FinishReason,
  PromptMessage,
  ToolCall,
  ToolCallDelta,
  ToolChoice,
  ToolDef,
} from '../providers/types.ts';
import { AgentRun, type AgentUsage } from '../scenarios/agents.ts';
import { type ScenarioTeam, specialistTools } from '../scenarios/teams.ts';
import type { ToolRegistry } from '../tools/registry.ts';
import { type OfferedTool, parseArgs, type ToolSourceKind } from '../tools/types.ts';
import type { ConversationLocks } from './lock.ts';
import { buildSystemPrompt, estimateTokens, fitHistory, mergeSameRole } from './prompt.ts';
import { fallbackTargets, type SelectionRequest, selectModel } from './selection.ts';
import type { SessionHistory } from './session.ts';
import { newLoopState, runToolLoop, type ToolEvent, type ToolStep } from './tool-loop.ts';
import type { UsageEntry, UsageLedger } from './usage.ts';

export const MESSAGE_CREATED = 'gaia.chat.message.created';
const DEFAULT_MAX_TOKENS = 4096;
const SCENARIO_ROUNDS = 3;

/** Tools the client defined (`/v1`): passed to the model, never run here; the calls go back to the client. */
export interface ClientTools {
  tools: ToolDef[];
  choice?: ToolChoice;
  parallel?: boolean;
}

export interface RunHooks {
  signal?: AbortSignal;
  onDelta?: (text: string) => Promise<void> | void;
  /** Fragments of client-tool calls as the model streams them. */
  onToolDelta?: (delta: ToolCallDelta) => Promise<void> | void;
  /** Calls and results of the tools the engine runs. */
  onToolEvent?: (event: ToolEvent) => Promise<void> | void;
  /**
   * How many characters of the streamed text were actually written to the client. A client that leaves keeps
   * only that much: a stream may still hold text back (v0.3 keeps an unfinished game directive), and text
   * arriving after the disconnect is never written, so storing all of it would show the user words they never got.
   */
  sentChars?: () => number;
}

export type HistoryMode =
  /** A stored conversation; `id` null creates one. */
  | { kind: 'conversation'; id: string | null }
  /** The legacy in-memory session history; `limit` keeps only the last n messages (ultrafast-redis: 10). */
  | { kind: 'session'; limit?: number }
  /** Stateless (`/v1`, `ultrafast`): the prompt is exactly these messages plus the caller's system text. */
  | { kind: 'none'; messages?: PromptMessage[]; system?: string };

export interface TurnRequest {
  user: User;
  /** The public path, recorded in the usage ledger. */
  endpoint: string;
  /** The current user message (for stateless requests with `messages`, the last user entry). */
  message: string;
  history: HistoryMode;
  /** Request `persona_id` (absent, `default` → the caller's active persona). */
  personaId?: string | null;
  /** False on `/v1` unless `persona_id` was sent. */
  usePersona: boolean;
  selection: Omit<SelectionRequest, 'personaPreferred'>;
  /** An already resolved model (`/v1`, where the model is named and validated by the route). */
  fixedModel?: ModelInfo;
  temperature?: number;
  topP?: number;
  stop?: string[];
  maxTokens?: number;
  extra?: Record<string, unknown>;
  enableFallback: boolean;
  directives: boolean;
  /** Scenario block appended after the persona prompt (the scenario variants). */
  scenario?: string;
  /** Run the persona's tools (the unified family and the tool-using legacy variants). */
  tools: boolean;
  clientTools?: ClientTools;
  /** A scenario's team: the lead consults specialists when the provider calls tools, else one model plays all. */
  agents?: ScenarioTeam;
  maxResponseTimeMs?: number;
}

export interface ScenarioReport {
  scenario_type: string;
  mode: 'multi_agent' | 'single_model';
  /** Multi-agent runs: the lead first, then each specialist consulted. */
  agents?: AgentUsage[];
  rounds?: number;
}

export interface PreparedTurn {
  req: TurnRequest;
  requestId: string;
  startedAt: number;
  persona: PersonaRow | null;
  model: ModelInfo;
  reasoning: string;
  warnings: string[];
  conversation: ConversationRow | null;
  userMessage: MessageRow | null;
  /** The conversation's stored history before this turn, read once under the lock. */
  history: PromptMessage[];
  release: () => void;
}

export type TurnStatus = 'complete' | 'partial' | 'failed';
export type TurnFinish =
  | 'stop'
  | 'length'
  | 'tool_calls'
  | 'client_disconnected'
  | 'provider_error'
  | 'provider_timeout';

export interface TurnResult {
  text: string;
  status: TurnStatus;
  finishReason: TurnFinish;
  /** The model that answered (or was last tried). */
  model: ModelInfo;
  usage: { input: number; output: number; estimated: boolean };
  costUsd: number;
  fallbackUsed: boolean;
  reasoning: string;
  messageId: string | null;
  llmMs: number;
  totalMs: number;
  /** Names of the tools that ran, in first-use order. */
  toolsUsed: string[];
  /** Sources of the tools that ran (the `route_type` says whether only KB tools did). */
  toolSources: ToolSourceKind[];
  toolSteps: ToolStep[];
  /** The model still called tools when the rounds ran out and was made to answer without them. */
  toolRoundsExhausted: boolean;
  /** Client-tool calls the model made (`/v1`); the client runs them. */
  toolCalls: ToolCall[];
  /** Scenario requests: who took part and what each used (`usage` is the sum over all of them). */
  scenario?: ScenarioReport;
  /** Set when the turn failed or ended early because of the provider. */
  error?: ProviderError;
  /** True when nothing reached the client before the failure (families then answer with a plain error). */
  failedBeforeContent: boolean;
}

export interface EngineDeps {
  config: Config;
  log: Logger;
  bus: Bus;
  conversations: ConversationStore;
  personas: PersonaStore;
  providers: ProviderSet;
  locks: ConversationLocks;
  sessions: SessionHistory;
  usage: UsageLedger;
  tools?: ToolRegistry;
  /** Rounds of tool calls before the model must answer. */
  maxToolRounds: number;
  /** How long a scenario specialist may take. */
  agentTimeoutMs?: number;
}

interface AttemptOutcome {
  text: string;
  finish: FinishReason | null;
  input?: number;
  output?: number;
  error?: ProviderError;
  clientGone: boolean;
  emitted: boolean;
  steps: ToolStep[];
  pending: ToolCall[];
  exhausted: boolean;
  rounds: number;
  modelMs: number;
  modelCalls: number;
  agents?: AgentRun;
  ms: number;
  promptChars: number;
}

export class ChatEngine {
  constructor(private readonly d: EngineDeps) {}

  /** Validation, conversation, persona, model, and the stored user message. Everything thrown here is an ordinary JSON error and nothing was stored. */
  async prepare(req: TurnRequest): Promise<PreparedTurn> {
    const { config, locks } = this.d;
    const startedAt = performance.now();

    // Requests to one conversation are serialized in arrival order: the place in the queue is taken now,
    // synchronously, and waited for only after the checks below (a 409 still comes before any stream).
    const target = req.history.kind === 'conversation' ? req.history.id : null;
    const queued =
      target && isUuid(target)
        ? locks.acquire(target.toLowerCase(), config.chat.conversationLockTimeoutMs)
        : null;
    const dropQueue = () => {
      queued?.then((r) => r()).catch(() => {});
    };
    try {
      return await this.prepareQueued(req, startedAt, queued);
    } catch (err) {
      dropQueue();
      throw err;
    }
  }

  private async prepareQueued(
    req: TurnRequest,
    startedAt: number,
    queued: Promise<() => void> | null,
  ): Promise<PreparedTurn> {
    const { config, conversations, personas, providers } = this.d;
    const user = req.user;

    // Step 3 starts alongside step 2 (why: on PostgreSQL the two reads then cost one round trip), but its
    // outcome is taken only after the conversation check, so a bad conversation is still the error reported.
    const personaLookup = req.usePersona ? personas.forChat(user.id, req.personaId) : null;
    personaLookup?.catch(() => {});

    // Step 2: conversation (before anything is written, so a bad id stores nothing).
    let conversation: ConversationRow | null = null;
    if (req.history.kind === 'conversation' && req.history.id !== null) {
      conversation = await conversations.findOwned(user.id, req.history.id);
      if (!conversation) throw conversationNotFound(req.history.id);
    }

    // Step 3: persona.
    const persona = personaLookup ? await personaLookup : null;

    // Step 4: model.
    let model: ModelInfo;
    let reasoning: string;
    let warnings: string[] = [];
    if (req.fixedModel) {
      model = req.fixedModel;
      reasoning = `Explicit model selection: ${model.id}`;
    } else {
      const sel = await selectModel(config.chat, providers.registry, {
        ...req.selection,
        personaPreferred: persona?.preferredModel ?? null,
      });
      model = sel.model;
      reasoning = sel.reasoning;
      warnings = sel.warnings;
    }

    const maxTokens = Math.min(req.maxTokens ?? DEFAULT_MAX_TOKENS, model.maxTokens);
    if (estimateTokens(req.message) + maxTokens > model.contextWindow)
      throw new HttpError(422, `Message too long for model ${model.id}`, {
        errors: [{ path: 'message', message: 'Too long for the model context' }],
      });

    let release = () => {};
    if (queued) release = await queued;

    try {
      // Step 5: persist first.
      let userMessage: MessageRow | null = null;
      let history: PromptMessage[] = [];
      if (req.history.kind === 'conversation') {
        const msg: NewMessage = {
          conversationId: conversation?.id ?? '',
          userId: user.id,
          role: 'user',
          content: req.message,
          status: 'complete',
          finishReason: null,
          model: null,
          provider: null,
          personaId: persona && persona.id !== 'default' ? persona.id : null,
          inputTokens: null,
          outputTokens: null,
          tokensUsed: null,
          costUsd: null,
        };
        if (!conversation) {
          // Titled from its first message but left unlocked: only an explicit title is locked.
          // A new conversation has no history to read and its first message is seq 1.
          const started = await conversations.startConversation(user.id, titleFromMessage(req.message), msg);
          conversation = started.conversation;
          userMessage = started.message;
        } else {
          // The lock was acquired after the ownership check; a delete in between rejects the request.
          // The history is read now, before this turn's message, so it needs no filtering later; the lock
          // keeps this instance's other requests out, so its highest seq numbers both messages of the turn.
          const [still, state] = await Promise.all([
            conversations.findOwned(user.id, conversation.id),
            conversations.turnState(conversation.id),
          ]);
          if (!still) throw conversationNotFound(conversation.id);
          conversation = still;
          history = state.history;
          await conversations.titleFromFirstMessage(conversation, req.message, state.userMessages);
          const id = conversation.id;
          userMessage = await conversations.group(async () => {
            const [row] = await Promise.all([
              conversations.insertMessage(msg, state.lastSeq + 1),
              conversations.touch(id),
            ]);
            return row;
          });
        }
        // Queued on the bus before the provider is called; not awaited (see publish).
        this.publish(userMessage, null);
      }
      return {
        req,
        requestId: `chat-${crypto.randomUUID()}`,
        startedAt,
        persona,
        model,
        reasoning,
        warnings,
        conversation,
        userMessage,
        history,
        release,
      };
    } catch (err) {
      release();
      throw err;
    }
  }

  /**
   * Publishes `gaia.chat.message.created`. Both bus transports queue the message synchronously inside
   * `publish` (handlers never run inline), so the caller does not wait for the returned promise (why: one
   * less hop between storing a message and the provider call or the response).
   */
  private publish(msg: MessageRow, extra: { model: string; provider: string } | null): void {
    const onError = (err: unknown) =>
      // The event is an analytics hook; a bus hiccup must not fail a stored chat turn.
      this.d.log.warn('could not publish chat message event', { error: (err as Error).message });
    try {
      this.d.bus
        .publish(MESSAGE_CREATED, {
          conversation_id: msg.conversationId,
          message_id: msg.id,
          user_id: msg.userId,
          role: msg.role,
          status: msg.status,
          model: extra?.model ?? msg.model,
          provider: extra?.provider ?? msg.provider,
          tokens_used: msg.tokensUsed,
          timestamp: msg.createdAt.toISOString(),
        })
        .catch(onError);
    } catch (err) {
      onError(err);
    }
  }

  /** Steps 6–8. `signal` is the client connection for streams; non-streaming calls run to completion. */
  async run(turn: PreparedTurn, opts: RunHooks = {}): Promise<TurnResult> {
    try {
      return await this.execute(turn, opts);
    } finally {
      turn.release();
    }
  }

  private buildPrompt(
    turn: PreparedTurn,
    tools: ToolDef[],
    multiAgent = false,
  ): { system: string; messages: PromptMessage[] } {
    const { req, persona, model } = turn;
    const maxTokens = Math.min(req.maxTokens ?? DEFAULT_MAX_TOKENS, model.maxTokens);
    const h = req.history;
    const callerSystem = h.kind === 'none' ? h.system : undefined;
    const system = buildSystemPrompt({
      persona: persona ? persona.systemPrompt : null,
      tools,
      directives: req.directives,
      scenario: req.agents ? (multiAgent ? req.agents.leadBrief : req.agents.singleBrief) : req.scenario,
      callerSystem,
    });
    const current: PromptMessage = { role: 'user', content: req.message };
    let past: PromptMessage[] = [];
    if (h.kind === 'conversation' && turn.conversation) {
      // Read in prepare(), before this turn's message was stored.
      past = turn.history;
    } else if (h.kind === 'session') {
      const all = this.d.sessions.get(req.user.id);
      // The current message was pushed before the call; it is the prompt's last turn, not history.
      past = all.slice(0, -1);
      if (h.limit) past = past.slice(-h.limit);
    } else if (h.kind === 'none' && h.messages) {
      // Stateless: the caller's conversation is the prompt, exactly as sent.
      return { system, messages: mergeSameRole(h.messages) };
    }
    const budget = model.contextWindow - maxTokens - estimateTokens(system) - estimateTokens(req.message);
    return { system, messages: [...fitHistory(past, Math.max(0, budget)), current] };
  }

  private async execute(turn: PreparedTurn, opts: RunHooks): Promise<TurnResult> {
    const { config, providers } = this.d;
    const { req } = turn;
    const chat = config.chat;
    const totalMs = Math.min(chat.totalTimeoutMs, req.maxResponseTimeMs ?? Number.POSITIVE_INFINITY);
    const deadline = performance.now() + totalMs;

    if (req.history.kind === 'session')
      this.d.sessions.push(req.user.id, { role: 'user', content: req.message });

    // Tools are listed (the KB answers a health check every 30 s, MCP servers connect lazily) only when a
    // provider that can use them is tried (why: nothing is awaited before a tool-less provider's first token).
    let offered: OfferedTool[] | null = null;
    const toolsFor = async (supportsTools: boolean): Promise<OfferedTool[]> => {
      if (!supportsTools) return [];
      if (req.clientTools)
        return req.clientTools.tools.map((t) => ({ ...t, source: 'mcp', selector: t.name }) as OfferedTool);
      if (req.agents)
        return specialistTools(req.agents).map((t) => ({
          ...t,
          source: 'agent',
          selector: `agent:${t.name.slice(4)}`,
        }));
      if (!req.tools || !this.d.tools) return [];
      offered ??= await this.d.tools.forPersona(req.user, personaTools(turn.persona)).catch(() => []);
      return offered;
    };
    let model = turn.model;
    const candidates = [model];
    // Fallback targets are worked out when the first attempt fails (why: not on the first-token path).
    let fallbacksAdded = !req.enableFallback;
    let reasoning = turn.reasoning;
    let fallbackUsed = false;
    let outcome: AttemptOutcome | null = null;
    const llmStart = performance.now();

    for (let i = 0; i < candidates.length; i++) {
      model = candidates[i]!;
      const provider = providers.get(model.provider);
      const tools = await toolsFor(provider.supportsTools);
      // Client tools are the client's business; only the engine's own tools are described in the prompt.
      const prompt = req.agents
        ? this.buildPrompt({ ...turn, model }, [], tools.length > 0)
        : this.buildPrompt({ ...turn, model }, req.clientTools ? [] : tools);
      const attempt = await this.attempt(turn, model, prompt, tools, deadline, opts);
      outcome = attempt;
      const ok = !attempt.error;
      providers.record(model.provider, ok || attempt.emitted, Math.round(attempt.ms), attempt.error);
      if (attempt.error || attempt.clientGone) {
        const retryable = !attempt.clientGone && !attempt.emitted && attempt.error?.retryable;
        if (retryable && !fallbacksAdded) {
          fallbacksAdded = true;
          candidates.push(...(await fallbackTargets(chat, providers.registry, turn.model)));
        }
        // Failed attempts that will be retried are ledger rows of their own; the final one is written below.
        const willRetry = retryable && i + 1 < candidates.length;
        if (willRetry) {
          await this.d.usage.record({
            user: req.user,
            endpoint: req.endpoint,
            conversationId: turn.conversation?.id ?? null,
            messageId: null,
            model,
            input: attempt.input ?? Math.ceil(attempt.promptChars / 4),
            output: attempt.output ?? 0,
            estimated: attempt.input === undefined,
            status: 'error',
            latencyMs: attempt.ms,
            requestId: turn.requestId,
          });
          const next = candidates[i + 1]!;
          reasoning = `Fallback from ${turn.model.id} (${attempt.error!.label}): ${next.id}`;
          fallbackUsed = true;
          continue;
        }
      }
      break;
    }
    if (outcome!.clientGone && opts.sentChars) outcome!.text = outcome!.text.slice(0, opts.sentChars());
    const listed = offered as OfferedTool[] | null;
    const sources = new Map((listed ?? []).map((t) => [t.name, t.source] as const));
    return this.finish(turn, outcome!, model, reasoning, fallbackUsed, performance.now() - llmStart, sources);
  }

  /** One provider attempt (all its tool rounds), with first-token, idle and total timeouts. */
  private async attempt(
    turn: PreparedTurn,
    model: ModelInfo,
    prompt: { system: string; messages: PromptMessage[] },
    tools: OfferedTool[],
    deadline: number,
    opts: RunHooks,
  ): Promise<AttemptOutcome> {
    const { config, providers } = this.d;
    const chat = config.chat;
    const { req } = turn;
    const started = performance.now();
    const ctl = new AbortController();
    let timedOut = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let armedMs = -1;
    const arm = (ms: number) => {
      const left = Math.max(0, Math.min(ms, deadline - performance.now()));
      // Between chunks the same wait is armed again and again (the idle timeout, the deadline further off):
      // the armed timer is pushed back instead of a new one made per chunk.
      if (timer && left === ms && armedMs === ms) {
        timer.refresh();
        return;
      }
      clearTimeout(timer);
      armedMs = left === ms ? ms : -1;
      timer = setTimeout(() => {
        timedOut = true;
        ctl.abort(new Error('provider timeout'));
      }, left);
    };
    const onClient = () => ctl.abort(new Error('client disconnected'));
    if (opts.signal) {
      if (opts.signal.aborted) onClient();
      else opts.signal.addEventListener('abort', onClient, { once: true });
    }

    const out: AttemptOutcome = {
      text: '',
      finish: null,
      clientGone: false,
      emitted: false,
      steps: [],
      pending: [],
      exhausted: false,
      rounds: 0,
      modelMs: 0,
      modelCalls: 0,
      ms: 0,
      promptChars: prompt.system.length + prompt.messages.reduce((n, m) => n + m.content.length, 0),
    };
    const registry = this.d.tools;
    const maxTokens = Math.min(req.maxTokens ?? DEFAULT_MAX_TOKENS, model.maxTokens);
    const agents =
      req.agents && tools.length
        ? new AgentRun({
            team: req.agents,
            provider: providers.get(model.provider),
            model,
            maxTokens,
            temperature: req.temperature,
            user: req.user,
            requestId: turn.requestId,
            endpoint: req.endpoint,
            conversationId: turn.conversation?.id ?? null,
            usage: this.d.usage,
            log: this.d.log,
            registry,
            timeoutMs: this.d.agentTimeoutMs,
            kbTools: once(async () =>
              registry
                ? (await registry.forPersona(req.user, personaTools(turn.persona))).filter(
                    (t) => t.source === 'kb',
                  )
                : [],
            ),
          })
        : undefined;
    out.agents = agents;
    const runs = !req.clientTools && (agents !== undefined || (registry !== undefined && tools.length > 0));
    const state = newLoopState();
    let sawContent = false;
    // Per model call: when it started and when its first token came, for the latency metrics.
    const labels = { provider: model.provider, model: model.id };
    let callStarted = 0;
    let firstTokenAt: number | null = null;
    let lastTokenAt = 0;
    let streamingMs = 0;
    const closeCall = () => {
      if (firstTokenAt !== null) streamingMs += lastTokenAt - firstTokenAt;
    };
    try {
      await runToolLoop(
        {
          provider: providers.get(model.provider),
          request: {
            model: model.id,
            system: prompt.system,
            maxTokens,
            temperature: req.temperature,
            topP: req.topP,
            stop: req.stop,
            personaName: turn.persona?.name ?? 'Mu',
            extra: req.extra,
          },
          messages: prompt.messages,
          tools,
          toolChoice: req.clientTools?.choice,
          parallel: req.clientTools?.parallel,
          execute: runs
            ? (call, signal) =>
                agents?.owns(call.name)
                  ? agents.ask(call, signal)
                  : registry!.run(call.name, call.arguments, {
                      user: req.user,
                      signal,
                      requestId: turn.requestId,
                    })
            : undefined,
          // A lead consults its team for at most three rounds, then answers.
          maxRounds: agents ? SCENARIO_ROUNDS : this.d.maxToolRounds,
          signal: ctl.signal,
          hooks: {
            // Only text a client has seen rules out fallback; a non-streaming answer can still switch.
            onText: async (text) => {
              if (!opts.onDelta) return;
              out.emitted = true;
              await opts.onDelta(text);
            },
            onToolDelta: async (delta) => {
              if (!opts.onToolDelta) return;
              out.emitted = true;
              await opts.onToolDelta(delta);
            },
            onToolEvent: opts.onToolEvent,
            beforeModelCall: () => {
              closeCall();
              sawContent = false;
              callStarted = performance.now();
              firstTokenAt = null;
              arm(chat.firstTokenTimeoutMs);
            },
            onProviderEvent: (type) => {
              // A usage report before the first token (Anthropic's message_start) is not a token.
              if (type === 'usage' && !sawContent) return;
              sawContent = true;
              arm(chat.idleTimeoutMs);
              if (type === 'text' || type === 'tool_call_delta') {
                lastTokenAt = performance.now();
                if (firstTokenAt === null) {
                  firstTokenAt = lastTokenAt;
                  llmTimeToFirstToken.observe(labels, (firstTokenAt - callStarted) / 1000);
                }
              }
            },
            // Tools have their own timeouts; only the total deadline applies while they work.
            beforeTools: () => arm(Number.POSITIVE_INFINITY),
          },
        },
        state,
      );
    } catch (err) {
      if (opts.signal?.aborted) out.clientGone = true;
      else out.error = toProviderError(err, { timedOut });
      if (out.error?.kind === 'aborted') out.error = new ProviderError('connection', 'provider unreachable');
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onClient);
      out.ms = performance.now() - started;
      closeCall();
      if (state.output && streamingMs > 0)
        llmTokensPerSecond.observe(labels, state.output / (streamingMs / 1000));
      out.text = state.text;
      out.finish = state.finish;
      out.input = state.input;
      out.output = state.output;
      out.steps = state.steps;
      out.pending = state.pending;
      out.exhausted = state.exhausted;
      out.rounds = state.rounds;
      out.modelMs = state.modelMs;
      out.modelCalls = state.modelCalls;
    }
    return out;
  }

  private async finish(
    turn: PreparedTurn,
    o: AttemptOutcome,
    model: ModelInfo,
    reasoning: string,
    fallbackUsed: boolean,
    llmMs: number,
    sources: Map<string, ToolSourceKind>,
  ): Promise<TurnResult> {
    const { conversations } = this.d;
    const { req } = turn;
    let status: TurnStatus;
    let finishReason: TurnFinish;
    if (o.clientGone) {
      status = o.text ? 'partial' : 'failed';
      finishReason = 'client_disconnected';
    } else if (o.error) {
      status = o.emitted ? 'partial' : 'failed';
      finishReason = o.error.type;
    } else {
      status = 'complete';
      finishReason = o.pending.length ? 'tool_calls' : o.finish === 'length' ? 'length' : 'stop';
    }

    // Provider counts when reported (streams included); otherwise ⌈characters / 4⌉, flagged.
    const estimated = o.input === undefined || o.output === undefined;
    const leadInput = o.input ?? Math.ceil(o.promptChars / 4);
    const leadOutput = o.output ?? estimateTokens(o.text);
    // A scenario's answer cost the lead's calls and every specialist's; the ledger has a row for each.
    const team = o.agents?.totals() ?? { input: 0, output: 0 };
    const input = leadInput + team.input;
    const output = leadOutput + team.output;
    const cost = costUsd(model, input, output);

    const usage: UsageEntry = {
      user: req.user,
      endpoint: req.endpoint,
      conversationId: turn.conversation?.id ?? null,
      messageId: null,
      model,
      input: leadInput,
      output: leadOutput,
      estimated,
      status: o.clientGone ? 'aborted' : o.error ? 'error' : 'ok',
      latencyMs: o.ms,
      requestId: turn.requestId,
    };
    let messageId: string | null = null;
    // A failure before any text stores no assistant message; an empty complete answer is stored (#19).
    if (turn.conversation && status !== 'failed') {
      const conversationId = turn.conversation.id;
      // Message, preview and usage row are one commit on SQLite (see Statements.group), written before the
      // response or the terminal events. The lock still holds, so the seq follows the user message's.
      const msg = await conversations.group(async () => {
        const row = await conversations.insertMessage(
          {
            conversationId,
            userId: req.user.id,
            role: 'assistant',
            content: o.text,
            status: status === 'complete' ? 'complete' : 'partial',
            finishReason,
            model: model.id,
            provider: model.provider,
            personaId: turn.persona && turn.persona.id !== 'default' ? turn.persona.id : null,
            inputTokens: input,
            outputTokens: output,
            tokensUsed: input + output,
            costUsd: cost,
            // A client that left mid-round keeps only the text it saw.
            toolCalls: o.steps.length && !o.clientGone ? o.steps.map(storedStep) : null,
          },
          (turn.userMessage?.seq ?? 0) + 1,
        );
        usage.messageId = row.id;
        await Promise.all([conversations.touch(conversationId, o.text), this.d.usage.record(usage)]);
        return row;
      });
      messageId = msg.id;
      this.publish(msg, null);
    } else await this.d.usage.record(usage);
    if (req.history.kind === 'session' && status === 'complete')
      this.d.sessions.push(req.user.id, { role: 'assistant', content: o.text });

    return {
      text: o.text,
      status,
      finishReason,
      model,
      usage: { input, output, estimated },
      costUsd: cost,
      fallbackUsed,
      reasoning,
      messageId,
      llmMs: Math.round(llmMs),
      totalMs: Math.round(performance.now() - turn.startedAt),
      toolsUsed: [...new Set(o.steps.map((st) => st.call.name))],
      toolSources: [...new Set(o.steps.map((st) => sources.get(st.call.name) ?? 'mcp'))],
      toolSteps: o.steps,
      toolRoundsExhausted: o.exhausted,
      toolCalls: o.pending,
      scenario: req.agents ? scenarioReport(req.agents, o, model, leadInput, leadOutput) : undefined,
      error: o.error,
      failedBeforeContent: !o.emitted && (!!o.error || o.clientGone),
    };
  }
}

/** A persona's `tools` list; null (no list) means the KB tools only. */
function personaTools(persona: PersonaRow | null): string[] | null {
  return persona?.tools ?? null;
}

/** A tool call as stored with the assistant message and shown in its conversation's history. */
function storedStep(st: ToolStep) {
  return {
    id: st.call.id,
    name: st.call.name,
    arguments: parseArgs(st.call.arguments),
    ok: st.outcome.ok,
    summary: st.outcome.summary,
    duration_ms: st.durationMs,
    result: st.outcome.content,
  };
}

/** Runs `fn` once, on first use, and hands every caller the same promise. */
function once<T>(fn: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= fn();
    return p;
  };
}

function scenarioReport(
  team: ScenarioTeam,
  o: AttemptOutcome,
  model: ModelInfo,
  leadInput: number,
  leadOutput: number,
): ScenarioReport {
  // One model played every part: the old block, unchanged, so clients can tell.
  if (!o.agents) return { scenario_type: team.type, mode: 'single_model' };
  const lead: AgentUsage = {
    name: 'lead',
    calls: o.modelCalls,
    model: model.id,
    input_tokens: leadInput,
    output_tokens: leadOutput,
    duration_ms: Math.round(o.modelMs),
  };
  const specialists = team.specialists
    .map((s) => o.agents?.agents.get(s.name))
    .filter((a): a is AgentUsage => a !== undefined);
  return {
    scenario_type: team.type,
    mode: 'multi_agent',
    agents: [lead, ...specialists],
    rounds: o.rounds,
  };
}
