/**
 * A wire-true fake of the S3 object API on a loopback port: PUT, GET (with `Range`), HEAD and DELETE of objects,
 * path-style (`/{bucket}/{key}`) or virtual-hosted (`Host: {bucket}.…`). Every request must carry a valid AWS
 * Signature Version 4 `Authorization` header: the fake rebuilds the canonical request from what it received and
 * recomputes the signature with the secret it knows, answering S3's own XML errors (403 `SignatureDoesNotMatch`,
 * `InvalidAccessKeyId`, `RequestTimeTooSkewed`, …) when anything differs. Bun's `S3Client` talks to it unmodified.
 */
import { createHash, createHmac } from 'node:crypto';

export interface FakeS3Object {
  bytes: Uint8Array;
  contentType: string;
  etag: string;
  lastModified: Date;
}

export interface FakeS3Request {
  method: string;
  bucket: string | null;
  key: string | null;
  range: string | null;
  /** Whether the signature checked out. */
  authorized: boolean;
  error: string | null;
}

export interface FakeS3Options {
  accessKeyId?: string;
  secretAccessKey?: string;
  region?: string;
  buckets?: string[];
}

export interface FakeS3 {
  readonly url: string;
  readonly port: number;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly region: string;
  /** `bucket/key` → object. */
  readonly objects: Map<string, FakeS3Object>;
  readonly requests: FakeS3Request[];
  stop(): Promise<void>;
}

const hmac = (key: string | Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();
const sha256Hex = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** RFC 3986 encoding as SigV4 wants it: everything but unreserved characters, uppercase hex. */
function uriEncode(text: string, keepSlash: boolean): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const ch = String.fromCharCode(byte);
    if (/[A-Za-z0-9\-._~]/.test(ch) || (keepSlash && ch === '/')) out += ch;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

function xmlError(status: number, code: string, message: string, resource = ''): Response {
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message>` +
    `<Resource>${resource}</Resource><RequestId>fake</RequestId></Error>`;
  return new Response(body, { status, headers: { 'content-type': 'application/xml' } });
}

interface Verdict {
  ok: boolean;
  code?: string;
  message?: string;
  status?: number;
}

/** Recomputes the SigV4 signature of a request (header auth) and compares it with the one sent. */
export function verifySigV4(
  req: { method: string; rawPath: string; rawQuery: string; headers: Headers; body: Uint8Array },
  creds: { accessKeyId: string; secretAccessKey: string; region: string },
  now: Date = new Date(),
): Verdict {
  const auth = req.headers.get('authorization');
  if (!auth) return { ok: false, status: 403, code: 'AccessDenied', message: 'Access Denied' };
  const m = /^AWS4-HMAC-SHA256 Credential=([^,]+),\s*SignedHeaders=([^,]+),\s*Signature=([0-9a-f]{64})$/.exec(
    auth,
  );
  if (!m)
    return { ok: false, status: 400, code: 'AuthorizationHeaderMalformed', message: 'Malformed header' };
  const [, credential = '', signedHeaderList = '', signature = ''] = m;
  const [akid, date, region, service, term] = credential.split('/');
  if (akid !== creds.accessKeyId) {
    return {
      ok: false,
      status: 403,
      code: 'InvalidAccessKeyId',
      message: 'The AWS Access Key Id does not exist',
    };
  }
  if (region !== creds.region || service !== 's3' || term !== 'aws4_request') {
    return { ok: false, status: 400, code: 'AuthorizationHeaderMalformed', message: 'Bad credential scope' };
  }
  const amzDate = req.headers.get('x-amz-date') ?? '';
  const dm = /^(\d{8})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!dm || dm[1] !== date)
    return { ok: false, status: 403, code: 'AccessDenied', message: 'Bad x-amz-date' };
  const d = dm[1]!;
  const signedAt = Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +dm[2]!, +dm[3]!, +dm[4]!);
  if (Math.abs(now.getTime() - signedAt) > 15 * 60_000) {
    return { ok: false, status: 403, code: 'RequestTimeTooSkewed', message: 'The difference is too large' };
  }
  const signedHeaders = signedHeaderList.split(';');
  for (const required of ['host', 'x-amz-date', 'x-amz-content-sha256']) {
    if (!signedHeaders.includes(required)) {
      return { ok: false, status: 403, code: 'AccessDenied', message: `${required} must be signed` };
    }
  }
  const payloadHash = req.headers.get('x-amz-content-sha256') ?? '';
  if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== sha256Hex(req.body)) {
    return { ok: false, status: 400, code: 'XAmzContentSHA256Mismatch', message: 'Payload hash mismatch' };
  }
  // The path as the client encoded it, normalised to strict RFC 3986 (S3 encodes once, keeps slashes).
  const canonicalUri = req.rawPath
    .split('/')
    .map((seg) => uriEncode(decodeURIComponent(seg), false))
    .join('/');
  const canonicalQuery = req.rawQuery
    ? req.rawQuery
        .split('&')
        .filter(Boolean)
        .map((pair) => {
          const i = pair.indexOf('=');
          const k = decodeURIComponent(i < 0 ? pair : pair.slice(0, i));
          const v = i < 0 ? '' : decodeURIComponent(pair.slice(i + 1));
          return [uriEncode(k, false), uriEncode(v, false)] as const;
        })
        .sort((x, y) => (x[0] === y[0] ? (x[1] < y[1] ? -1 : 1) : x[0] < y[0] ? -1 : 1))
        .map(([k, v]) => `${k}=${v}`)
        .join('&')
    : '';
  const canonicalHeaders = signedHeaders
    .map((h) => `${h}:${(req.headers.get(h) ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalRequest = [
    req.method,
    canonicalUri,
    canonicalQuery,
    canonicalHeaders,
    signedHeaderList,
    payloadHash,
  ].join('\n');
  const scope = `${date}/${region}/s3/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const kDate = hmac(`AWS4${creds.secretAccessKey}`, date!);
  const kSigning = hmac(hmac(hmac(kDate, region!), 's3'), 'aws4_request');
  const expected = createHmac('sha256', kSigning).update(stringToSign).digest('hex');
  if (expected !== signature) {
    return {
      ok: false,
      status: 403,
      code: 'SignatureDoesNotMatch',
      message: 'The request signature we calculated does not match the signature you provided.',
    };
  }
  return { ok: true };
}

function parseRange(header: string, size: number): { start: number; end: number } | null | 'bad' {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'bad';
  if (m[1] === '') {
    const n = Number(m[2]);
    if (n === 0 || size === 0) return null;
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size || end < start) return null;
  return { start, end };
}

export function startFakeS3(opts: FakeS3Options = {}): FakeS3 {
  const creds = {
    accessKeyId: opts.accessKeyId ?? 'AKIAFAKEFAKEFAKE',
    secretAccessKey: opts.secretAccessKey ?? 'fake-secret-key-for-tests',
    region: opts.region ?? 'us-east-1',
  };
  const buckets = new Set(opts.buckets ?? ['gaia-assets']);
  const objects = new Map<string, FakeS3Object>();
  const requests: FakeS3Request[] = [];

  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const rawPath = url.pathname;
      const rawQuery = url.search.replace(/^\?/, '');
      const body = new Uint8Array(await req.arrayBuffer());
      const host = (req.headers.get('host') ?? '').split(':')[0] ?? '';
      const hostBucket = [...buckets].find((b) => host.startsWith(`${b}.`)) ?? null;
      let bucket: string | null;
      let key: string | null;
      const parts = rawPath.split('/').slice(1);
      if (hostBucket) {
        bucket = hostBucket;
        key = parts.map(decodeURIComponent).join('/') || null;
      } else {
        bucket = parts[0] ? decodeURIComponent(parts[0]) : null;
        key = parts.slice(1).map(decodeURIComponent).join('/') || null;
      }
      const entry: FakeS3Request = {
        method: req.method,
        bucket,
        key,
        range: req.headers.get('range'),
        authorized: false,
        error: null,
      };
      requests.push(entry);
      const fail = (status: number, code: string, message: string) => {
        entry.error = code;
        // HEAD answers carry no body, as on S3.
        if (req.method === 'HEAD') return new Response(null, { status });
        return xmlError(status, code, message, rawPath);
      };

      const verdict = verifySigV4(
        { method: req.method, rawPath, rawQuery, headers: req.headers, body },
        creds,
      );
      if (!verdict.ok) return fail(verdict.status!, verdict.code!, verdict.message!);
      entry.authorized = true;
      if (!bucket || !buckets.has(bucket))
        return fail(404, 'NoSuchBucket', 'The specified bucket does not exist');
      if (!key) return fail(501, 'NotImplemented', 'Bucket operations are not implemented by this fake');
      if (rawQuery) return fail(501, 'NotImplemented', 'Sub-resources are not implemented by this fake');
      const id = `${bucket}/${key}`;

      switch (req.method) {
        case 'PUT': {
          const etag = `"${createHash('md5').update(body).digest('hex')}"`;
          objects.set(id, {
            bytes: body,
            contentType: req.headers.get('content-type') ?? 'binary/octet-stream',
            etag,
            lastModified: new Date(),
          });
          return new Response(null, { status: 200, headers: { etag } });
        }
        case 'DELETE':
          objects.delete(id);
          return new Response(null, { status: 204 });
        case 'GET':
        case 'HEAD': {
          const obj = objects.get(id);
          if (!obj) return fail(404, 'NoSuchKey', 'The specified key does not exist.');
          const headers: Record<string, string> = {
            'content-type': obj.contentType,
            etag: obj.etag,
            'last-modified': obj.lastModified.toUTCString(),
            'accept-ranges': 'bytes',
          };
          const size = obj.bytes.byteLength;
          const rangeHeader = req.headers.get('range');
          const range = rangeHeader ? parseRange(rangeHeader, size) : 'bad';
          if (range === null) {
            return fail(416, 'InvalidRange', 'The requested range is not satisfiable');
          }
          if (range === 'bad') {
            headers['content-length'] = String(size);
            return new Response(req.method === 'HEAD' ? null : (obj.bytes as BodyInit), {
              status: 200,
              headers,
            });
          }
          headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
          headers['content-length'] = String(range.end - range.start + 1);
          const slice = obj.bytes.subarray(range.start, range.end + 1);
          return new Response(req.method === 'HEAD' ? null : (slice as BodyInit), { status: 206, headers });
        }
        default:
          return fail(405, 'MethodNotAllowed', 'The specified method is not allowed against this resource.');
      }
    },
  });

  return {
    url: `http://127.0.0.1:${server.port}`,
    port: server.port!,
    ...creds,
    objects,
    requests,
    stop: () => server.stop(true),
  };
}
