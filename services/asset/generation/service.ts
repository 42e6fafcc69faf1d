/**
 * One generation from request to stored asset: reuse first, then provider choice, price, budget reservation
 * and a job row, then the provider call in the background (bounded by MAX_CONCURRENT_GENERATIONS), the file
 * fetched and stored with its preview, the reservation settled to the actual cost, and the events. The
 * request waits for the job up to its effective wait; past that it gets 202 and the job carries on, even if
 * the client leaves.
 */

import { and, desc, eq, inArray, isNull, lt, or } from 'drizzle-orm';
import type { Db } from '../../../db/index.ts';
import type { Bus } from '../../../src/bus/types.ts';
import { HttpError } from '../../../src/http/errors.ts';
import type { Logger } from '../../../src/log.ts';
import { assetCost, assetGenerations } from '../../../src/metrics.ts';
import type { AssetConfig } from '../config.ts';
import type { Pricing } from '../pricing/service.ts';
import { toHttpError } from '../providers/errors.ts';
import { enhancePrompt } from '../requests/prompt.ts';
import { DEFAULT_PROVIDER_ORDER, parseAssetRequest } from '../requests/validate.ts';
import {
  type AssetRequest,
  type AssetStorage,
  type Category,
  type Estimate,
  type Micro,
  micro,
  type ProviderAdapter,
  ProviderError,
  type ProviderFile,
  type ProviderId,
  type ProviderJob,
  type ProviderResult,
  usd,
} from '../types.ts';
import { reserve } from './budget.ts';
import { type FetchFile, type Previewer, storeResult } from './store.ts';

export interface Caller {
  id: string;
  admin: boolean;
}

export type GenerateOutcome =
  | { kind: 'asset'; body: Record<string, unknown> }
  | { kind: 'job'; body: Record<string, unknown>; location: string };

export interface GeneratorDeps {
  config: AssetConfig;
  publicUrl: string;
  db: Db;
  bus: Bus;
  log: Logger;
  pricing: Pricing;
  storage: AssetStorage;
  providers: Map<ProviderId, ProviderAdapter>;
  fetchFile: FetchFile;
  previews: Previewer;
  /** Builds the AssetResponse of a stored asset row with fresh signed links. */
  respond: (assetId: string, extra?: Record<string, unknown>) => Promise<Record<string, unknown> | null>;
  instanceId: string;
}

/**
 * A job belongs to the instance running it for as long as that instance keeps renewing its lease. An
 * instance that dies (SIGKILL, a lost machine) stops renewing; any instance's sweep then takes the job over.
 */
const LEASE_MS = 15_000;
const HEARTBEAT_MS = 5_000;
const SWEEP_MS = 10_000;

/** Thrown through a job when the service shuts down: the job is handed back, not failed. */
class ShuttingDown extends Error {}

const ERROR_TYPES = {
  rejected: 'provider_rejected',
  timeout: 'provider_timeout',
  rate_limited: 'provider_rate_limited',
  error: 'provider_error',
  download_refused: 'download_refused',
} as const;

interface Running {
  jobId: string;
  estimatedCost: Micro;
  createdAt: Date;
  done: Promise<{ assetId: string } | { error: HttpError }>;
}

/** Counts provider calls in flight; the rest wait in FIFO order as queued jobs. */
class Slots {
  private used = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(private readonly max: number) {}
  async take(): Promise<void> {
    if (this.used < this.max) {
      this.used++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.used--;
  }
}

export class Generator {
  private readonly slots: Slots;
  /** Identical requests being generated, per user: later ones join instead of calling the provider again. */
  private readonly inFlight = new Map<string, Running>();
  private readonly background = new Set<Promise<unknown>>();
  private closing = false;
  /** Jobs this instance is running, with the means to stop them at shutdown. */
  private readonly mine = new Map<string, AbortController>();
  private heartbeat: ReturnType<typeof setInterval> | null = null;
  private sweeper: ReturnType<typeof setInterval> | null = null;

  constructor(private readonly d: GeneratorDeps) {
    this.slots = new Slots(d.config.maxConcurrentGenerations);
  }

  // ── providers ──────────────────────────────────────────────────────────────────────────────────────

  configured = (p: ProviderId): boolean => this.d.providers.get(p)?.configured() ?? false;
  supports = (p: ProviderId, c: Category): boolean => this.d.providers.get(p)?.supports(c) ?? false;
  formats = (p: ProviderId, c: Category): string[] => this.d.providers.get(p)?.formats(c) ?? [];

  /** Providers to try, in order: the named one, else the configured real ones (local only as a last resort). */
  candidates(req: AssetRequest): ProviderId[] {
    if (req.preferences.provider) return [req.preferences.provider];
    const order =
      (this.d.config.providerOrder[req.category] as ProviderId[] | undefined) ??
      DEFAULT_PROVIDER_ORDER[req.category];
    const real = order.filter((p) => p !== 'local' && this.configured(p) && this.supports(p, req.category));
    if (real.length > 0) return real;
    if (this.configured('local') && this.supports('local', req.category)) return ['local'];
    return [];
  }

  parse(body: unknown): AssetRequest {
    return parseAssetRequest(body, this.d.config, {
      configured: this.configured,
      supports: this.supports,
      formats: this.formats,
    });
  }

  /** The price `generate` would charge, for the cost estimator. */
  quote(req: AssetRequest): Estimate {
    const first = this.candidates(req)[0];
    if (!first) throw new HttpError(422, `No provider configured for category '${req.category}'`);
    return this.d.pricing.estimate(first, req);
  }

  // ── generate ───────────────────────────────────────────────────────────────────────────────────────

  async generate(caller: Caller, body: unknown): Promise<GenerateOutcome> {
    const started = Date.now();
    const req = this.parse(body);
    const { db } = this.d;

    if (req.preferences.allowDatabase) {
      const reused = await this.findReusable(caller, req);
      if (reused) return { kind: 'asset', body: await this.reuseAnswer(caller, reused, started) };
      const joining = this.inFlight.get(`${caller.id}:${req.requestHash}`);
      if (joining) {
        // The joiner keeps its own wait: past it, it gets the running job as a 202 rather than hanging on.
        const r = await Promise.race([joining.done, Bun.sleep(req.preferences.maxWaitMs).then(() => null)]);
        if (r === null) return this.accepted(joining.jobId, joining.estimatedCost, joining.createdAt);
        if ('assetId' in r)
          return { kind: 'asset', body: await this.reuseAnswer(caller, r.assetId, started) };
      }
    }
    if (!req.preferences.allowGeneration)
      throw new HttpError(404, 'No stored asset matches this request and generation is not allowed');

    const candidates = this.candidates(req);
    if (candidates.length === 0)
      throw new HttpError(422, `No provider configured for category '${req.category}'`);
    const provider = candidates[0]!;
    const estimate = this.d.pricing.estimate(provider, req);
    if (estimate.cost > req.preferences.maxCost)
      throw new HttpError(
        402,
        `Estimated cost $${usd(estimate.cost).toFixed(4)} exceeds max_cost $${usd(req.preferences.maxCost).toFixed(4)}`,
      );

    const jobId = crypto.randomUUID();
    const now = new Date();
    const t = db.t.assetJobs;
    await reserve(db, caller.id, estimate.cost, micro(this.d.config.dailyBudgetUsd), async (tx) => {
      await tx.insert(t).values({
        id: jobId,
        userId: caller.id,
        sessionId: req.sessionId,
        category: req.category,
        provider,
        status: 'queued',
        progress: 0,
        request: req as unknown as Record<string, unknown>,
        requestHash: req.requestHash,
        estimatedCostMicroUsd: estimate.cost,
        reservedMicroUsd: estimate.cost,
        costMicroUsd: 0,
        lockedBy: this.d.instanceId,
        lockedUntil: new Date(now.getTime() + LEASE_MS),
        createdAt: now,
        updatedAt: now,
      });
    });

    const key = `${caller.id}:${req.requestHash}`;
    const done = this.run(jobId, caller, req, candidates, estimate);
    const running: Running = { jobId, estimatedCost: estimate.cost, createdAt: now, done };
    this.inFlight.set(key, running);
    this.track(done.finally(() => this.inFlight.get(key) === running && this.inFlight.delete(key)));

    const waited = await Promise.race([done, Bun.sleep(req.preferences.maxWaitMs).then(() => null)]);
    if (waited && 'assetId' in waited) {
      const answer = await this.d.respond(waited.assetId, { response_time_ms: Date.now() - started });
      if (answer) return { kind: 'asset', body: answer };
    }
    if (waited && 'error' in waited) throw waited.error;
    return this.accepted(jobId, estimate.cost, now);
  }

  /** The 202 answer of a job that outlived the caller's wait. */
  private accepted(jobId: string, estimatedCost: Micro, createdAt: Date): GenerateOutcome {
    const location = `/api/v1/assets/jobs/${jobId}`;
    return {
      kind: 'job',
      location,
      body: {
        job_id: jobId,
        status: 'processing',
        asset_id: null,
        estimated_cost: usd(estimatedCost),
        status_url: `${this.d.publicUrl}${location}`,
        created_at: createdAt.toISOString(),
        message: 'Generation continues in the background',
      },
    };
  }

  async hasReusable(caller: Caller, req: AssetRequest): Promise<boolean> {
    return (await this.findReusable(caller, req)) !== null;
  }

  private async findReusable(caller: Caller, req: AssetRequest): Promise<string | null> {
    const { db } = this.d;
    const a = db.t.assets;
    const scope =
      this.d.config.dedupScope === 'global'
        ? eq(a.requestHash, req.requestHash)
        : and(eq(a.requestHash, req.requestHash), eq(a.userId, caller.id));
    const rows = await db.orm
      .select({ id: a.id, key: a.storageKey })
      .from(a)
      .where(scope)
      .orderBy(desc(a.createdAt))
      .limit(5);
    for (const r of rows) if (await this.d.storage.exists(r.key)) return r.id;
    return null;
  }

  private async reuseAnswer(
    caller: Caller,
    assetId: string,
    started: number,
  ): Promise<Record<string, unknown>> {
    const { db } = this.d;
    const a = db.t.assets;
    const [row] = await db.orm.select({ cost: a.costMicroUsd }).from(a).where(eq(a.id, assetId)).limit(1);
    await db.orm.insert(db.t.assetUsage).values({
      id: crypto.randomUUID(),
      assetId,
      userId: caller.id,
      usageType: 'reuse',
      costMicroUsd: 0,
      createdAt: new Date(),
    });
    const answer = await this.d.respond(assetId, { response_time_ms: Date.now() - started });
    if (!answer) throw new HttpError(500, 'Stored asset could not be read');
    const meta = (answer.metadata ?? {}) as Record<string, unknown>;
    return {
      ...answer,
      source: 'database',
      cost: 0,
      cost_breakdown: {
        search_cost: 0,
        modification_cost: 0,
        generation_cost: 0,
        storage_cost: 0,
        total_cost: 0,
      },
      metadata: { ...meta, reused: true, original_cost: usd(row?.cost ?? 0) },
    };
  }

  // ── the job ────────────────────────────────────────────────────────────────────────────────────────

  private async run(
    jobId: string,
    caller: Caller,
    req: AssetRequest,
    candidates: ProviderId[],
    first: Estimate,
    resumeTask?: { taskId: string; state?: Record<string, unknown> },
  ): Promise<{ assetId: string } | { error: HttpError }> {
    let estimate = first;
    let lastError: ProviderError | null = null;
    for (let i = 0; i < candidates.length; i++) {
      const provider = candidates[i]!;
      if (i > 0) {
        // A fallback is priced again and must fit both the request's max_cost and the day's budget.
        const next = this.d.pricing.estimate(provider, req);
        if (next.cost > req.preferences.maxCost) break;
        const fits = await this.adjustReservation(jobId, caller.id, estimate.cost, next.cost).catch(
          () => false,
        );
        if (!fits) break;
        estimate = next;
        await this.updateJob(jobId, { provider });
      }
      try {
        const assetId = await this.attempt(
          jobId,
          caller,
          req,
          provider,
          estimate,
          i === 0 ? resumeTask : undefined,
          // A fallback continues the same generation, so its start was already announced.
          i === 0 && !resumeTask,
        );
        return { assetId };
      } catch (err) {
        if (this.closing) {
          // Handed back for another instance (or the next start) to resume; nothing failed.
          await this.updateJob(jobId, { lockedBy: null, lockedUntil: null }).catch(() => {});
          return {
            error: new HttpError(503, 'Asset service is shutting down; the job continues after restart'),
          };
        }
        if (err instanceof ProviderError) {
          lastError = err;
          const retryable = err.kind === 'timeout' || err.kind === 'rate_limited' || err.kind === 'error';
          if (retryable && !req.preferences.provider && i + 1 < candidates.length) continue;
          return { error: await this.fail(jobId, caller, req, provider, err) };
        }
        const http = err instanceof HttpError ? err : new HttpError(500, 'Asset generation failed');
        if (!(err instanceof HttpError))
          this.d.log.error('asset generation failed', { job_id: jobId, error: String(err) });
        return { error: await this.fail(jobId, caller, req, provider, http) };
      }
    }
    const err = lastError ?? new ProviderError(candidates[0]!, 'error', 'no provider could take the request');
    return { error: await this.fail(jobId, caller, req, err.provider, err) };
  }

  private async attempt(
    jobId: string,
    caller: Caller,
    req: AssetRequest,
    provider: ProviderId,
    estimate: Estimate,
    resumeTask?: { taskId: string; state?: Record<string, unknown> },
    announce = !resumeTask,
  ): Promise<string> {
    const adapter = this.d.providers.get(provider)!;
    await this.slots.take();
    try {
      if (this.closing) throw new ShuttingDown('shutting down');
      const startedAt = Date.now();
      await this.updateJob(jobId, { status: 'processing' });
      if (announce)
        this.publish('gaia.asset.generation.started', {
          generation_id: jobId,
          user_id: caller.id,
          category: req.category,
          style: req.style,
          provider,
          session_id: req.sessionId,
          estimated_cost: usd(estimate.cost),
          timestamp: new Date().toISOString(),
        });
      const { prompt, warnings } = enhancePrompt(req, adapter.maxPromptChars);
      const job: ProviderJob = { request: req, prompt, warnings };
      const abort = new AbortController();
      this.mine.set(jobId, abort);
      const ctx = {
        signal: abort.signal,
        onProgress: (p: number) => {
          void this.updateJob(jobId, { progress: Math.max(0, Math.min(100, Math.round(p))) }).catch(() => {});
        },
        onTask: async (taskId: string, state?: Record<string, unknown>) => {
          await this.updateJob(jobId, {
            providerTaskId: taskId,
            request: { ...(req as unknown as Record<string, unknown>), task_state: state ?? null },
          });
        },
      };
      const result: ProviderResult =
        resumeTask && adapter.resume
          ? await adapter.resume(resumeTask.taskId, job, ctx, resumeTask.state)
          : await adapter.generate(job, ctx);
      const cost = this.d.pricing.actual(provider, req, result, estimate);
      const assetId = crypto.randomUUID();
      await storeResult(
        {
          db: this.d.db,
          storage: this.d.storage,
          fetchFile: this.d.fetchFile,
          previews: this.d.previews,
          maxBytes:
            Math.min(this.d.config.maxFileMb, req.requirements.fileSizeMaxMb ?? Number.POSITIVE_INFINITY) *
            1024 *
            1024,
          cost,
        },
        {
          assetId,
          jobId,
          userId: caller.id,
          req,
          provider,
          prompt,
          warnings,
          result,
          generationTimeMs: Date.now() - startedAt,
        },
      );
      const now = new Date();
      await this.updateJob(jobId, {
        status: 'completed',
        progress: 100,
        assetId,
        costMicroUsd: cost,
        reservedMicroUsd: 0,
        completedAt: now,
        lockedBy: null,
      });
      this.publish('gaia.asset.generation.completed', {
        generation_id: jobId,
        asset_id: assetId,
        user_id: caller.id,
        category: req.category,
        provider,
        cost: usd(cost),
        generation_time_ms: Date.now() - startedAt,
        session_id: req.sessionId,
        timestamp: now.toISOString(),
      });
      return assetId;
    } finally {
      this.mine.delete(jobId);
      this.slots.release();
    }
  }

  /** Marks the job failed, settles what the provider billed and releases the rest. */
  private async fail(
    jobId: string,
    caller: Caller,
    req: AssetRequest,
    provider: ProviderId,
    err: ProviderError | HttpError,
  ): Promise<HttpError> {
    const http = err instanceof ProviderError ? toHttpError(err) : err;
    const type =
      err instanceof ProviderError
        ? ERROR_TYPES[err.kind]
        : err.status === 502
          ? 'download_refused'
          : 'storage_error';
    const billed = err instanceof ProviderError ? (err.opts.billed ?? 0) : 0;
    const now = new Date();
    await this.updateJob(jobId, {
      status: 'failed',
      error: { message: http.detail, type },
      costMicroUsd: billed,
      reservedMicroUsd: 0,
      completedAt: now,
      lockedBy: null,
    }).catch((e) => this.d.log.error('asset job update failed', { job_id: jobId, error: String(e) }));
    this.publish('gaia.asset.generation.failed', {
      generation_id: jobId,
      user_id: caller.id,
      category: req.category,
      provider,
      error: http.detail,
      error_type: type,
      cost: usd(billed),
      session_id: req.sessionId,
      timestamp: now.toISOString(),
    });
    return http;
  }

  private async adjustReservation(jobId: string, userId: string, from: Micro, to: Micro): Promise<boolean> {
    const delta = to - from;
    const t = this.d.db.t.assetJobs;
    try {
      await reserve(
        this.d.db,
        userId,
        Math.max(0, delta),
        micro(this.d.config.dailyBudgetUsd),
        async (tx) => {
          await tx
            .update(t)
            .set({ reservedMicroUsd: to, estimatedCostMicroUsd: to, updatedAt: new Date() })
            .where(eq(t.id, jobId));
        },
      );
      return true;
    } catch {
      return false;
    }
  }

  private async updateJob(jobId: string, set: Record<string, unknown>): Promise<void> {
    const t = this.d.db.t.assetJobs;
    await this.d.db.orm
      .update(t)
      .set({ ...set, updatedAt: new Date() } as never)
      .where(eq(t.id, jobId));
  }

  private publish(subject: string, data: Record<string, unknown>): void {
    // The events mark the outcomes operators count: every finished generation and what it cost.
    if (subject === 'gaia.asset.generation.completed' || subject === 'gaia.asset.generation.failed') {
      const provider = String(data.provider ?? 'unknown');
      assetGenerations.inc({
        provider,
        category: String(data.category ?? 'unknown'),
        outcome: subject.endsWith('completed') ? 'completed' : String(data.error_type ?? 'failed'),
      });
      if (typeof data.cost === 'number' && data.cost > 0) assetCost.inc({ provider }, data.cost);
    }
    this.d.bus
      .publish(subject, data)
      .catch((err) => this.d.log.warn('asset event not published', { error: String(err) }));
  }

  private track(p: Promise<unknown>): void {
    this.background.add(p);
    p.finally(() => this.background.delete(p)).catch(() => {});
  }

  // ── restart ────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Jobs a previous process left unfinished: those with a provider task id (Meshy, Mubert) resume polling;
   * the others cannot be continued, so they fail as `interrupted` and release their reservation.
   */
  async resumeJobs(): Promise<void> {
    const { db } = this.d;
    const t = db.t.assetJobs;
    const now = new Date();
    const free = or(isNull(t.lockedUntil), lt(t.lockedUntil, now));
    const candidates = await db.orm
      .select({ id: t.id })
      .from(t)
      .where(and(inArray(t.status, ['queued', 'processing']), free));
    const rows = [];
    for (const c of candidates) {
      if (this.mine.has(c.id) || this.closing) continue;
      // Claimed with a conditional update, so two instances sweeping at once never both take a job.
      const claimed = await db.orm
        .update(t)
        .set({
          lockedBy: this.d.instanceId,
          lockedUntil: new Date(Date.now() + LEASE_MS),
          updatedAt: new Date(),
        })
        .where(and(eq(t.id, c.id), inArray(t.status, ['queued', 'processing']), free))
        .returning();
      if (claimed[0]) rows.push(claimed[0]);
    }
    for (const row of rows) {
      const req = row.request as unknown as AssetRequest & { task_state?: Record<string, unknown> | null };
      const caller = { id: row.userId ?? '', admin: false };
      const provider = (row.provider ?? '') as ProviderId;
      const adapter = this.d.providers.get(provider);
      if (row.providerTaskId && adapter?.resume) {
        const estimate = this.d.pricing.estimate(provider, req);
        const done = this.run(row.id, caller, req, [provider], estimate, {
          taskId: row.providerTaskId,
          state: req.task_state ?? undefined,
        });
        this.track(done);
        continue;
      }
      const err = new HttpError(500, 'Generation was interrupted by a restart');
      await this.updateJob(row.id, {
        status: 'failed',
        error: { message: err.detail, type: 'interrupted' },
        costMicroUsd: 0,
        reservedMicroUsd: 0,
        completedAt: now,
        lockedBy: null,
        lockedUntil: null,
      });
      this.publish('gaia.asset.generation.failed', {
        generation_id: row.id,
        user_id: row.userId,
        category: row.category,
        provider,
        error: err.detail,
        error_type: 'interrupted',
        cost: 0,
        session_id: row.sessionId,
        timestamp: now.toISOString(),
      });
    }
  }

  /** Takes over unfinished jobs now, then keeps leases alive and sweeps for orphaned jobs. */
  async start(): Promise<void> {
    // A failed first pass must not leave the heartbeat and the sweep unstarted; the sweep tries again.
    await this.resumeJobs().catch((err) =>
      this.d.log.warn('asset job resume failed', { error: String(err) }),
    );
    this.heartbeat = setInterval(() => void this.renewLeases().catch(() => {}), HEARTBEAT_MS);
    this.sweeper = setInterval(
      () =>
        void this.resumeJobs().catch((err) =>
          this.d.log.warn('asset job sweep failed', { error: String(err) }),
        ),
      SWEEP_MS,
    );
    this.heartbeat.unref?.();
    this.sweeper.unref?.();
  }

  private async renewLeases(): Promise<void> {
    if (this.mine.size === 0) return;
    const t = this.d.db.t.assetJobs;
    await this.d.db.orm
      .update(t)
      .set({ lockedUntil: new Date(Date.now() + LEASE_MS) })
      .where(and(inArray(t.id, [...this.mine.keys()]), eq(t.lockedBy, this.d.instanceId)));
  }

  /**
   * Stops taking work and hands running jobs back: provider calls are aborted, their jobs stay `processing`
   * with the lease released, so the next instance resumes those that can be (Meshy, Mubert) at once.
   */
  async close(): Promise<void> {
    this.closing = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.sweeper) clearInterval(this.sweeper);
    for (const abort of this.mine.values()) abort.abort(new ShuttingDown('shutting down'));
    await Promise.allSettled([...this.background]);
  }
}

export type { ProviderFile };
