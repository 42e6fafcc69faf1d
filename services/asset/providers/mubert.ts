/**
 * Mubert music adapter. Mubert composes from tags, not from prose: the style ("ambient-calm") and a few
 * meaningful words of the description become the tags. Generation is a task on Mubert's side; its id goes to the
 * orchestrator at once so a restarted service resumes polling instead of ordering (and paying for) a new track.
 * The finished track is a provider URL that the orchestrator fetches through its safe downloader.
 *
 * Mubert answers some failures with HTTP 200 and `{"status": 2, "error": {...}}`; those are failures too.
 */
import {
  type Category,
  type ProviderAdapter,
  type ProviderContext,
  ProviderError,
  type ProviderJob,
  type ProviderResult,
} from '../types';
import { httpFailure, safeCode } from './errors';

export interface MubertOptions {
  apiKey: string | null;
  /** Default `https://api-b2b.mubert.com/v2`. */
  apiBase?: string;
  /** Between two status polls; default 3 s. */
  pollMs?: number;
  /** Whole generation; default 180 s. */
  timeoutMs?: number;
  /** One HTTP call; default 60 s. */
  requestTimeoutMs?: number;
}

const FORMATS = ['wav', 'mp3', 'ogg'];
const CONTENT_TYPES: Record<string, string> = { wav: 'audio/wav', mp3: 'audio/mpeg', ogg: 'audio/ogg' };
const MAX_POLL_FAILURES = 3;
const MAX_DESCRIPTION_TAGS = 5;
const CONTENT_REFUSAL =
  /moderat|content polic|inappropriate|nsfw|flagged|violat|prohibited|unsafe|sensitive content|not allowed/i;

/**
 * Words that carry no musical meaning: grammar, and the words every music request contains anyway
 * ("background music for a game") which would only dilute the tags.
 */
const STOPWORDS = new Set(
  (
    'the and for with that this from into onto over under very some any all are was were has have had but not ' +
    'you your our their its his her they them then than when where which while who whom what will would should ' +
    'could can may might must make made like just about also more most less much many such each every other ' +
    'there here been being does did done use used using want need please give create generate something ' +
    'music musical track tracks song songs soundtrack soundtracks background audio sound sounds loop looping ' +
    'loops seconds second minute minutes long short play plays playing game games level scene piece'
  ).split(' '),
);

/** Tags for a request: the style split on `-`, then up to five significant description words. */
export function mubertTags(style: string, description: string): string[] {
  const tags: string[] = [];
  const add = (t: string) => {
    if (t && !tags.includes(t)) tags.push(t);
  };
  for (const part of style.toLowerCase().split('-')) add(part.trim());
  let taken = 0;
  for (const word of description
    .toLowerCase()
    .normalize('NFC')
    .match(/[\p{L}\p{N}]+/gu) ?? []) {
    if (taken >= MAX_DESCRIPTION_TAGS) break;
    if (word.length < 3 || /^\p{N}+$/u.test(word) || STOPWORDS.has(word) || tags.includes(word)) continue;
    tags.push(word);
    taken++;
  }
  return tags;
}

export interface MubertParams {
  tags: string[];
  duration: number;
  format: string;
  bitrate: number;
  sample_rate: number;
  mode: 'track' | 'soundtrack';
  loop?: boolean;
}

/** The `params` of a `GenerateTrackByTags` call for a request. */
export function mubertParams(job: ProviderJob): MubertParams {
  const req = job.request;
  const soundtrack = req.soundtrack;
  const high = soundtrack || req.requirements.quality === 'high' || req.requirements.quality === 'ultra';
  const format = FORMATS.includes(req.requirements.format) ? req.requirements.format : 'wav';
  return {
    tags: mubertTags(req.style, req.description),
    duration: req.requirements.durationSeconds ?? (soundtrack ? 60 : 30),
    format: format.toUpperCase(),
    bitrate: high ? 320 : 128,
    sample_rate: high ? 48_000 : 44_100,
    mode: soundtrack ? 'soundtrack' : 'track',
    ...(soundtrack ? { loop: true } : {}),
  };
}

/** Failures worth another poll: rate limits, 5xx, network errors, a single slow call. */
class TransientProviderError extends ProviderError {}

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

interface MubertTask {
  id: string;
  status: string;
  progress?: number;
  download_url?: string | null;
  error?: unknown;
  duration?: number;
  bpm?: number;
  key?: string;
}

interface Run {
  ctx: ProviderContext;
  deadline: number;
  lastProgress: number;
}

export class MubertAdapter implements ProviderAdapter {
  readonly id = 'mubert' as const;
  /** Only tags reach Mubert; the description limit of the request is the real bound. */
  readonly maxPromptChars = 4000;
  private readonly apiKey: string | null;
  private readonly apiBase: string;
  private readonly pollMs: number;
  private readonly timeoutMs: number;
  private readonly requestTimeoutMs: number;

  constructor(opts: MubertOptions) {
    this.apiKey = opts.apiKey || null;
    this.apiBase = (opts.apiBase ?? 'https://api-b2b.mubert.com/v2').replace(/\/+$/, '');
    this.pollMs = opts.pollMs ?? 3_000;
    this.timeoutMs = opts.timeoutMs ?? 180_000;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 60_000;
  }

  configured(): boolean {
    return this.apiKey !== null;
  }

  supports(category: Category): boolean {
    return category === 'audio';
  }

  formats(category: Category): string[] {
    return this.supports(category) ? [...FORMATS] : [];
  }

  async generate(job: ProviderJob, ctx: ProviderContext): Promise<ProviderResult> {
    const startedAt = Date.now();
    const run: Run = { ctx, deadline: startedAt + this.timeoutMs, lastProgress: -1 };
    const params = mubertParams(job);
    let json: any;
    try {
      json = await this.call(run, 'POST', '/generate', { method: 'GenerateTrackByTags', params });
    } catch (err) {
      // Creation is not retried here: the orchestrator decides whether another provider gets the request.
      throw err instanceof TransientProviderError
        ? new ProviderError('mubert', err.kind, err.reason, err.opts)
        : err;
    }
    const id = json?.data?.id;
    if ((typeof id !== 'string' && typeof id !== 'number') || id === '') {
      throw new ProviderError('mubert', 'error', 'no task id in the response');
    }
    const taskId = String(id);
    await ctx.onTask(taskId, { started_at: new Date(startedAt).toISOString() });
    const task = await this.poll(run, taskId, false);
    return this.result(job, params, task);
  }

  async resume(
    taskId: string,
    job: ProviderJob,
    ctx: ProviderContext,
    state?: Record<string, unknown>,
  ): Promise<ProviderResult> {
    const parsed = typeof state?.started_at === 'string' ? Date.parse(state.started_at) : Number.NaN;
    const startedAt = Number.isNaN(parsed) ? Date.now() : parsed;
    // The track may have finished while the service was down: it always gets one look.
    const deadline = Math.max(
      startedAt + this.timeoutMs,
      Date.now() + Math.min(this.requestTimeoutMs, this.timeoutMs),
    );
    const run: Run = { ctx, deadline, lastProgress: -1 };
    const task = await this.poll(run, taskId, true);
    return this.result(job, mubertParams(job), task);
  }

  private result(job: ProviderJob, params: MubertParams, task: MubertTask): ProviderResult {
    const url = task.download_url;
    if (typeof url !== 'string' || !url)
      throw new ProviderError('mubert', 'error', 'the finished task has no download URL');
    const format = params.format.toLowerCase();
    const high = params.bitrate === 320;
    return {
      file: { kind: 'url', url, contentType: CONTENT_TYPES[format]! },
      format,
      model: params.mode === 'soundtrack' ? 'mubert-soundtrack' : 'mubert-track',
      qualityScore: high ? 0.9 : 0.8,
      license: 'commercial',
      metadata: {
        provider_task_id: task.id,
        duration_seconds: typeof task.duration === 'number' ? task.duration : params.duration,
        ...(typeof task.bpm === 'number' ? { bpm: task.bpm } : {}),
        ...(typeof task.key === 'string' && task.key ? { key: task.key } : {}),
        tags: params.tags,
        mode: params.mode,
        tier: high ? 'high' : 'standard',
        bitrate: params.bitrate,
        sample_rate: params.sample_rate,
        soundtrack: job.request.soundtrack,
      },
    };
  }

  private async poll(run: Run, taskId: string, immediate: boolean): Promise<MubertTask> {
    let failures = 0;
    let wait = immediate ? 0 : this.pollMs;
    for (;;) {
      if (wait > 0) await this.pause(run, wait);
      let data: any;
      try {
        data = (await this.call(run, 'GET', `/task/${encodeURIComponent(taskId)}`))?.data;
        failures = 0;
      } catch (err) {
        if (err instanceof TransientProviderError && ++failures <= MAX_POLL_FAILURES) {
          wait = Math.max(this.pollMs, (err.opts.retryAfterS ?? 0) * 1000);
          continue;
        }
        throw err instanceof TransientProviderError
          ? new ProviderError('mubert', err.kind, err.reason, err.opts)
          : err;
      }
      if (!data || typeof data !== 'object' || typeof data.status !== 'string') {
        throw new ProviderError('mubert', 'error', 'unexpected task status response');
      }
      const task: MubertTask = { ...data, id: data.id != null ? String(data.id) : taskId };
      const status = task.status.toLowerCase();
      if (status === 'completed' || status === 'done') {
        run.ctx.onProgress(100);
        return task;
      }
      if (status === 'failed' || status === 'error' || status === 'canceled' || status === 'cancelled') {
        throw this.taskFailure(task.error);
      }
      if (typeof task.progress === 'number' && Number.isFinite(task.progress)) {
        const p = Math.min(99, Math.max(0, Math.floor(task.progress)));
        if (p > run.lastProgress) {
          run.lastProgress = p;
          run.ctx.onProgress(p);
        }
      }
      wait = this.pollMs;
    }
  }

  private taskFailure(error: unknown): ProviderError {
    const text =
      typeof error === 'string'
        ? error
        : typeof (error as any)?.text === 'string'
          ? (error as any).text
          : undefined;
    const message = this.clean(text);
    if (message && CONTENT_REFUSAL.test(message)) return new ProviderError('mubert', 'rejected', message);
    return new ProviderError('mubert', 'error', message ? `task failed: ${message}` : 'task failed');
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

  private async call(run: Run, method: 'GET' | 'POST', path: string, body?: unknown): Promise<any> {
    const remaining = run.deadline - Date.now();
    if (remaining <= 0) throw this.overallTimeout();
    const limit = Math.min(this.requestTimeoutMs, remaining);
    const timer = AbortSignal.timeout(limit);
    let res: Response;
    try {
      res = await fetch(this.apiBase + path, {
        method,
        headers: {
          authorization: `Bearer ${this.apiKey ?? ''}`,
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
        throw new TransientProviderError('mubert', 'timeout', 'no answer in time', {
          timeoutS: Math.max(1, Math.ceil(limit / 1000)),
        });
      }
      throw new TransientProviderError('mubert', 'error', 'network error');
    }
    const text = await res.text().catch(() => '');
    let json: any;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      if (res.status === 429 || res.status >= 500) {
        const base = httpFailure('mubert', res.status, res.headers);
        throw new TransientProviderError('mubert', base.kind, base.reason, base.opts);
      }
      throw httpFailure('mubert', res.status, res.headers, { code: json?.error?.code });
    }
    if (json === undefined)
      throw new ProviderError('mubert', 'error', `invalid JSON in the response (HTTP ${res.status})`);
    // Mubert's in-band failure: HTTP 200 with `status: 2` and an error object.
    if (json && (json.status === 2 || (json.error && !json.data))) {
      const code = safeCode(json.error?.code != null ? String(json.error.code) : undefined);
      const message = this.clean(json.error?.text);
      if (message && CONTENT_REFUSAL.test(message)) {
        throw new ProviderError('mubert', 'rejected', 'the tags were refused by content moderation');
      }
      throw new ProviderError('mubert', 'error', `request refused${code ? ` (code ${code})` : ''}`);
    }
    return json;
  }

  /** Provider text as a short single line that can never carry our key. */
  private clean(message: unknown): string | undefined {
    if (typeof message !== 'string') return undefined;
    let out = message.replace(/\s+/g, ' ').trim();
    if (this.apiKey) out = out.split(this.apiKey).join('[redacted]');
    out = out.replace(/Bearer\s+\S+/gi, 'Bearer [redacted]');
    return out ? out.slice(0, 200) : undefined;
  }

  private overallTimeout(): ProviderError {
    const seconds = Math.max(1, Math.ceil(this.timeoutMs / 1000));
    return new ProviderError('mubert', 'timeout', `timed out after ${seconds} s`, { timeoutS: seconds });
  }

  private cancelled(signal: AbortSignal): ProviderError {
    if (signal.reason instanceof ProviderError) return signal.reason;
    return new ProviderError('mubert', 'error', 'generation cancelled');
  }
}

export const createMubertAdapter = (opts: MubertOptions): MubertAdapter => new MubertAdapter(opts);
