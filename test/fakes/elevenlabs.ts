/**
 * A wire-true fake of ElevenLabs' audio endpoints on a loopback port: `POST /v1/music` and
 * `POST /v1/sound-generation`, authenticated by the `xi-api-key` header, answering `audio/mpeg` bytes (an ID3
 * tag followed by real MPEG-1 Layer III frame headers). Errors use ElevenLabs' `{"detail":{"status","message"}}`
 * body; body validation failures use its 422 `{"detail":[{loc,msg,type}]}` shape.
 *
 * Tests script replies (FIFO; empty → success): statuses, 429 with `Retry-After`, a `bad_prompt` refusal,
 * delays, hangs, a non-audio body, or an oversized body. Every request is recorded with its JSON body.
 */

/** A small valid MP3: an empty ID3v2.4 tag and `frames` silent 128 kbps / 44.1 kHz frames (417 bytes each). */
export function makeMp3(frames = 2): Uint8Array {
  const frameLen = Math.floor((144 * 128_000) / 44_100);
  const out = new Uint8Array(10 + frames * frameLen);
  out.set([0x49, 0x44, 0x33, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
  for (let i = 0; i < frames; i++) out.set([0xff, 0xfb, 0x90, 0x64], 10 + i * frameLen);
  return out;
}

export interface ElevenLabsScript {
  status?: number;
  /** `detail.status` of the error body. */
  detailStatus?: string;
  retryAfter?: string;
  /** 400 with `detail.status: "bad_prompt"` (the music API's refusal of copyrighted or unsafe prompts). */
  badPrompt?: boolean;
  delayMs?: number;
  hang?: boolean;
  /** Replace the audio bytes (e.g. an HTML page, to test the MP3 check). */
  body?: Uint8Array;
  contentType?: string;
  /** Number of MP3 frames in the default body. */
  frames?: number;
}

export interface RecordedElevenLabsRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: any;
  aborted: boolean;
}

export interface FakeElevenLabs {
  /** Base URL without a version (`ELEVENLABS_API_BASE`). */
  readonly url: string;
  readonly apiKey: string;
  readonly requests: RecordedElevenLabsRequest[];
  enqueue(...scripts: ElevenLabsScript[]): void;
  reset(): void;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function detailError(
  status: number,
  detailStatus: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return Response.json({ detail: { status: detailStatus, message } }, { status, headers });
}

function validationError(loc: string, msg: string): Response {
  return Response.json({ detail: [{ loc: ['body', loc], msg, type: 'value_error' }] }, { status: 422 });
}

function validate(path: string, body: any): Response | null {
  if (!body || typeof body !== 'object')
    return validationError('body', 'Input should be a valid JSON object');
  if (path === '/v1/music') {
    if (typeof body.prompt !== 'string' || !body.prompt) return validationError('prompt', 'Field required');
    if (
      body.music_length_ms !== undefined &&
      (!Number.isInteger(body.music_length_ms) || body.music_length_ms <= 0)
    )
      return validationError('music_length_ms', 'Input should be a positive integer');
    if (body.force_instrumental !== undefined && typeof body.force_instrumental !== 'boolean')
      return validationError('force_instrumental', 'Input should be a valid boolean');
    return null;
  }
  if (typeof body.text !== 'string' || !body.text) return validationError('text', 'Field required');
  if (body.duration_seconds !== undefined && body.duration_seconds !== null) {
    const d = body.duration_seconds;
    if (typeof d !== 'number' || d < 0.5 || d > 30)
      return validationError('duration_seconds', 'Input should be between 0.5 and 30');
  }
  if (
    body.prompt_influence !== undefined &&
    (typeof body.prompt_influence !== 'number' || body.prompt_influence < 0 || body.prompt_influence > 1)
  )
    return validationError('prompt_influence', 'Input should be between 0 and 1');
  return null;
}

export async function startFakeElevenLabs(opts: { apiKey?: string } = {}): Promise<FakeElevenLabs> {
  const apiKey = opts.apiKey ?? 'xi-fake-elevenlabs-key';
  const queue: ElevenLabsScript[] = [];
  const requests: RecordedElevenLabsRequest[] = [];
  let songs = 0;

  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const headers: Record<string, string> = {};
      req.headers.forEach((v, k) => {
        headers[k] = v;
      });
      const rec: RecordedElevenLabsRequest = {
        method: req.method,
        path: url.pathname,
        headers,
        body: undefined,
        aborted: false,
      };
      req.signal.addEventListener('abort', () => {
        rec.aborted = true;
      });
      requests.push(rec);

      if (req.method !== 'POST' || (url.pathname !== '/v1/music' && url.pathname !== '/v1/sound-generation'))
        return Response.json({ detail: 'Not Found' }, { status: 404 });
      rec.body = await req.json().catch(() => null);
      const key = req.headers.get('xi-api-key');
      if (!key)
        return detailError(
          401,
          'needs_authorization',
          'Neither authorization header nor xi-api-key received, please provide one.',
        );
      if (key !== apiKey) return detailError(401, 'invalid_api_key', 'Invalid API key');

      const script = queue.shift() ?? {};
      if (script.hang) {
        await new Promise<void>((r) => req.signal.addEventListener('abort', () => r()));
        return new Response(null, { status: 499 });
      }
      if (script.delayMs) await sleep(script.delayMs);
      const invalid = validate(url.pathname, rec.body);
      if (invalid) return invalid;
      if (script.badPrompt)
        return Response.json(
          {
            detail: {
              status: 'bad_prompt',
              message: 'The prompt violates our Terms of Service.',
              data: { prompt_suggestion: 'An upbeat instrumental track' },
            },
          },
          { status: 400 },
        );
      if (script.status && script.status >= 400) {
        const s = script.status;
        const detailStatus =
          script.detailStatus ??
          (s === 429
            ? 'too_many_concurrent_requests'
            : s >= 500
              ? 'internal_server_error'
              : 'invalid_request');
        return detailError(
          s,
          detailStatus,
          `fake elevenlabs ${detailStatus}`,
          script.retryAfter ? { 'retry-after': script.retryAfter } : {},
        );
      }
      const audio = script.body ?? makeMp3(script.frames ?? 2);
      const out: Record<string, string> = { 'content-type': script.contentType ?? 'audio/mpeg' };
      if (url.pathname === '/v1/music') out['song-id'] = `song_fake${++songs}`;
      return new Response(Buffer.from(audio), { headers: out });
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    apiKey,
    requests,
    enqueue(...scripts) {
      queue.push(...scripts);
    },
    reset() {
      queue.length = 0;
      requests.length = 0;
    },
    async stop() {
      await server.stop(true);
    },
  };
}
