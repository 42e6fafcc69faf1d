/**
 * A wire-true fake of OpenAI's image API on a loopback port: `POST /v1/images/generations` for `gpt-image-*`
 * (base64 PNG plus `usage`) and `dall-e-3` (base64 plus `revised_prompt`). It checks the bearer key and the
 * request fields the way the real API does (unknown sizes, `response_format` sent to a gpt-image model,
 * `output_format` sent to DALL·E 3 → 400), so an adapter that drifts from the wire shape fails here.
 *
 * Tests script the replies (FIFO; an empty queue answers with a success): error statuses with OpenAI error
 * bodies, 429 with `Retry-After`, safety refusals, delays and hangs. Every request is recorded.
 */
import { PNG } from 'pngjs';

/** A small, valid RGB PNG of a solid colour (what the fakes hand back as "generated" images). */
export function makePng(width = 16, height = 16, rgb: [number, number, number] = [40, 120, 200]): Uint8Array {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i++) {
    png.data[i * 4] = rgb[0];
    png.data[i * 4 + 1] = rgb[1];
    png.data[i * 4 + 2] = rgb[2];
    png.data[i * 4 + 3] = 255;
  }
  return Uint8Array.from(PNG.sync.write(png, { colorType: 2 }));
}

export interface ImageScript {
  /** Answer with this status and an OpenAI error body. */
  status?: number;
  /** `error.code` of the error body (e.g. `content_policy_violation`, `rate_limit_exceeded`). */
  code?: string | null;
  errorType?: string;
  errorMessage?: string;
  /** `Retry-After` header value (429s). */
  retryAfter?: string;
  /** Shortcut: a 400 safety refusal with the model family's code. */
  refuse?: boolean;
  delayMs?: number;
  /** Never answer (until the client gives up). */
  hang?: boolean;
  /** Send the headers, then stall before the body. */
  stallBody?: boolean;
  /** The image returned (default: a small PNG). */
  image?: Uint8Array;
  /** Replace the whole `b64_json` (e.g. garbage). */
  b64?: string;
  revisedPrompt?: string;
  usage?: Record<string, unknown> | null;
}

export interface RecordedImageRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: any;
  aborted: boolean;
}

export interface FakeOpenAIImages {
  /** Base URL including `/v1`. */
  readonly url: string;
  readonly apiKey: string;
  readonly requests: RecordedImageRequest[];
  enqueue(...scripts: ImageScript[]): void;
  reset(): void;
  stop(): Promise<void>;
}

const GPT_IMAGE_SIZES = new Set(['1024x1024', '1536x1024', '1024x1536', 'auto']);
const GPT_IMAGE_QUALITIES = new Set(['low', 'medium', 'high', 'auto']);
const DALLE3_SIZES = new Set(['1024x1024', '1792x1024', '1024x1792']);
const DALLE3_QUALITIES = new Set(['standard', 'hd']);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function errorResponse(
  status: number,
  message: string,
  type: string,
  code: string | null,
  param: string | null = null,
  headers: Record<string, string> = {},
): Response {
  return Response.json({ error: { message, type, param, code } }, { status, headers });
}

/** What the real API says about a malformed body, or null when it is acceptable. */
function validate(body: any): Response | null {
  if (!body || typeof body !== 'object')
    return errorResponse(
      400,
      'We could not parse the JSON body of your request.',
      'invalid_request_error',
      null,
    );
  if (typeof body.prompt !== 'string' || !body.prompt)
    return errorResponse(
      400,
      "Missing required parameter: 'prompt'.",
      'invalid_request_error',
      'missing_required_parameter',
      'prompt',
    );
  const model = typeof body.model === 'string' ? body.model : 'dall-e-2';
  if (body.n !== undefined && body.n !== 1 && model.startsWith('dall-e-3'))
    return errorResponse(400, 'You must provide n=1 for this model.', 'invalid_request_error', null, 'n');
  if (model.startsWith('dall-e-3')) {
    if (body.size !== undefined && !DALLE3_SIZES.has(body.size))
      return errorResponse(
        400,
        `'${body.size}' is not one of ['1024x1024', '1024x1792', '1792x1024'] - 'size'`,
        'invalid_request_error',
        null,
        'size',
      );
    if (body.quality !== undefined && !DALLE3_QUALITIES.has(body.quality))
      return errorResponse(
        400,
        `Invalid quality '${body.quality}'.`,
        'invalid_request_error',
        null,
        'quality',
      );
    if (body.output_format !== undefined)
      return errorResponse(
        400,
        "Unknown parameter: 'output_format'.",
        'invalid_request_error',
        'unknown_parameter',
        'output_format',
      );
    return null;
  }
  if (model.startsWith('gpt-image')) {
    if (body.size !== undefined && !GPT_IMAGE_SIZES.has(body.size))
      return errorResponse(
        400,
        `Invalid value: '${body.size}'. Supported values are: '1024x1024', '1024x1536', '1536x1024', and 'auto'.`,
        'invalid_request_error',
        'invalid_value',
        'size',
      );
    if (body.quality !== undefined && !GPT_IMAGE_QUALITIES.has(body.quality))
      return errorResponse(
        400,
        `Invalid value: '${body.quality}'. Supported values are: 'low', 'medium', 'high', and 'auto'.`,
        'invalid_request_error',
        'invalid_value',
        'quality',
      );
    if (body.response_format !== undefined)
      return errorResponse(
        400,
        "Unknown parameter: 'response_format'.",
        'invalid_request_error',
        'unknown_parameter',
        'response_format',
      );
    return null;
  }
  return errorResponse(
    404,
    `The model '${model}' does not exist or you do not have access to it.`,
    'invalid_request_error',
    'model_not_found',
  );
}

export async function startFakeOpenAIImages(opts: { apiKey?: string } = {}): Promise<FakeOpenAIImages> {
  const apiKey = opts.apiKey ?? 'sk-fake-images-key';
  const queue: ImageScript[] = [];
  const requests: RecordedImageRequest[] = [];

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
      const rec: RecordedImageRequest = {
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

      if (req.method !== 'POST' || url.pathname !== '/v1/images/generations')
        return errorResponse(
          404,
          `Invalid URL (${req.method} ${url.pathname})`,
          'invalid_request_error',
          null,
        );
      const text = await req.text();
      try {
        rec.body = JSON.parse(text);
      } catch {
        rec.body = text;
      }
      if (req.headers.get('authorization') !== `Bearer ${apiKey}`)
        return errorResponse(
          401,
          'Incorrect API key provided: sk-***. You can find your API key at https://platform.openai.com/account/api-keys.',
          'invalid_request_error',
          'invalid_api_key',
        );

      const script = queue.shift() ?? {};
      if (script.hang) {
        await new Promise<void>((r) => req.signal.addEventListener('abort', () => r()));
        return new Response(null, { status: 499 });
      }
      if (script.delayMs) await sleep(script.delayMs);
      const invalid = validate(rec.body);
      if (invalid) return invalid;
      const model: string = rec.body.model;
      const dalle = model.startsWith('dall-e');

      if (script.refuse)
        return errorResponse(
          400,
          dalle
            ? 'Your request was rejected as a result of our safety system. Your prompt may contain text that is not allowed by our safety system.'
            : 'Your request was rejected by the safety system. If you believe this is an error, contact us at help.openai.com.',
          dalle ? 'invalid_request_error' : 'image_generation_user_error',
          dalle ? 'content_policy_violation' : 'moderation_blocked',
        );
      if (script.status && script.status >= 400) {
        const s = script.status;
        return errorResponse(
          s,
          script.errorMessage ??
            (s === 429
              ? 'Rate limit reached for images per minute.'
              : 'The server had an error while processing your request.'),
          script.errorType ?? (s === 429 ? 'requests' : s >= 500 ? 'server_error' : 'invalid_request_error'),
          script.code !== undefined ? script.code : s === 429 ? 'rate_limit_exceeded' : null,
          null,
          script.retryAfter ? { 'retry-after': script.retryAfter } : {},
        );
      }

      const b64 = script.b64 ?? Buffer.from(script.image ?? makePng()).toString('base64');
      const created = Math.floor(Date.now() / 1000);
      const payload: Record<string, unknown> = dalle
        ? {
            created,
            data: [
              {
                b64_json: b64,
                revised_prompt: script.revisedPrompt ?? `A detailed rendering: ${rec.body.prompt}`,
              },
            ],
          }
        : {
            created,
            background: 'opaque',
            data: [{ b64_json: b64 }],
            output_format: rec.body.output_format ?? 'png',
            quality: rec.body.quality ?? 'auto',
            size: rec.body.size ?? '1024x1024',
          };
      if (!dalle && script.usage !== null) {
        const textTokens = Math.max(1, Math.ceil(String(rec.body.prompt).length / 4));
        const outputTokens = { low: 272, medium: 1056, high: 4160 }[rec.body.quality as 'low'] ?? 1056;
        payload.usage = script.usage ?? {
          input_tokens: textTokens,
          input_tokens_details: { image_tokens: 0, text_tokens: textTokens },
          output_tokens: outputTokens,
          total_tokens: textTokens + outputTokens,
        };
      }
      const json = JSON.stringify(payload);
      if (script.stallBody) {
        const enc = new TextEncoder();
        const stream = new ReadableStream<Uint8Array>({
          async start(controller) {
            controller.enqueue(enc.encode(json.slice(0, 10)));
            await new Promise<void>((r) => req.signal.addEventListener('abort', () => r()));
            controller.close();
          },
        });
        return new Response(stream, { headers: { 'content-type': 'application/json' } });
      }
      return new Response(json, {
        headers: { 'content-type': 'application/json', 'x-request-id': `req_fake${requests.length}` },
      });
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}/v1`,
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
