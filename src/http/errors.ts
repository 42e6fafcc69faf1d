/**
 * The error envelope of spec/gateway.md §7: `{"detail": "..."}`, plus `errors` on 422.
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
