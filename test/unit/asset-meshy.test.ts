import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { cutPrompt, MeshyAdapter, type MeshyOptions } from '../../services/asset/providers/meshy';
import {
  type AssetRequest,
  type ProviderContext,
  ProviderError,
  type ProviderJob,
  type Quality,
} from '../../services/asset/types';
import { FAKE_MESHY_KEY, type FakeMeshy, MESHY_TEST_KEY, startFakeMeshy, tinyGlb } from '../fakes/meshy';

let fake: FakeMeshy;

beforeAll(async () => {
  fake = await startFakeMeshy();
});
afterAll(async () => {
  await fake.stop();
});
beforeEach(() => {
  fake.requests.length = 0;
  fake.delayMs = 0;
});

function job(quality: Quality = 'medium', extra: Partial<AssetRequest['requirements']> = {}): ProviderJob {
  const request: AssetRequest = {
    category: 'prop',
    style: 'fantasy',
    description: 'A glowing magical sword with runes',
    requirements: {
      platform: 'mobile_vr',
      quality,
      polygonCountMax: null,
      fileSizeMaxMb: null,
      format: 'glb',
      size: null,
      durationSeconds: null,
      ...extra,
    },
    preferences: {
      allowDatabase: true,
      allowGeneration: true,
      maxCost: 500_000,
      maxWaitMs: 25_000,
      provider: null,
    },
    sessionId: 's1',
    requestHash: 'h'.repeat(64),
    soundtrack: false,
  };
  return { request, prompt: 'A glowing magical sword with runes, fantasy style, a game prop', warnings: [] };
}

interface Recorder extends ProviderContext {
  progress: number[];
  taskCalls: { id: string; state?: Record<string, unknown> }[];
  controller: AbortController;
}

function recorder(onTask?: (id: string, state?: Record<string, unknown>) => void): Recorder {
  const controller = new AbortController();
  const rec: Recorder = {
    signal: controller.signal,
    controller,
    progress: [],
    taskCalls: [],
    onProgress(p) {
      rec.progress.push(p);
    },
    onTask(id, state) {
      rec.taskCalls.push({ id, state });
      onTask?.(id, state);
    },
  };
  return rec;
}

function adapter(opts: Partial<MeshyOptions> = {}): MeshyAdapter {
  return new MeshyAdapter({
    apiKey: FAKE_MESHY_KEY,
    apiBase: fake.url,
    pollIntervalMs: 5,
    timeoutMs: 5_000,
    ...opts,
  });
}

async function failure(p: Promise<unknown>): Promise<ProviderError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ProviderError);
    return err as ProviderError;
  }
  throw new Error('expected a ProviderError');
}

const creates = () => fake.requests.filter((r) => r.method === 'POST');

describe('meshy adapter', () => {
  test('declares what it supports', () => {
    const a = adapter();
    expect(a.configured()).toBe(true);
    expect(new MeshyAdapter({ apiKey: null }).configured()).toBe(false);
    expect(new MeshyAdapter({ apiKey: null, testMode: true }).configured()).toBe(true);
    expect(a.supports('prop')).toBe(true);
    expect(a.supports('character')).toBe(true);
    expect(a.supports('image')).toBe(false);
    expect(a.formats('environment')).toEqual(['glb', 'fbx', 'obj', 'usdz']);
    expect(a.maxPromptChars).toBe(600);
  });

  test('medium quality: one preview task with the current body, progress and the glb url', async () => {
    fake.enqueueTask({ pollsBeforeDone: 3, credits: 20 });
    const ctx = recorder();
    const result = await adapter().generate(job('medium'), ctx);

    const posts = creates();
    expect(posts).toHaveLength(1);
    expect(posts[0]!.authorization).toBe(`Bearer ${FAKE_MESHY_KEY}`);
    expect(posts[0]!.body).toEqual({
      mode: 'preview',
      prompt: 'A glowing magical sword with runes, fantasy style, a game prop',
      ai_model: 'latest',
      topology: 'quad',
      target_polycount: 5000,
      should_remesh: true,
    });
    expect(posts[0]!.body.art_style).toBeUndefined();

    const taskId = ctx.taskCalls[0]!.id;
    expect(ctx.taskCalls).toHaveLength(1);
    expect(ctx.taskCalls[0]!.state?.stage).toBe('preview');
    expect(fake.tasks.get(taskId)?.mode).toBe('preview');
    expect(fake.polls(taskId)).toBe(4);

    // Progress rises strictly and ends at 100.
    expect(ctx.progress.at(-1)).toBe(100);
    for (let i = 1; i < ctx.progress.length; i++)
      expect(ctx.progress[i]!).toBeGreaterThan(ctx.progress[i - 1]!);
    expect(ctx.progress.length).toBeGreaterThanOrEqual(3);

    expect(result.format).toBe('glb');
    expect(result.file).toEqual({
      kind: 'url',
      url: `${fake.origin}/files/${taskId}.glb`,
      contentType: 'model/gltf-binary',
    });
    expect(result.preview).toEqual({
      kind: 'url',
      url: `${fake.origin}/files/${taskId}.png`,
      contentType: 'image/png',
    });
    expect(result.qualityScore).toBe(0.8);
    expect(result.license).toBe('proprietary');
    expect(result.model).toBe('latest');
    expect(result.metadata).toMatchObject({
      provider_task_id: taskId,
      credits_used: 20,
      test_mode: false,
      textured: false,
      target_polycount: 5000,
    });

    // The result URL points at a real, valid GLB on the fake.
    const file = await fetch((result.file as { url: string }).url);
    const bytes = new Uint8Array(await file.arrayBuffer());
    expect(new TextDecoder().decode(bytes.slice(0, 4))).toBe('glTF');
    expect(new DataView(bytes.buffer).getUint32(8, true)).toBe(bytes.length);
    expect(bytes).toEqual(tinyGlb());
  });

  test('high quality: preview then refine, onTask for both, credits summed', async () => {
    fake.enqueueTask({ pollsBeforeDone: 2, credits: 20 }, { pollsBeforeDone: 2, credits: 10 });
    const ctx = recorder();
    const result = await adapter().generate(job('high', { format: 'fbx', polygonCountMax: 8000 }), ctx);

    const posts = creates();
    expect(posts).toHaveLength(2);
    expect(posts[0]!.body.target_polycount).toBe(8000);
    const previewId = ctx.taskCalls[0]!.id;
    const refineId = ctx.taskCalls[1]!.id;
    expect(posts[1]!.body).toEqual({ mode: 'refine', preview_task_id: previewId });
    expect(ctx.taskCalls[1]!.state).toMatchObject({
      stage: 'refine',
      preview_task_id: previewId,
      preview_credits: 20,
    });
    expect(fake.tasks.get(refineId)?.mode).toBe('refine');

    // Preview owns the first half of the progress, refine the second.
    expect(ctx.progress.some((p) => p > 0 && p < 50)).toBe(true);
    expect(ctx.progress.some((p) => p > 50 && p < 100)).toBe(true);
    expect(ctx.progress.at(-1)).toBe(100);

    expect(result.format).toBe('fbx');
    expect(result.file).toEqual({
      kind: 'url',
      url: `${fake.origin}/files/${refineId}.fbx`,
      contentType: 'application/octet-stream',
    });
    expect(result.qualityScore).toBe(0.9);
    expect(result.metadata).toMatchObject({
      provider_task_id: refineId,
      preview_task_id: previewId,
      refine_task_id: refineId,
      credits_used: 30,
      textured: true,
    });
  });

  test('polycount follows quality and is capped by polygon_count_max', async () => {
    fake.enqueueTask({ pollsBeforeDone: 0 }, { pollsBeforeDone: 0 }, { pollsBeforeDone: 0 });
    await adapter().generate(job('low'), recorder());
    await adapter().generate(job('medium', { polygonCountMax: 300 }), recorder());
    await adapter().generate(job('ultra', { polygonCountMax: 100_000 }), recorder());
    const previews = creates().filter((r) => r.body.mode === 'preview');
    expect(previews.map((r) => r.body.target_polycount)).toEqual([1000, 300, 50000]);
  });

  test('resume after a restart: a new adapter instance continues the preview task', async () => {
    fake.enqueueTask({ pollsBeforeDone: 6, credits: 20 }, { pollsBeforeDone: 1, credits: 10 });
    const first = adapter();
    let saved: { id: string; state?: Record<string, unknown> } | undefined;
    const ctx1 = recorder((id, state) => {
      saved = { id, state };
    });
    const running = first.generate(job('ultra'), ctx1);
    // "Crash" once the task has been polled a couple of times.
    while (!saved || fake.polls(saved.id) < 2) await Bun.sleep(2);
    ctx1.controller.abort();
    const err = await failure(running);
    expect(err.kind).toBe('error');
    expect(fake.tasks.size).toBeGreaterThan(0);

    const pollsBefore = fake.polls(saved!.id);
    const ctx2 = recorder();
    const result = await adapter().resume(saved!.id, job('ultra'), ctx2, saved!.state);
    // No new preview was created: the resumed run polled the same task, then refined it.
    const previews = creates().filter((r) => r.body.mode === 'preview');
    expect(previews).toHaveLength(1);
    expect(fake.polls(saved!.id)).toBeGreaterThan(pollsBefore);
    expect(ctx2.taskCalls).toHaveLength(1);
    expect(ctx2.taskCalls[0]!.state).toMatchObject({ stage: 'refine', preview_task_id: saved!.id });
    expect(result.metadata).toMatchObject({ preview_task_id: saved!.id, credits_used: 30, textured: true });
    expect(result.qualityScore).toBe(0.95);
  });

  test('resume in the refine stage uses the persisted preview and reads its credits from Meshy if needed', async () => {
    fake.enqueueTask({ pollsBeforeDone: 0, credits: 20 }, { pollsBeforeDone: 5, credits: 10 });
    const calls: { id: string; state?: Record<string, unknown> }[] = [];
    const ctx1 = recorder((id, state) => {
      calls.push({ id, state });
    });
    const running = adapter().generate(job('high'), ctx1);
    while (calls.length < 2 || fake.polls(calls[1]!.id) < 1) await Bun.sleep(2);
    ctx1.controller.abort();
    await failure(running);

    const refine = calls[1]!;
    // An older state without the credits: the adapter asks Meshy for the preview task.
    const { preview_credits: _dropped, ...state } = refine.state!;
    const ctx2 = recorder();
    const result = await adapter().resume(refine.id, job('high'), ctx2, state);
    expect(ctx2.taskCalls).toHaveLength(0);
    expect(creates()).toHaveLength(2);
    expect(result.metadata).toMatchObject({
      provider_task_id: refine.id,
      preview_task_id: calls[0]!.id,
      credits_used: 30,
    });
  });

  test('resume of a task that finished while the service was down completes at once', async () => {
    fake.enqueueTask({ pollsBeforeDone: 0, credits: 20 });
    const calls: string[] = [];
    const ctx1 = recorder((id) => {
      calls.push(id);
      ctx1.controller.abort();
    });
    await failure(adapter({ pollIntervalMs: 60_000 }).generate(job('low'), ctx1));
    // The old deadline has long passed; the task is still looked at once.
    const old = new Date(Date.now() - 3_600_000).toISOString();
    const result = await adapter({ pollIntervalMs: 60_000 }).resume(calls[0]!, job('low'), recorder(), {
      stage: 'preview',
      started_at: old,
    });
    expect(result.metadata.provider_task_id).toBe(calls[0]);
  });

  test('a FAILED task is a provider error with its message; a moderation failure is a rejection', async () => {
    fake.enqueueTask({ pollsBeforeDone: 1, failMessage: 'Internal mesh reconstruction error' });
    const err = await failure(adapter().generate(job(), recorder()));
    expect(err.kind).toBe('error');
    expect(err.provider).toBe('meshy');
    expect(err.reason).toContain('Internal mesh reconstruction error');

    fake.enqueueTask({ pollsBeforeDone: 0, failMessage: 'The prompt was flagged by our content moderation' });
    const rejected = await failure(adapter().generate(job(), recorder()));
    expect(rejected.kind).toBe('rejected');
    expect(rejected.reason).toContain('moderation');

    fake.enqueueTask({ pollsBeforeDone: 0, cancel: true });
    const canceled = await failure(adapter().generate(job(), recorder()));
    expect(canceled.kind).toBe('error');
    expect(canceled.reason).toContain('canceled');
  });

  test('HTTP failures on creation: 401, 429 with Retry-After, 500, 402', async () => {
    const bad = await failure(adapter({ apiKey: 'msy-wrong-key' }).generate(job(), recorder()));
    expect(bad.kind).toBe('error');
    expect(bad.reason).toContain('401');
    expect(bad.reason).not.toContain('msy-wrong-key');

    fake.enqueueError({ status: 429, on: 'create', retryAfter: '17' });
    const limited = await failure(adapter().generate(job(), recorder()));
    expect(limited.kind).toBe('rate_limited');
    expect(limited.opts.retryAfterS).toBe(17);

    fake.enqueueError({ status: 500, on: 'create', message: `boom ${FAKE_MESHY_KEY}` });
    const broken = await failure(adapter().generate(job(), recorder()));
    expect(broken.kind).toBe('error');
    expect(broken.reason).toBe('HTTP 500 (server error)');
    expect(broken.reason).not.toContain('boom');
    // Creation failures are not retried (the orchestrator may try another provider).
    expect(creates()).toHaveLength(3);

    fake.enqueueError({
      status: 400,
      on: 'create',
      message: 'Your prompt was flagged by content moderation',
    });
    const refused = await failure(adapter().generate(job(), recorder()));
    expect(refused.kind).toBe('rejected');

    fake.enqueueError({ status: 400, on: 'create', message: 'some other complaint' });
    const invalid = await failure(adapter().generate(job(), recorder()));
    expect(invalid.kind).toBe('error');
    expect(invalid.reason).toBe('HTTP 400 (bad request)');

    fake.enqueueError({ status: 402, on: 'create' });
    const broke = await failure(adapter().generate(job(), recorder()));
    expect(broke.reason).toBe('HTTP 402 (payment required)');
  });

  test('a transient poll failure is retried; persistent ones fail the generation', async () => {
    fake.enqueueTask({ pollsBeforeDone: 2 });
    fake.enqueueError({ status: 500, on: 'poll' }, { status: 429, on: 'poll', retryAfter: '0' });
    const result = await adapter().generate(job(), recorder());
    expect(result.metadata.credits_used).toBe(20);

    fake.enqueueTask({ pollsBeforeDone: 2 });
    fake.enqueueError(
      { status: 502, on: 'poll' },
      { status: 502, on: 'poll' },
      { status: 502, on: 'poll' },
      { status: 502, on: 'poll' },
    );
    const err = await failure(adapter().generate(job(), recorder()));
    expect(err.kind).toBe('error');
    expect(err.reason).toBe('HTTP 502 (bad gateway)');

    // 401 while polling is not transient.
    fake.enqueueTask({ pollsBeforeDone: 2 });
    fake.enqueueError({ status: 401, on: 'poll' });
    const auth = await failure(adapter().generate(job(), recorder()));
    expect(auth.reason).toContain('401');
  });

  test('overall timeout and a slow single call map to timeout', async () => {
    fake.enqueueTask({ stuck: true });
    const started = Date.now();
    const err = await failure(adapter({ timeoutMs: 150, pollIntervalMs: 20 }).generate(job(), recorder()));
    expect(err.kind).toBe('timeout');
    // Whole seconds, rounded up, as the error detail names them.
    expect(err.reason).toBe('timed out after 1 s');
    expect(err.opts.timeoutS).toBe(1);
    expect(Date.now() - started).toBeLessThan(2_000);

    const slow = adapter({ timeoutMs: 600_000, requestTimeoutMs: 50 });
    fake.delayMs = 300;
    const slowErr = await failure(slow.generate(job(), recorder()));
    expect(slowErr.kind).toBe('timeout');
    expect(slowErr.reason).toBe('no answer in time');
  });

  test('abort stops polling promptly and leaves the task to be resumed', async () => {
    fake.enqueueTask({ stuck: true });
    const ctx = recorder();
    const running = adapter({ pollIntervalMs: 10_000 }).generate(job(), ctx);
    while (ctx.taskCalls.length === 0) await Bun.sleep(2);
    const t0 = Date.now();
    ctx.controller.abort();
    const err = await failure(running);
    expect(Date.now() - t0).toBeLessThan(500);
    expect(err.kind).toBe('error');
    // No delete or cancel request was sent.
    expect(fake.requests.filter((r) => r.method === 'DELETE')).toHaveLength(0);

    // An abort reason that is a ProviderError is passed through as is.
    fake.enqueueTask({ stuck: true });
    const ctx2 = recorder();
    const running2 = adapter({ pollIntervalMs: 10_000 }).generate(job(), ctx2);
    while (ctx2.taskCalls.length === 0) await Bun.sleep(2);
    ctx2.controller.abort(new ProviderError('meshy', 'timeout', 'timed out after 20 s', { timeoutS: 20 }));
    expect((await failure(running2)).opts.timeoutS).toBe(20);
  });

  test('test mode sends the public test key and reports no credits', async () => {
    fake.enqueueTask({ pollsBeforeDone: 0, credits: 20 }, { pollsBeforeDone: 0, credits: 10 });
    const a = new MeshyAdapter({ apiKey: null, testMode: true, apiBase: fake.url, pollIntervalMs: 5 });
    const result = await a.generate(job('high'), recorder());
    expect(creates().every((r) => r.authorization === `Bearer ${MESHY_TEST_KEY}`)).toBe(true);
    expect(result.metadata).toMatchObject({ test_mode: true, credits_used: 0 });
  });

  test('a model missing for the requested format is a provider error', async () => {
    fake.enqueueTask({ pollsBeforeDone: 0, omitFormats: ['usdz'] });
    const err = await failure(adapter().generate(job('low', { format: 'usdz' }), recorder()));
    expect(err.reason).toContain('usdz');
  });

  test('configured model id and an over-long prompt', async () => {
    fake.enqueueTask({ pollsBeforeDone: 0 });
    const long = `${'word '.repeat(200)}end`;
    const j = { ...job(), prompt: long };
    await adapter({ model: 'meshy-5' }).generate(j, recorder());
    const body = creates()[0]!.body;
    expect(body.ai_model).toBe('meshy-5');
    expect(body.prompt.length).toBeLessThanOrEqual(600);
    expect(body.prompt.endsWith('word')).toBe(true);
  });

  test('helpers', () => {
    expect(cutPrompt('short', 10)).toBe('short');
    expect(cutPrompt('alpha beta gamma', 12)).toBe('alpha beta');
  });
});
