/**
 * Header hygiene and body handling for forwarded requests.
 * Requests carry only an allow-list of client headers plus what the gateway adds; responses lose
 * hop-by-hop, CORS, cookie and internal headers. Bodies are read with a hard byte limit.
 */
import { HttpError } from '../../../src/http/errors.ts';

const REQUEST_ALLOW = [
  'content-type',
  'accept',
  'accept-language',
  'user-agent',
  'origin',
  'x-response-format',
  'last-event-id',
  'if-none-match',
  'if-modified-since',
  'range',
  'mcp-session-id',
  'mcp-protocol-version',
  'traceparent',
  'tracestate',
];
const WEBHOOK_ALLOW = [
  'x-hub-signature-256',
  'x-hub-signature',
  'x-github-event',
  'x-gitlab-token',
  'x-gitlab-event',
  'x-gaia-signature',
];
const RESPONSE_DROP = new Set([
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authenticate',
  'proxy-authorization',
  'content-length',
  'set-cookie',
  'server',
  'x-powered-by',
]);

export interface ForwardHeaderOptions {
  webhook?: boolean;
  forwardAuthorization?: boolean;
  json?: boolean;
}

const REQUEST_ALLOWED = new Set(REQUEST_ALLOW);
const WEBHOOK_ALLOWED = new Set(WEBHOOK_ALLOW);

/**
 * The headers a service receives: the allow-listed client headers, then the gateway's own (`own`), which
 * win over anything the client sent. Built in one pass over the client's headers into one `Headers`: this
 * runs on every forwarded request, and each `get`/`set` on a Headers object is a call into native code.
 */
export function forwardRequestHeaders(
  src: Headers,
  opts: ForwardHeaderOptions,
  own?: Record<string, string>,
): Headers {
  const init: Record<string, string> = {};
  let conn: string | null = null;
  src.forEach((value, name) => {
    if (
      REQUEST_ALLOWED.has(name) ||
      (opts.webhook && WEBHOOK_ALLOWED.has(name)) ||
      (opts.forwardAuthorization && name === 'authorization')
    )
      init[name] = value;
    else if (name === 'connection') conn = value;
  });
  if (opts.json) init['content-type'] = 'application/json';
  // Headers named in Connection are hop-by-hop too, even when allow-listed.
  if (conn) for (const n of (conn as string).split(',')) delete init[n.trim().toLowerCase()];
  if (own) for (const k in own) init[k] = own[k]!;
  return new Headers(init);
}

/** Whether a service's response header stops at the gateway (hop-by-hop, internal, or the gateway's own). */
function dropped(name: string, namedInConnection: Set<string>): boolean {
  return (
    RESPONSE_DROP.has(name) ||
    namedInConnection.has(name) ||
    name.startsWith('access-control-') ||
    name.startsWith('x-gaia-') ||
    name.startsWith('proxy-')
  );
}

function connectionNamed(src: Headers): Set<string> {
  const conn = src.get('connection');
  return new Set(conn ? conn.split(',').map((n) => n.trim().toLowerCase()) : []);
}

export function filterResponseHeaders(src: Headers): Headers {
  const out = new Headers();
  const named = connectionNamed(src);
  src.forEach((value, name) => {
    const n = name.toLowerCase();
    if (!dropped(n, named)) out.append(n, value);
  });
  return out;
}

/**
 * The same response with the headers `filterResponseHeaders` would drop taken out in place, or null when its
 * headers cannot be changed (a response that came from fetch), for the caller to copy instead.
 */
export function withoutHopHeaders(res: Response): Response | null {
  const named = connectionNamed(res.headers);
  const drop: string[] = [];
  res.headers.forEach((_, name) => {
    if (dropped(name.toLowerCase(), named)) drop.push(name);
  });
  try {
    for (const name of drop) res.headers.delete(name);
    return res;
  } catch {
    return null;
  }
}

export const tooLarge = (limit: number): HttpError =>
  new HttpError(413, `Request body too large (limit ${limit} bytes)`);

/**
 * Reads the body, refusing it once it passes `limit` bytes: by Content-Length before reading, and while
 * reading chunked bodies, so an oversized upload is never buffered whole.
 */
export async function readLimitedBody(request: Request, limit: number): Promise<Uint8Array | null> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) throw tooLarge(limit);
  if (!request.body) return null;
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > limit) {
      void reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  if (total === 0) return null;
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

export function requestIdFrom(headers: Headers): string {
  const v = headers.get('x-request-id');
  return v && REQUEST_ID.test(v) ? v : crypto.randomUUID();
}

/**
 * `..` segments, NUL and encoded slashes are refused, except inside a KB file path, whose own service
 * applies the KB path rules.
 */
export function isBadPath(rawPath: string): boolean {
  if (rawPath.startsWith('/api/v1/kb/files/')) return false;
  const lower = rawPath.toLowerCase();
  if (lower.includes('%00') || rawPath.includes('\0')) return true;
  if (lower.includes('%2f') || lower.includes('%5c')) return true;
  for (const seg of lower.split('/')) {
    if (seg === '..' || seg === '%2e%2e' || seg === '.%2e' || seg === '%2e.') return true;
  }
  return false;
}
