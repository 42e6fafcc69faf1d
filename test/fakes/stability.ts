/**
 * A wire-true fake of Stability AI on a loopback port:
 * - `POST /v2beta/stable-image/generate/{core|sd3|ultra}`: multipart form (`prompt`, `output_format`,
 *   `aspect_ratio`, `model` on sd3), answering `{"image","finish_reason","seed"}` with `Accept: application/json`
 *   or raw image bytes (with `finish-reason`/`seed` headers) with `Accept: image/*`, as the real API does;
 * - `POST /v1/generation/{engine}/text-to-image`: the legacy JSON API answering `{"artifacts":[…]}`.
 * Error bodies follow Stability's shapes (`{"id","name","errors":[…]}` on v2beta, `{"id","name","message"}` on
 * v1). The returned PNG has the aspect of the request (small, to keep tests fast).
 *
 * Tests script replies (FIFO; empty → success) and read every recorded request, with the parsed form fields.
 */
import { makePng } from './openai-images.ts';

export interface StabilityScript {
  status?: number;
  /** `name` of the error body (`bad_request`, `content_moderation`, `rate_limit_exceeded`, …). */
  name?: string;
  retryAfter?: string;
  /** 200 with `finish_reason: CONTENT_FILTERED` (v1: `finishReason`). */
  filtered?: boolean;
  /** 403 `content_moderation` (v2beta's refusal before generation). */
  moderated?: boolean;
  delayMs?: number;
  hang?: boolean;
  image?: Uint8Array;
  seed?: number;
}

export interface RecordedStabilityRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** Multipart fields (v2beta) as strings. */
  form: Record<string, string> | null;
  /** JSON body (v1). */
  json: any;
  aborted: boolean;
}

export interface FakeStability {
  /** Base URL without a version (`STABILITY_API_BASE`). */
  readonly url: string;
  readonly apiKey: string;
  readonly requests: RecordedStabilityRequest[];
  enqueue(...scripts: StabilityScript[]): void;
  reset(): void;
  stop(): Promise<void>;
}

const V2_TIERS = new Set(['core', 'sd3', 'ultra']);
const ASPECTS: Record<string, [number, number]> = {
  '1:1': [32, 32],
  '16:9': [56, 32],
  '9:16': [32, 56],
  '21:9': [64, 28],
  '2:3': [32, 48],
  '3:2': [48, 32],
  '4:5': [32, 40],
  '5:4': [40, 32],
  '9:21': [28, 64],
};
const SD3_MODELS = new Set(['sd3.5-large', 'sd3.5-large-turbo', 'sd3.5-medium', 'sd3.5-flash']);
const V1_DIMENSIONS = new Set([
  '1024x1024',
  '1152x896',
  '896x1152',
  '1216x832',
  '1344x768',
  '768x1344',
  '1536x640',
  '640x1536',
  '832x1216',
]);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function v2Error(
  status: number,
  name: string,
  errors: string[],
  headers: Record<string, string> = {},
): Response {
  return Response.json({ id: crypto.randomUUID().replaceAll('-', ''), name, errors }, { status, headers });
}

function v1Error(
  status: number,
  name: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return Response.json({ id: crypto.randomUUID().replaceAll('-', ''), name, message }, { status, headers });
}

export async function startFakeStability(opts: { apiKey?: string } = {}): Promise<FakeStability> {
  const apiKey = opts.apiKey ?? 'sk-fake-stability-key';
  const queue: StabilityScript[] = [];
  const requests: RecordedStabilityRequest[] = [];
  let seedCounter = 1000;

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
      const rec: RecordedStabilityRequest = {
        method: req.method,
        path: url.pathname,
        headers,
        form: null,
        json: undefined,
        aborted: false,
      };
      req.signal.addEventListener('abort', () => {
        rec.aborted = true;
      });
      requests.push(rec);

      const v2 = url.pathname.match(/^\/v2beta\/stable-image\/generate\/([^/]+)$/);
      const v1 = url.pathname.match(/^\/v1\/generation\/([^/]+)\/text-to-image$/);
      if (req.method !== 'POST' || (!v2 && !v1))
        return v2Error(404, 'not_found', [`${url.pathname} not found`]);

      if (v2) {
        if (!(req.headers.get('content-type') ?? '').startsWith('multipart/form-data'))
          return v2Error(400, 'bad_request', ['content-type: must be multipart/form-data']);
        const fd = await req.formData();
        rec.form = {};
        for (const [k, v] of fd.entries())
          rec.form[k] = typeof v === 'string' ? v : `<file ${(v as Blob).size} bytes>`;
      } else {
        rec.json = await req.json().catch(() => null);
      }

      const auth = req.headers.get('authorization') ?? '';
      if (!auth.startsWith('Bearer ') || auth.slice(7) !== apiKey)
        return v2
          ? v2Error(401, 'unauthorized', ['authorization: invalid or missing API key'])
          : v1Error(401, 'unauthorized', 'Incorrect API key provided');

      const script = queue.shift() ?? {};
      if (script.hang) {
        await new Promise<void>((r) => req.signal.addEventListener('abort', () => r()));
        return new Response(null, { status: 499 });
      }
      if (script.delayMs) await sleep(script.delayMs);
      const seed = script.seed ?? ++seedCounter;

      if (v2) {
        const tier = v2[1] as string;
        const form = rec.form as Record<string, string>;
        if (!V2_TIERS.has(tier)) return v2Error(404, 'not_found', [`unknown endpoint ${tier}`]);
        if (!form.prompt) return v2Error(400, 'bad_request', ['prompt: cannot be empty']);
        if (form.prompt.length > 10_000)
          return v2Error(400, 'bad_request', ['prompt: must be at most 10000 characters']);
        const aspect = form.aspect_ratio ?? '1:1';
        if (!ASPECTS[aspect]) return v2Error(400, 'bad_request', [`aspect_ratio: invalid value ${aspect}`]);
        const fmt = form.output_format ?? 'png';
        if (!['png', 'jpeg', 'webp'].includes(fmt))
          return v2Error(400, 'bad_request', ['output_format: invalid value']);
        if (tier === 'sd3' && form.model && !SD3_MODELS.has(form.model))
          return v2Error(400, 'bad_request', [`model: invalid value ${form.model}`]);
        const accept = req.headers.get('accept') ?? '';
        if (accept && accept !== 'application/json' && !accept.startsWith('image/'))
          return v2Error(400, 'bad_request', ['accept: must be image/* or application/json']);

        if (script.moderated)
          return v2Error(403, 'content_moderation', [
            'Your request was flagged by our content moderation system, as a result your request was denied and you were not charged.',
          ]);
        if (script.status && script.status >= 400) {
          const name =
            script.name ??
            (script.status === 429
              ? 'rate_limit_exceeded'
              : script.status >= 500
                ? 'internal_error'
                : 'bad_request');
          return v2Error(
            script.status,
            name,
            [`fake stability ${name}`],
            script.retryAfter ? { 'retry-after': script.retryAfter } : {},
          );
        }
        const [w, h] = ASPECTS[aspect] as [number, number];
        const image = script.image ?? makePng(w, h);
        const finish = script.filtered ? 'CONTENT_FILTERED' : 'SUCCESS';
        if (accept.startsWith('image/'))
          return new Response(Buffer.from(image), {
            headers: { 'content-type': 'image/png', 'finish-reason': finish, seed: String(seed) },
          });
        return Response.json({ image: Buffer.from(image).toString('base64'), finish_reason: finish, seed });
      }

      const body = rec.json;
      if (!body || !Array.isArray(body.text_prompts) || !body.text_prompts[0]?.text)
        return v1Error(400, 'invalid_prompts', 'text_prompts: cannot be empty');
      const dims = `${body.width ?? 1024}x${body.height ?? 1024}`;
      if (!V1_DIMENSIONS.has(dims))
        return v1Error(
          400,
          'invalid_height_or_width',
          `for 1024 engines, dimensions must be one of the allowed sizes, got ${dims}`,
        );
      if (script.status && script.status >= 400) {
        const name =
          script.name ??
          (script.status === 429
            ? 'rate_limit_exceeded'
            : script.status >= 500
              ? 'server_error'
              : 'bad_request');
        return v1Error(
          script.status,
          name,
          `fake stability ${name}`,
          script.retryAfter ? { 'retry-after': script.retryAfter } : {},
        );
      }
      const image =
        script.image ??
        makePng(Math.round((body.width ?? 1024) / 32), Math.round((body.height ?? 1024) / 32));
      return Response.json({
        artifacts: [
          {
            base64: Buffer.from(image).toString('base64'),
            seed,
            finishReason: script.filtered ? 'CONTENT_FILTERED' : 'SUCCESS',
          },
        ],
      });
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
