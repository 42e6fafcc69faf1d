/**
 * Meshy text-to-3D adapter. A generation is one or two long-running provider tasks: a `preview` task (an
 * untextured mesh) and, for high/ultra quality, a `refine` task that textures it. Each task id is handed to the
 * orchestrator the moment it exists so a restarted service can pick the polling up again (`resume`) instead of
 * paying for a second generation. The adapter never prices: it reports the credits Meshy says it consumed.
 */
import {
  type Category,
  type ProviderAdapter,
  type ProviderContext,
  ProviderError,
  type ProviderFile,
  type ProviderJob,
  type ProviderResult,
  type Quality,
} from '../types';
import { httpFailure, statusReason } from './errors';

/** Meshy's published key for test mode: sample results, nothing billed. */
export const MESHY_TEST_MODE_KEY = 'msy_dummy_api_key_for_test_mode_12345678';

export interface MeshyOptions {
  apiKey: string | null;
  /** Default `https://api.meshy.ai/openapi`. */
  apiBase?: string;
  /** `ai_model` sent to Meshy; default `latest`. */
  model?: string;
  /** Between two status polls; default 10 s. */
  pollIntervalMs?: number;
  /** Whole generation (all tasks); default 10 min. */
  timeoutMs?: number;
  /** Longest prompt Meshy accepts; default 600. */
  maxPromptChars?: number;
  /** Use Meshy's public test key instead of `apiKey`. */
  testMode?: boolean;
  /** One HTTP call; default 60 s. */
  requestTimeoutMs?: number;
}

type Stage = 'preview' | 'refine';

/** The task object Meshy returns from `GET /v2/text-to-3d/{id}` (the fields we read). */
interface MeshyTask {
  id: string;
  status: string;
  progress?: number;
  model_urls?: Record<string, string | undefined>;
  thumbnail_url?: string;
  task_error?: { message?: string } | null;
  consumed_credits?: number;
}

const POLYCOUNT: Record<Quality, number> = { low: 1000, medium: 5000, high: 15000, ultra: 50000 };
const SCORE: Record<Quality, number> = { low: 0.65, medium: 0.8, high: 0.9, ultra: 0.95 };
const CATEGORIES: readonly Category[] = ['environment', 'character', 'prop'];
const FORMATS = ['glb', 'fbx', 'obj', 'usdz'];
const CONTENT_TYPES: Record<string, string> = {
  glb: 'model/gltf-binary',
  obj: 'model/obj',
  usdz: 'model/vnd.usdz+zip',
  fbx: 'application/octet-stream',
};
/** A few consecutive failed polls (a provider blip) should not throw away a task that is still running. */
const MAX_POLL_FAILURES = 3;
/** Meshy phrases moderation refusals in free text; these words mark a refused prompt rather than a fault. */
const CONTENT_REFUSAL =
  /moderat|content polic|inappropriate|nsfw|flagged|violat|prohibited|unsafe|sensitive content|not allowed/i;

/** Failures worth another poll: rate limits, 5xx, network errors, a single slow call. */
class TransientProviderError extends ProviderError {}

export const isMeshyTextured = (quality: Quality): boolean => quality === 'high' || quality === 'ultra';

export function meshyTargetPolycount(quality: Quality, polygonCountMax: number | null): number {
  const target = POLYCOUNT[quality];
  return polygonCountMax != null ? Math.min(target, polygonCountMax) : target;
}

/** Cuts at the last word boundary within `max` characters (no half words sent to the provider). */
export function cutPrompt(prompt: string, max: number): string {
  if (prompt.length <= max) return prompt;
  const slice = prompt.slice(0, max);
  const space = slice.lastIndexOf(' ');
  return (space > max / 2 ? slice.slice(0, space) : slice).trimEnd();
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export class MeshyAdapter implements ProviderAdapter {
  readonly id = 'meshy' as const;
  readonly maxPromptChars: number;
  private readonly apiBase: string;
  private readonly model: string;
  private readonly pollIntervalMs: number;
  private readonly timeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly testMode: boolean;
  private readonly apiKey: string | null;

  constructor(opts: MeshyOptions) {
    this.apiKey = opts.apiKey || null;
    this.apiBase = (opts.apiBase ?? 'https://api.meshy.ai/openapi').replace(/\/+$/, '');
    this.model = opts.model || 'latest';
    this.pollIntervalMs = opts.pollIntervalMs ?? 10_000;
    this.timeoutMs = opts.timeoutMs ?? 600_000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 60_000;
    this.maxPromptChars = opts.maxPromptChars ?? 600;
    this.testMode = opts.testMode ?? false;
  }

  configured(): boolean {
    return this.testMode || this.apiKey !== null;
  }

  supports(category: Category): boolean {
    return CATEGORIES.includes(category);
  }

  formats(category: Category): string[] {
    return this.supports(category) ? [...FORMATS] : [];
  }

  async generate(job: ProviderJob, ctx: ProviderContext): Promise<ProviderResult> {
    const startedAt = Date.now();
    const run = this.newRun(job, ctx, startedAt + this.timeoutMs);
    const previewId = await this.createTask(run, this.previewBody(job));
    await ctx.onTask(previewId, { stage: 'preview', started_at: new Date(startedAt).toISOString() });
    return this.continueFrom(run, 'preview', previewId, undefined, startedAt, false);
  }

  async resume(
    taskId: string,
    job: ProviderJob,
    ctx: ProviderContext,
    state?: Record<string, unknown>,
  ): Promise<ProviderResult> {
    const parsed = typeof state?.started_at === 'string' ? Date.parse(state.started_at) : Number.NaN;
    const startedAt = Number.isNaN(parsed) ? Date.now() : parsed;
    // A restart may come after the original deadline; the task may well have finished meanwhile, so it gets
    // at least one look before the timeout applies.
    const deadline = Math.max(
      startedAt + this.timeoutMs,
      Date.now() + Math.min(this.requestTimeoutMs, this.timeoutMs),
    );
    const run = this.newRun(job, ctx, deadline);
    if (state?.stage === 'refine') {
      const previewId = typeof state.preview_task_id === 'string' ? state.preview_task_id : undefined;
      let previewCredits = typeof state.preview_credits === 'number' ? state.preview_credits : undefined;
      if (previewCredits === undefined && previewId) {
        previewCredits = (await this.fetchTask(run, previewId)).consumed_credits ?? 0;
      }
      return this.continueFrom(
        run,
        'refine',
        taskId,
        { id: previewId, credits: previewCredits ?? 0 },
        startedAt,
        true,
      );
    }
    return this.continueFrom(run, 'preview', taskId, undefined, startedAt, true);
  }

  // ---- flow ----

  private newRun(job: ProviderJob, ctx: ProviderContext, deadline: number): Run {
    return {
      job,
      ctx,
      deadline,
      textured: isMeshyTextured(job.request.requirements.quality),
      lastProgress: -1,
    };
  }

  private async continueFrom(
    run: Run,
    stage: Stage,
    taskId: string,
    preview: { id?: string; credits: number } | undefined,
    startedAt: number,
    immediate: boolean,
  ): Promise<ProviderResult> {
    let previewInfo = preview;
    let finalTask: MeshyTask;
    if (stage === 'preview') {
      const done = await this.pollTask(run, taskId, 'preview', immediate);
      previewInfo = { id: taskId, credits: done.consumed_credits ?? 0 };
      if (!run.textured) return this.result(run, done, previewInfo, undefined);
      const refineId = await this.createTask(run, { mode: 'refine', preview_task_id: taskId });
      await run.ctx.onTask(refineId, {
        stage: 'refine',
        preview_task_id: taskId,
        preview_credits: previewInfo.credits,
        started_at: new Date(startedAt).toISOString(),
      });
      finalTask = await this.pollTask(run, refineId, 'refine', false);
    } else {
      finalTask = await this.pollTask(run, taskId, 'refine', immediate);
    }
    return this.result(run, finalTask, previewInfo ?? { credits: 0 }, finalTask);
  }

  private previewBody(job: ProviderJob): Record<string, unknown> {
    const req = job.request.requirements;
    return {
      mode: 'preview',
      prompt: cutPrompt(job.prompt, this.maxPromptChars),
      ai_model: this.model,
      topology: 'quad',
      target_polycount: meshyTargetPolycount(req.quality, req.polygonCountMax),
      should_remesh: true,
    };
  }

  private result(
    run: Run,
    last: MeshyTask,
    preview: { id?: string; credits: number },
    refine: MeshyTask | undefined,
  ): ProviderResult {
    const req = run.job.request.requirements;
    const format = req.format && FORMATS.includes(req.format) ? req.format : 'glb';
    const url = last.model_urls?.[format];
    if (typeof url !== 'string' || !url) {
      throw new ProviderError('meshy', 'error', `the finished task has no ${format} model`);
    }
    const file: ProviderFile = { kind: 'url', url, contentType: CONTENT_TYPES[format]! };
    const thumb =
      typeof last.thumbnail_url === 'string' && last.thumbnail_url ? last.thumbnail_url : undefined;
    const previewFile: ProviderFile | undefined = thumb
      ? { kind: 'url', url: thumb, contentType: /\.jpe?g(\?|$)/i.test(thumb) ? 'image/jpeg' : 'image/png' }
      : undefined;
    const refineCredits = refine ? (refine.consumed_credits ?? 0) : 0;
    const reported = preview.credits + refineCredits;
    run.ctx.onProgress(100);
    return {
      file,
      format,
      ...(previewFile ? { preview: previewFile } : {}),
      model: this.model,
      qualityScore: SCORE[req.quality],
      license: 'proprietary',
      metadata: {
        provider_task_id: last.id,
        ...(preview.id ? { preview_task_id: preview.id } : {}),
        ...(refine ? { refine_task_id: refine.id } : {}),
        textured: refine !== undefined,
        // Test-mode tasks are Meshy's free samples: whatever they report, nothing was billed.
        credits_used: this.testMode ? 0 : reported,
        test_mode: this.testMode,
        ai_model: this.model,
        target_polycount: meshyTargetPolycount(req.quality, req.polygonCountMax),
      },
    };
  }

  // ---- polling ----

  private async pollTask(run: Run, taskId: string, stage: Stage, immediate: boolean): Promise<MeshyTask> {
    let failures = 0;
    let wait = immediate ? 0 : this.pollIntervalMs;
    for (;;) {
      if (wait > 0) await this.pause(run, wait);
      let task: MeshyTask;
      try {
        task = await this.fetchTask(run, taskId);
        failures = 0;
      } catch (err) {
        if (err instanceof TransientProviderError && ++failures <= MAX_POLL_FAILURES) {
          wait = Math.max(this.pollIntervalMs, (err.opts.retryAfterS ?? 0) * 1000);
          continue;
        }
        throw err instanceof TransientProviderError
          ? new ProviderError('meshy', err.kind, err.reason, err.opts)
          : err;
      }
      this.report(run, stage, task.progress);
      if (task.status === 'SUCCEEDED') return task;
      if (task.status === 'FAILED' || task.status === 'CANCELED' || task.status === 'EXPIRED') {
        throw this.taskFailure(task);
      }
      wait = this.pollIntervalMs;
    }
  }

  /** Task progress mapped onto the whole generation: preview and refine each own half when both run. */
  private report(run: Run, stage: Stage, progress: unknown): void {
    if (typeof progress !== 'number' || !Number.isFinite(progress)) return;
    const p = Math.max(0, Math.min(100, progress));
    const overall = run.textured ? (stage === 'preview' ? p / 2 : 50 + p / 2) : p;
    const rounded = Math.min(99, Math.floor(overall));
    if (rounded > run.lastProgress) {
      run.lastProgress = rounded;
      run.ctx.onProgress(rounded);
    }
  }

  private taskFailure(task: MeshyTask): ProviderError {
    const message = this.clean(task.task_error?.message);
    if (task.status === 'CANCELED') return new ProviderError('meshy', 'error', 'the task was canceled');
    if (task.status === 'EXPIRED') return new ProviderError('meshy', 'error', 'the task expired');
    if (message && CONTENT_REFUSAL.test(message)) return new ProviderError('meshy', 'rejected', message);
    return new ProviderError('meshy', 'error', message ? `task failed: ${message}` : 'task failed');
  }

  private async pause(run: Run, ms: number): Promise<void> {
    const remaining = run.deadline - Date.now();
    if (remaining <= 0) throw this.overallTimeout();
    try {
      await sleep(Math.min(ms, remaining), run.ctx.signal);
    } catch {
      throw this.cancelled(run.ctx.signal);
    }
    if (ms > remaining) throw this.overallTimeout();
  }

  // ---- HTTP ----

  private async createTask(run: Run, body: Record<string, unknown>): Promise<string> {
    let json: any;
    try {
      json = await this.call(run, 'POST', '/v2/text-to-3d', body);
    } catch (err) {
      // Creation is not retried here: the orchestrator decides whether another provider gets the request.
      throw err instanceof TransientProviderError
        ? new ProviderError('meshy', err.kind, err.reason, err.opts)
        : err;
    }
    const id = json?.result;
    if (typeof id !== 'string' || !id)
      throw new ProviderError('meshy', 'error', 'no task id in the response');
    return id;
  }

  private async fetchTask(run: Run, taskId: string): Promise<MeshyTask> {
    const json = await this.call(run, 'GET', `/v2/text-to-3d/${encodeURIComponent(taskId)}`);
    if (!json || typeof json !== 'object' || typeof json.status !== 'string') {
      throw new ProviderError('meshy', 'error', 'unexpected task status response');
    }
    return { ...json, id: typeof json.id === 'string' ? json.id : taskId } as MeshyTask;
  }

  private async call(run: Run, method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> {
    const remaining = run.deadline - Date.now();
    if (remaining <= 0) throw this.overallTimeout();
    const limit = Math.min(this.requestTimeoutMs, remaining);
    const timer = AbortSignal.timeout(limit);
    const key = this.testMode ? MESHY_TEST_MODE_KEY : (this.apiKey ?? '');
    let res: Response;
    try {
      res = await fetch(this.apiBase + path, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          accept: 'application/json',
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.any([run.ctx.signal, timer]),
        redirect: 'error',
      });
    } catch {
      if (run.ctx.signal.aborted) throw this.cancelled(run.ctx.signal);
      if (timer.aborted) {
        if (limit < this.requestTimeoutMs) throw this.overallTimeout();
        throw new TransientProviderError('meshy', 'timeout', 'no answer in time', {
          timeoutS: Math.max(1, Math.ceil(limit / 1000)),
        });
      }
      throw new TransientProviderError('meshy', 'error', 'network error');
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) throw this.httpFailure(res, text);
    try {
      return JSON.parse(text);
    } catch {
      throw new ProviderError('meshy', 'error', `invalid JSON in the response (HTTP ${res.status})`);
    }
  }

  private httpFailure(res: Response, text: string): ProviderError {
    const status = res.status;
    if (status === 429 || status >= 500) {
      // Worth another poll; creation turns these back into plain errors.
      const base = httpFailure('meshy', status, res.headers);
      return new TransientProviderError('meshy', base.kind, base.reason, base.opts);
    }
    let message: string | undefined;
    try {
      message = this.clean(JSON.parse(text)?.message);
    } catch {
      message = undefined;
    }
    // Only the classification uses Meshy's text; the reason stays fixed so no provider prose leaks out.
    if ((status === 400 || status === 422) && message && CONTENT_REFUSAL.test(message)) {
      return new ProviderError('meshy', 'rejected', 'the prompt was refused by content moderation');
    }
    return new ProviderError('meshy', 'error', statusReason(status));
  }

  /** Provider text as a short single line that can never carry our key. */
  private clean(message: unknown): string | undefined {
    if (typeof message !== 'string') return undefined;
    let out = message.replace(/\s+/g, ' ').trim();
    for (const secret of [this.apiKey, MESHY_TEST_MODE_KEY]) {
      if (secret) out = out.split(secret).join('[redacted]');
    }
    out = out.replace(/Bearer\s+\S+/gi, 'Bearer [redacted]');
    return out ? out.slice(0, 200) : undefined;
  }

  private overallTimeout(): ProviderError {
    const seconds = Math.max(1, Math.ceil(this.timeoutMs / 1000));
    return new ProviderError('meshy', 'timeout', `timed out after ${seconds} s`, { timeoutS: seconds });
  }

  private cancelled(signal: AbortSignal): ProviderError {
    if (signal.reason instanceof ProviderError) return signal.reason;
    return new ProviderError('meshy', 'error', 'generation cancelled');
  }
}

interface Run {
  job: ProviderJob;
  ctx: ProviderContext;
  deadline: number;
  textured: boolean;
  lastProgress: number;
}

export const createMeshyAdapter = (opts: MeshyOptions): MeshyAdapter => new MeshyAdapter(opts);
