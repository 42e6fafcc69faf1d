/**
 * Turning provider HTTP failures into `ProviderError`s, and those into the HTTP answers the asset service gives.
 *
 * Provider error bodies can echo parts of the key ("Incorrect API key provided: sk-ab***") or the prompt, so a
 * reason is built only from the status and, at most, a short machine code the provider sent — never from the
 * provider's free-text message.
 */
import { HttpError } from '../../../src/http/errors.ts';
import { ProviderError, type ProviderId } from '../types.ts';

/** Longest wait we pass on from a provider's `Retry-After` (a day): anything longer is nonsense. */
const MAX_RETRY_AFTER_S = 86_400;

/** `Retry-After` as whole seconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterSeconds(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.min(MAX_RETRY_AFTER_S, Math.ceil(Number(text)));
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.min(MAX_RETRY_AFTER_S, Math.max(0, Math.ceil((at - now) / 1000)));
}

const STATUS_WORDS: Record<number, string> = {
  400: 'bad request',
  401: 'authentication failed',
  402: 'payment required',
  403: 'forbidden',
  404: 'not found',
  408: 'request timeout',
  413: 'request too large',
  415: 'unsupported media type',
  422: 'request not accepted',
  500: 'server error',
  502: 'bad gateway',
  503: 'service unavailable',
  504: 'gateway timeout',
};

/** A provider's error code is kept only when it is a plain identifier, so it cannot smuggle text through. */
export function safeCode(code: unknown): string | undefined {
  return typeof code === 'string' && /^[A-Za-z][A-Za-z0-9_.-]{0,47}$/.test(code) ? code : undefined;
}

/** `HTTP 500 (server error, code server_error)`: status, a fixed description and a safe code. */
export function statusReason(status: number, code?: unknown): string {
  const words = STATUS_WORDS[status] ?? (status >= 500 ? 'server error' : 'request failed');
  const c = safeCode(code);
  return `HTTP ${status} (${words}${c ? `, code ${c}` : ''})`;
}

/**
 * The `ProviderError` for a non-2xx answer. `rejected` is decided by the adapter (each provider signals refused
 * prompts its own way); 429 carries the provider's `Retry-After`.
 */
export function httpFailure(
  provider: ProviderId,
  status: number,
  headers: Headers | undefined,
  opts: { code?: unknown; rejected?: string } = {},
): ProviderError {
  if (opts.rejected) return new ProviderError(provider, 'rejected', opts.rejected);
  if (status === 429) {
    const retryAfterS = retryAfterSeconds(headers?.get('retry-after'));
    return new ProviderError(
      provider,
      'rate_limited',
      statusReason(429, opts.code),
      retryAfterS === undefined ? {} : { retryAfterS },
    );
  }
  return new ProviderError(provider, 'error', statusReason(status, opts.code));
}

/** Reads a JSON error body without ever failing (bodies can be HTML from a proxy, or empty). */
export async function readErrorBody(res: Response): Promise<any> {
  try {
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

export interface CallLimits {
  /** Ceiling of the whole call, including reading the body. */
  timeoutMs: number;
  /** The job's own signal (shutdown, cancellation). */
  signal?: AbortSignal;
}

function timeoutSeconds(ms: number): number {
  return ms >= 1000 ? Math.round(ms / 1000) : Math.round(ms / 100) / 10;
}

/**
 * Runs one provider call under a timeout. The callback gets the signal to hand to fetch/the SDK; whatever it
 * throws comes out as a `ProviderError`: our timer (or a caller's `AbortSignal.timeout`) → `timeout`, another
 * abort → `error` "request cancelled", a network failure → `error` "connection failed".
 */
export async function withProviderCall<T>(
  provider: ProviderId,
  limits: CallLimits,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timer = new AbortController();
  let timedOut = false;
  const handle = setTimeout(() => {
    timedOut = true;
    timer.abort(new DOMException('provider call timed out', 'TimeoutError'));
  }, limits.timeoutMs);
  const signal = limits.signal ? AbortSignal.any([limits.signal, timer.signal]) : timer.signal;
  try {
    if (limits.signal?.aborted) throw limits.signal.reason ?? new DOMException('aborted', 'AbortError');
    return await fn(signal);
  } catch (err) {
    if (timedOut) {
      throw new ProviderError(provider, 'timeout', `no answer within ${timeoutSeconds(limits.timeoutMs)} s`, {
        timeoutS: timeoutSeconds(limits.timeoutMs),
      });
    }
    if (limits.signal?.aborted) {
      const reason = limits.signal.reason;
      if (reason instanceof DOMException && reason.name === 'TimeoutError') {
        throw new ProviderError(provider, 'timeout', 'the caller timed out the request', {
          timeoutS: timeoutSeconds(limits.timeoutMs),
        });
      }
      throw new ProviderError(provider, 'error', 'request cancelled');
    }
    if (err instanceof ProviderError) throw err;
    throw new ProviderError(provider, 'error', 'connection failed');
  } finally {
    clearTimeout(handle);
  }
}

/**
 * Reads a response body up to `maxBytes`; a larger body is abandoned mid-stream (the connection is cancelled)
 * rather than buffered, so a runaway provider cannot fill memory.
 */
export async function readCapped(provider: ProviderId, res: Response, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw new ProviderError(provider, 'error', `result larger than ${maxBytes} bytes`);
  }
  if (!res.body) return new Uint8Array(0);
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new ProviderError(provider, 'error', `result larger than ${maxBytes} bytes`);
    }
    parts.push(value);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Decodes base64 image data a provider returned, refusing anything that is not a PNG. */
export function decodePng(provider: ProviderId, b64: unknown): Uint8Array {
  if (typeof b64 !== 'string' || b64.length === 0)
    throw new ProviderError(provider, 'error', 'answer had no image');
  const bytes = Uint8Array.from(Buffer.from(b64, 'base64'));
  if (!isPng(bytes)) throw new ProviderError(provider, 'error', 'answer was not a PNG image');
  return bytes;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length > 24 && PNG_SIGNATURE.every((b, i) => bytes[i] === b);
}

/** Width and height from a PNG's IHDR (the first chunk), or null. */
export function pngSize(bytes: Uint8Array): { width: number; height: number } | null {
  if (!isPng(bytes)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

/** The asset service's answer for a provider failure. */
export function toHttpError(err: ProviderError): HttpError {
  const p = err.provider;
  switch (err.kind) {
    case 'rejected':
      return new HttpError(422, `Provider ${p} rejected the prompt: ${err.reason}`);
    case 'timeout':
      return new HttpError(504, `Provider ${p} timed out after ${err.opts.timeoutS ?? 0} s`);
    case 'rate_limited':
      return new HttpError(503, `Provider ${p} is rate limiting; retry later`, {
        headers: err.opts.retryAfterS === undefined ? {} : { 'Retry-After': String(err.opts.retryAfterS) },
      });
    case 'download_refused':
      return new HttpError(502, `Provider ${p} returned a disallowed download URL`);
    default:
      return new HttpError(502, `Provider ${p} failed: ${err.reason}`);
  }
}
