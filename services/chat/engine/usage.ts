/**
 * The `llm_usage` ledger: one row per provider attempt, stateless `/v1` calls, failures
 * and aborted streams included. A ledger write failure is logged, never surfaced: the chat itself succeeded.
 */
import { and, eq, isNotNull, sql } from 'drizzle-orm';
import type { Db } from '../../../db/index.ts';
import type { User } from '../../../src/http/service.ts';
import type { Logger } from '../../../src/log.ts';
import { llmCost, llmTokens } from '../../../src/metrics.ts';
import { costUsd, type ModelInfo } from '../models/registry.ts';
import { Statements } from './statements.ts';

export interface UsageEntry {
  user: User;
  endpoint: string;
  conversationId: string | null;
  messageId: string | null;
  model: ModelInfo;
  input: number;
  output: number;
  estimated: boolean;
  status: 'ok' | 'error' | 'aborted';
  latencyMs: number;
  /** The chat request the call served (a scenario's lead and specialists share one). */
  requestId?: string;
}

export class UsageLedger {
  private readonly stmts: Statements;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {
    this.stmts = new Statements(db);
  }

  async record(e: UsageEntry): Promise<void> {
    const u = this.db.t.llmUsage;
    const ph = (name: string) => sql.placeholder(name);
    // One row per chat request, stateless ones included: prepared (see Statements).
    const insert = this.stmts.get('insert_usage', (o) =>
      o.insert(u).values({
        id: ph('id'),
        userId: ph('userId'),
        conversationId: ph('conversationId'),
        messageId: ph('messageId'),
        endpoint: ph('endpoint'),
        provider: ph('provider'),
        model: ph('model'),
        inputTokens: ph('inputTokens'),
        outputTokens: ph('outputTokens'),
        costUsd: ph('costUsd'),
        estimated: ph('estimated'),
        status: ph('status'),
        latencyMs: ph('latencyMs'),
        requestId: ph('requestId'),
        createdAt: ph('createdAt'),
      }),
    );
    const cost = costUsd(e.model, e.input, e.output);
    const labels = { provider: e.model.provider, model: e.model.id };
    llmTokens.inc({ ...labels, direction: 'input' }, e.input);
    llmTokens.inc({ ...labels, direction: 'output' }, e.output);
    llmCost.inc(labels, cost);
    try {
      await insert.execute({
        id: crypto.randomUUID(),
        userId: e.user.id,
        conversationId: e.conversationId,
        messageId: e.messageId,
        endpoint: e.endpoint,
        provider: e.model.provider,
        model: e.model.id,
        inputTokens: e.input,
        outputTokens: e.output,
        costUsd: cost,
        estimated: e.estimated,
        status: e.status,
        latencyMs: Math.round(e.latencyMs),
        requestId: e.requestId ?? null,
        createdAt: new Date(),
      });
    } catch (err) {
      this.log.warn('could not record llm usage', { error: (err as Error).message });
    }
  }

  /** Mean latency of successful calls to a model, or null without data (`avg_response_time_ms`). */
  async averageLatency(modelId: string): Promise<number | null> {
    const u = this.db.t.llmUsage;
    const rows = await this.db.orm
      .select({ avg: sql<number | string | null>`avg(${u.latencyMs})` })
      .from(u)
      .where(and(eq(u.model, modelId), eq(u.status, 'ok'), isNotNull(u.latencyMs)));
    const v = rows[0]?.avg;
    return v === null || v === undefined ? null : Math.round(Number(v));
  }
}
