/**
 * Streams a stored asset file or preview to the client with the caching and range semantics game engines and
 * browsers rely on. Access control happens before this is called; this only answers for the bytes.
 */
import { errorResponse } from '../../../src/http/errors.ts';
import type { AssetStorage } from '../types.ts';

export interface ServedObjectMeta {
  key: string;
  size: number;
  sha256: string;
  contentType: string;
  /** `<asset_id>.<ext>`, shown in `Content-Disposition`. */
  fileName: string;
}

export const GONE_DETAIL = 'Asset file is no longer available';

/** Content types by file format, for callers that store only the extension. */
export const CONTENT_TYPES: Record<string, string> = {
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  glb: 'model/gltf-binary',
  obj: 'model/obj',
  usdz: 'model/vnd.usdz+zip',
  fbx: 'application/octet-stream',
  wav: 'audio/wav',
  mp3: 'audio/mpeg',
  ogg: 'audio/ogg',
};

export function contentTypeFor(format: string): string {
  return CONTENT_TYPES[format.toLowerCase()] ?? 'application/octet-stream';
}

type RangeResult =
  | { kind: 'none' }
  | { kind: 'range'; start: number; end: number }
  | { kind: 'unsatisfiable' };

/**
 * Reads a `Range` header against the object size. Only a single `bytes=` range is honoured; a malformed header or a
 * multi-range request is ignored (the whole file is a valid answer to either), while a well-formed range that lies
 * entirely past the end is unsatisfiable.
 */
export function parseRange(header: string | null, size: number): RangeResult {
  if (!header) return { kind: 'none' };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return { kind: 'none' };
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return { kind: 'none' };
  if (a === '') {
    // Suffix form: the last N bytes.
    const n = Number(b);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'range', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  if (!Number.isSafeInteger(start)) return { kind: 'unsatisfiable' };
  let end = b === '' ? size - 1 : Number(b);
  if (b !== '' && end < start) return { kind: 'none' };
  if (start >= size) return { kind: 'unsatisfiable' };
  if (!Number.isSafeInteger(end) || end >= size) end = size - 1;
  return { kind: 'range', start, end };
}

/** `If-None-Match` may list several tags, weak ones or `*`; weak comparison is what the spec requires for it. */
function etagMatches(header: string | null, etag: string): boolean {
  if (!header) return false;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag.replace(/^W\//, '') === bare;
  });
}

function safeFileName(name: string): string {
  // The name is ours (`<uuid>.<ext>`), but a quote or control byte would break the header, so keep it plain.
  return name.replace(/[^A-Za-z0-9._-]/g, '_');
}

/**
 * Bun.serve drops a handler's Content-Length on JS and S3 streams and sends them chunked (its file streams keep
 * it). Clients use the length for progress and resumable downloads, so remote objects up to this size are read
 * into memory first and sent with an exact length; bigger ones stream chunked rather than occupy the heap.
 */
const BUFFER_UP_TO = 32 * 1024 * 1024;

export interface ServeOptions {
  /** Largest remote (S3) body read into memory to send an exact Content-Length. Default 32 MiB. */
  bufferUpToBytes?: number;
}

export async function serveObject(
  request: Request,
  storage: AssetStorage,
  meta: ServedObjectMeta,
  opts: ServeOptions = {},
): Promise<Response> {
  const head = request.method === 'HEAD';
  const etag = `"${meta.sha256}"`;
  const common: Record<string, string> = {
    etag,
    'cache-control': 'private, max-age=3600',
    'content-disposition': `inline; filename="${safeFileName(meta.fileName)}"`,
    'x-content-type-options': 'nosniff',
    'accept-ranges': 'bytes',
  };
  const gone = () => errorResponse(410, GONE_DETAIL);

  if (etagMatches(request.headers.get('if-none-match'), etag)) {
    // A cached copy is only worth confirming while the file still exists.
    if (!(await storage.exists(meta.key))) return gone();
    return new Response(null, { status: 304, headers: common });
  }

  let range = parseRange(request.headers.get('range'), meta.size);
  // If-Range: a range only applies to the representation the client already has.
  const ifRange = request.headers.get('if-range');
  if (range.kind !== 'none' && ifRange !== null && ifRange.trim() !== etag) range = { kind: 'none' };

  if (range.kind === 'unsatisfiable') {
    if (!(await storage.exists(meta.key))) return gone();
    return new Response(JSON.stringify({ detail: 'Requested range not satisfiable' }), {
      status: 416,
      headers: { ...common, 'content-type': 'application/json', 'content-range': `bytes */${meta.size}` },
    });
  }

  const span = range.kind === 'range' ? { start: range.start, end: range.end } : null;
  const length = span ? span.end - span.start + 1 : meta.size;
  const headers: Record<string, string> = {
    ...common,
    'content-type': meta.contentType,
    'content-length': String(length),
  };
  if (span) headers['content-range'] = `bytes ${span.start}-${span.end}/${meta.size}`;
  const status = span ? 206 : 200;

  if (head) {
    if (!(await storage.exists(meta.key))) return gone();
    return new Response(null, { status, headers });
  }
  const object = await storage.get(meta.key, span ?? undefined);
  if (!object) return gone();
  let body = object.body;
  if (
    body instanceof ReadableStream &&
    storage.type !== 'local' &&
    length <= (opts.bufferUpToBytes ?? BUFFER_UP_TO)
  ) {
    body = new Uint8Array(await new Response(body).arrayBuffer());
  }
  return new Response(body as BodyInit, { status, headers });
}
