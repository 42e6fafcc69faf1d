/**
 * Provider failures, normalized so the engine can decide on fallback and tell clients
 * something useful without ever leaking keys or provider URLs.
 */

export type ProviderErrorKind = 'http' | 'timeout' | 'connection' | 'stream' | 'aborted';

export class ProviderError extends Error {
  override readonly name = 'ProviderError';
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly status?: number,
    /** The provider's own message, scrubbed (shown for 400-class rejections). */
    readonly providerMessage?: string,
  ) {
    super(message);
  }

  /** Worth trying another provider: connection, timeout, 401/403/408/409/429/5xx, broken streams. */
  get retryable(): boolean {
    if (this.kind === 'timeout' || this.kind === 'connection' || this.kind === 'stream') return true;
    if (this.kind !== 'http' || this.status === undefined) return false;
    return [401, 403, 408, 409, 429].includes(this.status) || this.status >= 500;
  }

  /** The provider rejected the request itself (400/404/413/422 give the client a 400). */
  get rejected(): boolean {
    return this.kind === 'http' && [400, 404, 413, 422].includes(this.status ?? 0);
  }

  /** `provider_error` or `provider_timeout`, as in the SSE error events. */
  get type(): 'provider_error' | 'provider_timeout' {
    return this.kind === 'timeout' ? 'provider_timeout' : 'provider_error';
  }

  /** A short human sentence for SSE error events. */
  get clientMessage(): string {
    if (this.kind === 'timeout') return 'The language model provider timed out.';
    if (this.kind === 'connection') return 'The language model provider could not be reached.';
    if (this.status) return `The language model provider failed (HTTP ${this.status}).`;
    return 'The language model provider failed.';
  }

  /** The `<summary>` of `Chat completion failed: <summary>`. */
  get summary(): string {
    if (this.kind === 'timeout') return 'provider timed out';
    if (this.kind === 'connection') return 'provider unreachable';
    if (this.status) return `provider returned HTTP ${this.status}`;
    return 'provider error';
  }

  /** The ledger/fallback name of the failure: `HTTP 529`, `timeout`, `connection error`. */
  get label(): string {
    if (this.kind === 'timeout') return 'timeout';
    if (this.kind === 'connection') return 'connection error';
    if (this.status) return `HTTP ${this.status}`;
    return 'provider error';
  }
}

/** Removes anything that could identify an endpoint or a secret from provider-supplied text. */
export function scrubProviderText(text: string): string {
  return text
    .replace(/https?:\/\/\S+/gi, '[url]')
    .replace(/\b(sk|pk|rk)-[A-Za-z0-9_-]{6,}/g, '[redacted]')
    .replace(/\b[A-Za-z0-9_-]{32,}\b/g, '[redacted]')
    .slice(0, 500);
}

function isAbort(err: unknown): boolean {
  const name = (err as { name?: string })?.name ?? '';
  return name === 'AbortError' || name === 'APIUserAbortError';
}

/**
 * Maps an SDK or fetch error to a ProviderError. Both official SDKs expose `status` on HTTP errors, and name
 * their connection, timeout and abort errors alike; the caller says whether the abort was its own timeout.
 */
export function toProviderError(err: unknown, opts: { timedOut?: boolean } = {}): ProviderError {
  if (err instanceof ProviderError) return err;
  if (opts.timedOut) return new ProviderError('timeout', 'provider timed out');
  if (isAbort(err)) return new ProviderError('aborted', 'request aborted');
  const e = err as { name?: string; status?: unknown; message?: string; error?: any };
  const name = e?.name ?? '';
  if (name === 'APIConnectionTimeoutError') return new ProviderError('timeout', 'provider timed out');
  if (
    name === 'APIConnectionError' ||
    name === 'TypeError' ||
    /ECONNREFUSED|ECONNRESET|socket/i.test(e?.message ?? '')
  )
    return new ProviderError('connection', 'provider unreachable');
  const raw =
    typeof e?.error?.error?.message === 'string'
      ? e.error.error.message
      : typeof e?.error?.message === 'string'
        ? e.error.message
        : (e?.message ?? 'provider error');
  if (typeof e?.status === 'number') return new ProviderError('http', raw, e.status, scrubProviderText(raw));
  return new ProviderError('stream', raw, undefined, scrubProviderText(raw));
}
