/**
 * The structured JSON API under `/api/v1/kb`: files, listing, search, contexts, navigation, synthesis,
 * threads, history and index upkeep. File paths in URLs are taken from the raw request URL and decoded
 * exactly once, so an encoded `../` or a doubly encoded one is seen for what it is.
 */
import { Elysia } from 'elysia';
import { HttpError, jsonResponse } from '../../../src/http/errors.ts';
import { validate } from '../../../src/http/validate.ts';
import { callerOf, type KbContext, requireKbAdmin } from '../context.ts';
import type { MatchMode } from '../types.ts';
import { MoveBody, PutBody, SynthesizeBody } from './model.ts';

const MATCHES = ['all', 'any', 'phrase', 'auto'] as const;

type Query = Record<string, string | undefined>;

/** The rest of the URL path after `prefix`, percent-decoded once (a bad escape is an invalid path). */
export function pathParam(request: Request, prefix: string): string {
  const pathname = new URL(request.url).pathname;
  const rest = pathname.slice(pathname.indexOf(prefix) + prefix.length);
  let decoded: string;
  try {
    decoded = decodeURIComponent(rest);
  } catch {
    throw new HttpError(400, 'Invalid path: invalid percent-encoding');
  }
  // What is still encoded after one decoding was encoded twice: a way to smuggle `../` past filters.
  if (/%[0-9A-Fa-f]{2}/.test(decoded))
    throw new HttpError(400, 'Invalid path: Encoded characters are not allowed in paths');
  return decoded;
}

export function intParam(query: Query, name: string, def: number, min: number, max: number): number {
  const raw = query[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new HttpError(422, 'Invalid query parameter', {
      errors: [{ path: `query.${name}`, message: `Must be an integer from ${min} to ${max}` }],
    });
  return n;
}

function boolParam(query: Query, name: string, def: boolean): boolean {
  const raw = query[name]?.toLowerCase();
  if (raw === undefined || raw === '') return def;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw new HttpError(422, 'Invalid query parameter', {
    errors: [{ path: `query.${name}`, message: 'Expected true or false' }],
  });
}

function listParam(v: unknown): string[] | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  if (typeof v === 'string')
    return v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  return undefined;
}

function matchParam(v: unknown, where: string): MatchMode {
  if (v === undefined || v === null || v === '') return 'auto';
  if (typeof v === 'string' && (MATCHES as readonly string[]).includes(v)) return v as MatchMode;
  throw new HttpError(422, 'Invalid request', {
    errors: [{ path: where, message: 'Must be one of all, any, phrase, auto' }],
  });
}

export function apiRoutes(ctx: KbContext) {
  const { ops } = ctx;
  const P = '/api/v1/kb';

  const runSearch = (
    identity: Parameters<typeof callerOf>[0],
    src: Record<string, unknown>,
    inQuery: boolean,
  ) => {
    const caller = callerOf(identity);
    const at = (n: string) => (inQuery ? `query.${n}` : n);
    const q = typeof src.q === 'string' ? src.q : typeof src.query === 'string' ? src.query : undefined;
    if (q === undefined)
      throw new HttpError(422, 'Invalid request', { errors: [{ path: at('q'), message: 'Required' }] });
    const num = (n: string, def: number, min: number, max: number) => {
      const v = src[n];
      if (v === undefined || v === null || v === '') return def;
      const x = typeof v === 'number' ? v : Number(v);
      if (!Number.isInteger(x) || x < min || x > max)
        throw new HttpError(422, 'Invalid request', {
          errors: [{ path: at(n), message: `Must be an integer from ${min} to ${max}` }],
        });
      return x;
    };
    const limit = num('limit', 20, 1, 100);
    const offset = num('offset', 0, 0, 1_000_000);
    const inc = src.include_content;
    return ops.search(caller, {
      q,
      limit,
      offset,
      match: matchParam(src.match, at('match')),
      contexts: listParam(src.contexts),
      includeContent: inc === true || inc === 'true' || inc === '1',
    });
  };

  return new Elysia({ name: 'kb-api' })
    .use(ctx.kernel)
    .get(`${P}/files/*`, async ({ identity, request, query }) => {
      const file = await ops.read(callerOf(identity), pathParam(request, `${P}/files/`), {
        raw: query.include === 'raw',
      });
      return jsonResponse(file);
    })
    .put(`${P}/files/*`, async ({ identity, request, body }) => {
      const caller = callerOf(identity);
      const path = pathParam(request, `${P}/files/`);
      const b = validate(PutBody, body ?? {});
      const hasExpected = body !== null && typeof body === 'object' && 'expected_sha' in body;
      const r = await ops.write(caller, path, b.content, {
        message: b.message,
        expectedSha: hasExpected ? (b.expected_sha ?? null) : undefined,
        validate: b.validate_content ?? true,
      });
      return jsonResponse(r, r.action === 'create' ? 201 : 200);
    })
    .delete(`${P}/files/*`, async ({ identity, request, body, query }) => {
      const caller = callerOf(identity);
      const path = pathParam(request, `${P}/files/`);
      const fromBody =
        body && typeof body === 'object' && typeof (body as { message?: unknown }).message === 'string'
          ? (body as { message: string }).message
          : undefined;
      const r = await ops.remove(caller, path, { message: query.message || fromBody || undefined });
      return jsonResponse(r);
    })
    .post(`${P}/move`, async ({ identity, body }) => {
      const b = validate(MoveBody, body ?? {});
      return jsonResponse(await ops.move(callerOf(identity), b.from, b.to, { message: b.message }));
    })
    .get(`${P}/list`, async ({ identity, query }) => {
      const r = await ops.list(callerOf(identity), query.path ?? '/', {
        recursive: boolParam(query, 'recursive', false),
        pattern: query.pattern || undefined,
      });
      return jsonResponse(r);
    })
    .get(`${P}/search`, async ({ identity, query }) => jsonResponse(await runSearch(identity, query, true)))
    .post(`${P}/search`, async ({ identity, body }) => {
      if (!body || typeof body !== 'object' || Array.isArray(body))
        throw new HttpError(422, 'Invalid request body', {
          errors: [{ path: '', message: 'Expected a JSON object' }],
        });
      return jsonResponse(await runSearch(identity, body as Record<string, unknown>, false));
    })
    .get(`${P}/contexts/*`, async ({ identity, request }) =>
      jsonResponse(await ops.context(callerOf(identity), pathParam(request, `${P}/contexts/`))),
    )
    .get(`${P}/navigate`, async ({ identity, query }) => {
      const depth = intParam(query, 'depth', 3, 1, 6);
      const tree = await ops.navigate(
        callerOf(identity),
        query.path ?? '/',
        depth,
        listParam(query.keywords),
      );
      return jsonResponse(tree);
    })
    .post(`${P}/synthesize`, async ({ identity, body }) => {
      const b = validate(SynthesizeBody, body ?? {});
      const r = await ops.synthesize(
        callerOf(identity),
        b.contexts,
        b.focus ?? undefined,
        b.max_connections ?? 10,
      );
      return jsonResponse(r);
    })
    .get(`${P}/threads`, async ({ identity }) => jsonResponse(await ops.threads(callerOf(identity))))
    .get(`${P}/history`, async ({ identity, query }) => {
      const limit = intParam(query, 'limit', 20, 1, 200);
      const commits = await ops.history(callerOf(identity), query.path, limit);
      return jsonResponse({ commits });
    })
    .post(`${P}/index/rebuild`, async ({ identity }) => {
      await requireKbAdmin(ctx, callerOf(identity), 'rebuild the index');
      void ops
        .rebuildIndex()
        .catch((err) => ctx.deps.log.error('index rebuild failed', { error: String(err) }));
      return jsonResponse({ status: 'rebuilding' }, 202);
    });
}
