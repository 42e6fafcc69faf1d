import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test';
import { MubertAdapter, type MubertOptions, mubertTags } from '../../services/asset/providers/mubert';
import {
  type AssetRequest,
  type ProviderContext,
  ProviderError,
  type ProviderJob,
  type Quality,
} from '../../services/asset/types';
import { FAKE_MUBERT_KEY, type FakeMubert, startFakeMubert } from '../fakes/mubert';

let fake: FakeMubert;

beforeAll(async () => {
  fake = await startFakeMubert();
});
afterAll(async () => {
  await fake.stop();
});
beforeEach(() => {
  fake.requests.length = 0;
});

function job(
  opts: {
    quality?: Quality;
    format?: string;
    duration?: number | null;
    description?: string;
    style?: string;
  } = {},
): ProviderJob {
  const description =
    opts.description ?? 'Calm forest ambience with soft flutes and distant birds for a menu';
  const request: AssetRequest = {
    category: 'audio',
    style: opts.style ?? 'ambient-calm',
    description,
    requirements: {
      platform: 'desktop_vr',
      quality: opts.quality ?? 'medium',
      polygonCountMax: null,
      fileSizeMaxMb: null,
      format: opts.format ?? 'wav',
      size: null,
      durationSeconds: opts.duration === undefined ? 30 : opts.duration,
    },
    preferences: {
      allowDatabase: true,
      allowGeneration: true,
      maxCost: 500_000,
      maxWaitMs: 25_000,
      provider: null,
    },
    sessionId: 's1',
    requestHash: 'a'.repeat(64),
    soundtrack: /soundtrack|background/i.test(description),
  };
  return { request, prompt: description, warnings: [] };
}

interface Recorder extends ProviderContext {
  progress: number[];
  taskCalls: { id: string; state?: Record<string, unknown> }[];
  controller: AbortController;
}

function recorder(onTask?: (id: string) => void): Recorder {
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
      onTask?.(id);
    },
  };
  return rec;
}

function adapter(opts: Partial<MubertOptions> = {}): MubertAdapter {
  return new MubertAdapter({
    apiKey: FAKE_MUBERT_KEY,
    apiBase: fake.url,
    pollMs: 5,
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

describe('mubert adapter', () => {
  test('declares what it supports', () => {
    const a = adapter();
    expect(a.configured()).toBe(true);
    expect(new MubertAdapter({ apiKey: null }).configured()).toBe(false);
    expect(new MubertAdapter({ apiKey: '' }).configured()).toBe(false);
    expect(a.supports('audio')).toBe(true);
    expect(a.supports('prop')).toBe(false);
    expect(a.formats('audio')).toEqual(['wav', 'mp3', 'ogg']);
  });

  test('tags: style split on "-" plus up to five significant description words', () => {
    expect(
      mubertTags('ambient-calm', 'Calm forest ambience with soft flutes and distant birds for a menu'),
    ).toEqual(['ambient', 'calm', 'forest', 'ambience', 'soft', 'flutes', 'distant']);
    expect(mubertTags('Rock', 'background music for a 2 minute racing level, the loud drums')).toEqual([
      'rock',
      'racing',
      'loud',
      'drums',
    ]);
    expect(mubertTags('synthwave--dark', '')).toEqual(['synthwave', 'dark']);
  });

  test('a standard track: request body, task id, progress and the download url', async () => {
    fake.enqueueTask({ pollsBeforeDone: 3, bpm: 84, key: 'D major' });
    const ctx = recorder();
    const result = await adapter().generate(job(), ctx);

    const post = creates()[0]!;
    expect(post.path).toBe('/v2/generate');
    expect(post.authorization).toBe(`Bearer ${FAKE_MUBERT_KEY}`);
    expect(post.body).toEqual({
      method: 'GenerateTrackByTags',
      params: {
        tags: ['ambient', 'calm', 'forest', 'ambience', 'soft', 'flutes', 'distant'],
        duration: 30,
        format: 'WAV',
        bitrate: 128,
        sample_rate: 44100,
        mode: 'track',
      },
    });

    const id = ctx.taskCalls[0]!.id;
    expect(fake.tasks.has(id)).toBe(true);
    expect(fake.polls(id)).toBe(4);
    expect(ctx.progress.at(-1)).toBe(100);
    expect(ctx.progress.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < ctx.progress.length; i++)
      expect(ctx.progress[i]!).toBeGreaterThan(ctx.progress[i - 1]!);

    expect(result.format).toBe('wav');
    expect(result.file).toEqual({
      kind: 'url',
      url: `${fake.origin}/files/${id}.wav`,
      contentType: 'audio/wav',
    });
    expect(result.preview).toBeUndefined();
    expect(result.qualityScore).toBe(0.8);
    expect(result.license).toBe('commercial');
    expect(result.metadata).toMatchObject({
      provider_task_id: id,
      duration_seconds: 30,
      bpm: 84,
      key: 'D major',
      tier: 'standard',
      mode: 'track',
    });

    // The URL serves a real WAV with the requested sample rate.
    const bytes = new Uint8Array(await (await fetch((result.file as { url: string }).url)).arrayBuffer());
    const text = new TextDecoder().decode(bytes.slice(0, 16));
    expect(text.slice(0, 4)).toBe('RIFF');
    expect(text.slice(8, 16)).toBe('WAVEfmt ');
    const view = new DataView(bytes.buffer);
    expect(view.getUint32(4, true)).toBe(bytes.length - 8);
    expect(view.getUint32(24, true)).toBe(44100);
  });

  test('soundtrack: loop, 320 kbps / 48 kHz and a 60 s default; format per request', async () => {
    fake.enqueueTask({ pollsBeforeDone: 0 });
    const result = await adapter().generate(
      job({ description: 'Epic orchestral soundtrack for the boss fight', duration: null, format: 'mp3' }),
      recorder(),
    );
    expect(creates()[0]!.body.params).toEqual({
      tags: ['ambient', 'calm', 'epic', 'orchestral', 'boss', 'fight'],
      duration: 60,
      format: 'MP3',
      bitrate: 320,
      sample_rate: 48000,
      mode: 'soundtrack',
      loop: true,
    });
    expect(result.format).toBe('mp3');
    expect(result.file.contentType).toBe('audio/mpeg');
    expect(result.qualityScore).toBe(0.9);
    expect(result.model).toBe('mubert-soundtrack');
    expect(result.metadata).toMatchObject({ mode: 'soundtrack', tier: 'high', duration_seconds: 60 });
    const bytes = new Uint8Array(await (await fetch((result.file as { url: string }).url)).arrayBuffer());
    expect(new TextDecoder().decode(bytes.slice(0, 3))).toBe('ID3');
  });

  test('high quality is 320 kbps / 48 kHz without soundtrack mode; ogg', async () => {
    fake.enqueueTask({ pollsBeforeDone: 0 });
    const result = await adapter().generate(
      job({ quality: 'ultra', format: 'ogg', duration: 45 }),
      recorder(),
    );
    const params = creates()[0]!.body.params;
    expect(params).toMatchObject({
      format: 'OGG',
      bitrate: 320,
      sample_rate: 48000,
      mode: 'track',
      duration: 45,
    });
    expect(params.loop).toBeUndefined();
    expect(result.file.contentType).toBe('audio/ogg');
    expect(result.qualityScore).toBe(0.9);
  });

  test('resume after a restart: a new adapter instance finishes the same task', async () => {
    fake.enqueueTask({ pollsBeforeDone: 6 });
    let saved: { id: string; state?: Record<string, unknown> } | undefined;
    const ctx1 = recorder();
    ctx1.onTask = (id, state) => {
      saved = { id, state };
    };
    const running = adapter().generate(job(), ctx1);
    while (!saved || fake.polls(saved.id) < 2) await Bun.sleep(2);
    ctx1.controller.abort();
    expect((await failure(running)).reason).toBe('generation cancelled');

    const before = fake.polls(saved!.id);
    const ctx2 = recorder();
    const result = await adapter().resume(saved!.id, job(), ctx2, saved!.state);
    expect(creates()).toHaveLength(1);
    expect(ctx2.taskCalls).toHaveLength(0);
    expect(fake.polls(saved!.id)).toBeGreaterThan(before);
    expect(result.metadata.provider_task_id).toBe(saved!.id);
    expect(result.file).toMatchObject({ url: `${fake.origin}/files/${saved!.id}.wav` });
  });

  test('a failed task is a provider error; a moderation failure is a rejection', async () => {
    fake.enqueueTask({ pollsBeforeDone: 1, failMessage: 'Renderer crashed' });
    const err = await failure(adapter().generate(job(), recorder()));
    expect(err.kind).toBe('error');
    expect(err.provider).toBe('mubert');
    expect(err.reason).toBe('task failed: Renderer crashed');

    fake.enqueueTask({ pollsBeforeDone: 0, failMessage: 'Tags violate the content policy' });
    expect((await failure(adapter().generate(job(), recorder()))).kind).toBe('rejected');
  });

  test('HTTP and in-band failures', async () => {
    const bad = await failure(adapter({ apiKey: 'wrong-pat' }).generate(job(), recorder()));
    expect(bad.kind).toBe('error');
    expect(bad.reason).toContain('401');
    expect(bad.reason).not.toContain('wrong-pat');

    fake.enqueueError({ status: 429, on: 'create', retryAfter: '9' });
    const limited = await failure(adapter().generate(job(), recorder()));
    expect(limited.kind).toBe('rate_limited');
    expect(limited.opts.retryAfterS).toBe(9);

    fake.enqueueError({ status: 500, on: 'create' });
    const broken = await failure(adapter().generate(job(), recorder()));
    expect(broken.kind).toBe('error');
    expect(broken.reason).toContain('500');

    fake.enqueueError({
      status: 200,
      on: 'create',
      inBand: { code: 'LimitExceeded', text: 'Monthly limit reached' },
    });
    const inBand = await failure(adapter().generate(job(), recorder()));
    expect(inBand.kind).toBe('error');
    expect(inBand.reason).toBe('request refused (code LimitExceeded)');
    expect(creates()).toHaveLength(4);
  });

  test('transient poll failures are retried, persistent ones are not', async () => {
    fake.enqueueTask({ pollsBeforeDone: 1 });
    fake.enqueueError({ status: 503, on: 'poll' }, { status: 429, on: 'poll', retryAfter: '0' });
    const ok = await adapter().generate(job(), recorder());
    expect(ok.format).toBe('wav');

    fake.enqueueTask({ pollsBeforeDone: 1 });
    fake.enqueueError(...Array.from({ length: 4 }, () => ({ status: 500, on: 'poll' as const })));
    expect((await failure(adapter().generate(job(), recorder()))).reason).toContain('500');
  });

  test('overall timeout and abort', async () => {
    fake.enqueueTask({ stuck: true });
    const t0 = Date.now();
    const err = await failure(adapter({ timeoutMs: 120, pollMs: 20 }).generate(job(), recorder()));
    expect(err.kind).toBe('timeout');
    expect(err.reason).toBe('timed out after 1 s');
    expect(err.opts.timeoutS).toBe(1);
    expect(Date.now() - t0).toBeLessThan(2_000);

    fake.enqueueTask({ stuck: true });
    const ctx = recorder();
    const running = adapter({ pollMs: 10_000 }).generate(job(), ctx);
    while (ctx.taskCalls.length === 0) await Bun.sleep(2);
    const t1 = Date.now();
    ctx.controller.abort();
    expect((await failure(running)).kind).toBe('error');
    expect(Date.now() - t1).toBeLessThan(500);
  });
});
