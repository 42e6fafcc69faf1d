/**
 * A wire-true fake of the Mubert B2B music API on a loopback port: `POST /v2/generate` with
 * `{"method":"GenerateTrackByTags","params":{…}}` → `{"status":1,"data":{"id","status":"processing"}}`, and
 * `GET /v2/task/{id}` → `{"status":1,"data":{"id","status","progress","download_url",…}}`. Finished tracks are
 * served by the fake itself under `/files/` (a real PCM WAV at the requested sample rate; MP3 and OGG files
 * with their real headers).
 *
 * Task state lives in the fake, so a test can drop one adapter mid-poll and resume the task with another.
 * Created tasks take the next scripted behaviour from a FIFO; HTTP errors (401, 429 + Retry-After, 500) and
 * Mubert's in-band failure (HTTP 200, `{"status":2,"error":{"code","text"}}`) can be queued.
 */

export const FAKE_MUBERT_KEY = 'mubert-fake-pat-0123456789';

export interface MubertTaskScript {
  /** Polls answered `processing` before the track is ready (default 2). */
  pollsBeforeDone?: number;
  /** End as `failed` with this error text. */
  failMessage?: string;
  /** Never finish. */
  stuck?: boolean;
  bpm?: number;
  key?: string;
}

export interface MubertErrorScript {
  /** An HTTP status, or 200 with `inBand` for Mubert's `status: 2` answers. */
  status: number;
  on?: 'create' | 'poll' | 'any';
  retryAfter?: string;
  inBand?: { code: number | string; text: string };
}

export interface FakeMubertTask {
  id: string;
  params: any;
  key: string;
  polls: number;
  script: MubertTaskScript;
}

export interface MubertRecordedRequest {
  method: string;
  path: string;
  authorization: string | null;
  body: any;
}

export interface FakeMubert {
  /** API base as the adapter expects it (`…/v2`). */
  readonly url: string;
  readonly origin: string;
  readonly requests: MubertRecordedRequest[];
  readonly tasks: Map<string, FakeMubertTask>;
  keys: Set<string>;
  enqueueTask(...scripts: MubertTaskScript[]): void;
  enqueueError(...errors: MubertErrorScript[]): void;
  polls(taskId: string): number;
  stop(): Promise<void>;
}

/** A mono 16-bit PCM WAV of a short 440 Hz tone: RIFF/WAVE, `fmt ` and `data` chunks. */
export function tinyWav(sampleRate = 44_100, seconds = 0.05): Uint8Array<ArrayBuffer> {
  const samples = Math.round(sampleRate * seconds);
  const dataBytes = samples * 2;
  const out = new Uint8Array(44 + dataBytes);
  const v = new DataView(out.buffer);
  const ascii = (at: number, s: string) => {
    for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  v.setUint32(4, 36 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); // PCM
  v.setUint16(22, 1, true); // mono
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * 2, true);
  v.setUint16(32, 2, true);
  v.setUint16(34, 16, true);
  ascii(36, 'data');
  v.setUint32(40, dataBytes, true);
  for (let i = 0; i < samples; i++) {
    v.setInt16(44 + i * 2, Math.round(Math.sin((2 * Math.PI * 440 * i) / sampleRate) * 8000), true);
  }
  return out;
}

/** An ID3v2.3 tag followed by one silent MPEG-1 Layer III frame (128 kbps, 44.1 kHz: 417 bytes). */
function tinyMp3(): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(10 + 417);
  out.set([0x49, 0x44, 0x33, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00], 0);
  out.set([0xff, 0xfb, 0x90, 0x64], 10);
  return out;
}

/** An Ogg page header (capture pattern `OggS`, version 0, beginning-of-stream flag) with no segments. */
function tinyOgg(): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(27);
  out.set([0x4f, 0x67, 0x67, 0x53, 0x00, 0x02], 0);
  return out;
}

export async function startFakeMubert(): Promise<FakeMubert> {
  const taskQueue: MubertTaskScript[] = [];
  const errorQueue: MubertErrorScript[] = [];
  const requests: MubertRecordedRequest[] = [];
  const tasks = new Map<string, FakeMubertTask>();
  const state = { keys: new Set([FAKE_MUBERT_KEY]) };
  let counter = 0;

  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const body = req.method === 'POST' ? await req.json().catch(() => undefined) : undefined;
      requests.push({
        method: req.method,
        path: url.pathname,
        authorization: req.headers.get('authorization'),
        body,
      });

      if (req.method === 'GET' && url.pathname.startsWith('/files/')) return serveFile(url.pathname.slice(7));
      const isCreate = req.method === 'POST' && url.pathname === '/v2/generate';
      const pollMatch = /^\/v2\/task\/([^/]+)$/.exec(url.pathname);
      const isPoll = req.method === 'GET' && pollMatch !== null;
      if (!isCreate && !isPoll)
        return Response.json({ status: 2, error: { code: 404, text: 'Not found' } }, { status: 404 });

      const errIdx = errorQueue.findIndex(
        (e) => (e.on ?? 'any') === 'any' || (e.on === 'create' && isCreate) || (e.on === 'poll' && isPoll),
      );
      if (errIdx >= 0) {
        const e = errorQueue.splice(errIdx, 1)[0]!;
        const error = e.inBand ?? {
          code: e.status,
          text: e.status === 429 ? 'Too many requests' : 'Server error',
        };
        return Response.json(
          { status: 2, error },
          { status: e.status, headers: e.retryAfter ? { 'retry-after': e.retryAfter } : {} },
        );
      }

      const auth = req.headers.get('authorization') ?? '';
      const key = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      if (!state.keys.has(key)) {
        return Response.json(
          { status: 2, error: { code: 401, text: 'Invalid access token' } },
          { status: 401 },
        );
      }

      if (isCreate) return create(body, key, url.origin);
      const task = tasks.get(decodeURIComponent(pollMatch![1]!));
      if (!task || task.key !== key) {
        return Response.json({ status: 2, error: { code: 404, text: 'Task not found' } }, { status: 404 });
      }
      task.polls++;
      return Response.json({ status: 1, data: view(task, url.origin) });
    },
  });

  function invalid(text: string): Response {
    return Response.json({ status: 2, error: { code: 400, text } }, { status: 400 });
  }

  function create(body: any, key: string, origin: string): Response {
    if (body?.method !== 'GenerateTrackByTags') return invalid('Unknown method');
    const p = body.params;
    if (!p || typeof p !== 'object') return invalid('params required');
    if (
      !Array.isArray(p.tags) ||
      p.tags.length === 0 ||
      !p.tags.every((t: unknown) => typeof t === 'string' && t)
    ) {
      return invalid('tags must be a non-empty list of strings');
    }
    if (!Number.isInteger(p.duration) || p.duration < 15 || p.duration > 600)
      return invalid('invalid duration');
    if (!['WAV', 'MP3', 'OGG'].includes(p.format)) return invalid('invalid format');
    if (![128, 192, 256, 320].includes(p.bitrate)) return invalid('invalid bitrate');
    if (![44_100, 48_000].includes(p.sample_rate)) return invalid('invalid sample_rate');
    if (p.mode !== 'track' && p.mode !== 'soundtrack') return invalid('invalid mode');
    const id = `mub-${++counter}-${crypto.randomUUID().slice(0, 8)}`;
    const task: FakeMubertTask = { id, params: p, key, polls: 0, script: taskQueue.shift() ?? {} };
    tasks.set(id, task);
    return Response.json({ status: 1, data: view(task, origin) });
  }

  function status(task: FakeMubertTask): string {
    const needed = task.script.pollsBeforeDone ?? 2;
    if (task.script.stuck || task.polls <= needed) return 'processing';
    return task.script.failMessage !== undefined ? 'failed' : 'completed';
  }

  function view(task: FakeMubertTask, origin: string): Record<string, unknown> {
    const st = status(task);
    const needed = task.script.pollsBeforeDone ?? 2;
    const ext = String(task.params.format).toLowerCase();
    return {
      id: task.id,
      status: st,
      progress: st === 'completed' ? 100 : Math.min(99, Math.round((task.polls / (needed + 1)) * 100)),
      download_url: st === 'completed' ? `${origin}/files/${task.id}.${ext}` : null,
      duration: task.params.duration,
      ...(st === 'completed' ? { bpm: task.script.bpm ?? 96, key: task.script.key ?? 'A minor' } : {}),
      ...(st === 'failed' ? { error: task.script.failMessage } : {}),
    };
  }

  function serveFile(name: string): Response {
    const m = /^(.+)\.(wav|mp3|ogg)$/.exec(name);
    const task = m ? tasks.get(m[1]!) : undefined;
    if (!m || !task || status(task) !== 'completed') return new Response('Not Found', { status: 404 });
    const files: Record<string, [Uint8Array<ArrayBuffer>, string]> = {
      wav: [tinyWav(task.params.sample_rate), 'audio/wav'],
      mp3: [tinyMp3(), 'audio/mpeg'],
      ogg: [tinyOgg(), 'audio/ogg'],
    };
    const [bytes, type] = files[m[2]!]!;
    return new Response(bytes, { headers: { 'content-type': type } });
  }

  const origin = `http://127.0.0.1:${server.port}`;
  return {
    url: `${origin}/v2`,
    origin,
    requests,
    tasks,
    get keys() {
      return state.keys;
    },
    set keys(v) {
      state.keys = v;
    },
    enqueueTask: (...s) => {
      taskQueue.push(...s);
    },
    enqueueError: (...e) => {
      errorQueue.push(...e);
    },
    polls: (id) => tasks.get(id)?.polls ?? 0,
    stop: async () => {
      await server.stop(true);
    },
  };
}
