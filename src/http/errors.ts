/**
 * The error envelope every Gaia service answers with: `{"detail": "..."}`, plus `errors` on 422.
 * Throw HttpError anywhere in a service; the service kernel turns it into a response.
 */
export interface FieldError {
  path: string;
  message: string;
}

export interface HttpErrorOptions {
  headers?: Record<string, string>;
  /** Replaces the whole JSON body (the `/v1` dual envelope, v0.3's `{"error": ...}`). */
  body?: Record<string, unknown>;
  errors?: FieldError[];
}

export class HttpError extends Error {
  readonly status: number;
  readonly detail: string;
  readonly headers: Record<string, string>;
  readonly body: Record<string, unknown>;

  constructor(status: number, detail: string, opts: HttpErrorOptions = {}) {
    super(detail);
    this.name = 'HttpError';
    this.status = status;
    this.detail = detail;
    this.headers = opts.headers ?? {};
    this.body = opts.body ?? (opts.errors ? { detail, errors: opts.errors } : { detail });
  }

  toResponse(extraHeaders?: Record<string, string>): Response {
    return jsonResponse(this.body, this.status, { ...this.headers, ...extraHeaders });
  }
}

export const JSON_TYPE = 'application/json';

/** Compact JSON (`{"a":1}`), as every client of the Python system received. */
export function jsonResponse(body: unknown, status = 200, headers?: Record<string, string>): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': JSON_TYPE, ...headers },
  });
}

export function errorResponse(status: number, detail: string, headers?: Record<string, string>): Response {
  return jsonResponse({ detail }, status, headers);
}

export function validationError(errors: FieldError[], detail = 'Invalid request body'): HttpError {
  return new HttpError(422, detail, { errors });
}

export const notFound = (detail = 'Not Found'): HttpError => new HttpError(404, detail);

/** `type`/`code` of Gaia-made errors on the OpenAI-compatible `/v1/*` surface. */
export function openAiErrorKind(status: number): { type: string; code: string } {
  if (status === 401) return { type: 'authentication_error', code: 'invalid_api_key' };
  if (status === 403) return { type: 'permission_error', code: 'forbidden' };
  if (status === 404 || status === 405) return { type: 'invalid_request_error', code: 'not_found' };
  if (status === 413) return { type: 'invalid_request_error', code: 'request_too_large' };
  if (status === 429) return { type: 'rate_limit_error', code: 'rate_limit_exceeded' };
  if (status >= 500) return { type: 'api_error', code: 'service_unavailable' };
  return { type: 'invalid_request_error', code: 'invalid_value' };
}

/** Adds the OpenAI `error` object next to `detail`, as the OpenAI SDKs read it. */
export function withOpenAiEnvelope(err: HttpError): HttpError {
  if ('error' in err.body) return err;
  const { type, code } = openAiErrorKind(err.status);
  return new HttpError(err.status, err.detail, {
    headers: err.headers,
    body: { ...err.body, error: { message: err.detail, type, param: null, code } },
  });
}

export function isOpenAiPath(pathname: string): boolean {
  return pathname === '/v1' || pathname.startsWith('/v1/');
}
