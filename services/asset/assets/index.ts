/**
 * The asset routes: generate, list, one asset, jobs, downloads and the liveness probe. `jobs` and `test` are
 * declared before `:asset_id` so they are never read as ids.
 */
import { Elysia } from 'elysia';
import { jsonResponse } from '../../../src/http/errors.ts';
import type { Identity } from '../../../src/http/identity.ts';
import { isoNow, requireUser } from '../../../src/http/service.ts';
import { type AssetContext, HEAD_MARK_HEADER } from '../context.ts';
import { contentTypeFor, serveObject } from '../downloads/serve.ts';
import type { Viewer } from './service.ts';

function viewerOf(identity: Identity): Viewer {
  if (identity.auth_type === 'anonymous' || !identity.sub) return { id: null, admin: false };
  return { id: identity.sub, admin: identity.admin };
}

export function assetRoutes(ctx: AssetContext) {
  const { reader, generator, storage } = ctx;

  const download =
    (kind: 'file' | 'preview') =>
    async ({
      identity,
      params,
      query,
      request,
    }: {
      identity: Identity;
      params: { asset_id: string };
      query: Record<string, string | undefined>;
      request: Request;
    }) => {
      const row = await reader.downloadable(viewerOf(identity), kind, params.asset_id, query.exp, query.sig);
      const file = kind === 'file';
      const key = file ? row.storageKey : (row.previewKey ?? '');
      const ext = file ? (row.fileFormat ?? 'bin') : 'png';
      const stat = file
        ? {
            size: row.sizeBytes ?? 0,
            sha256: row.sha256 ?? '',
            contentType: row.contentType ?? contentTypeFor(ext),
          }
        : await storageMeta(key);
      const markedHead = request.headers.get(HEAD_MARK_HEADER) === ctx.headToken;
      const res = await serveObject(
        markedHead ? new Request(request.url, { method: 'HEAD', headers: request.headers }) : request,
        storage,
        {
          key,
          size: stat.size,
          sha256: stat.sha256,
          contentType: stat.contentType,
          fileName: `${row.id}${file ? '' : '-preview'}.${ext}`,
        },
      );
      if (file && request.method === 'GET' && !markedHead && (res.status === 200 || res.status === 206))
        void ctx.recordDownload(row.id, viewerOf(identity).id).catch(() => {});
      return res;
    };

  /** Previews are small and their hash is not recorded on the row: read it to answer with an ETag. */
  const storageMeta = async (key: string) => {
    const got = key ? await storage.get(key) : null;
    if (!got) return { size: 0, sha256: '', contentType: 'image/png' };
    const bytes =
      got.body instanceof Uint8Array ? got.body : new Uint8Array(await new Response(got.body).arrayBuffer());
    return {
      size: got.size,
      sha256: new Bun.CryptoHasher('sha256').update(bytes).digest('hex'),
      contentType: 'image/png',
    };
  };

  return new Elysia({ name: 'asset-routes' })
    .use(ctx.kernel)
    .get('/api/v1/assets/test', () =>
      jsonResponse({
        status: 'ok',
        service: 'asset-service',
        message: 'Asset service is running',
        timestamp: isoNow(),
      }),
    )
    .post('/api/v1/assets/generate', async ({ identity, body }) => {
      const user = requireUser(identity);
      const out = await generator.generate({ id: user.id, admin: user.admin }, body);
      if (out.kind === 'asset') return jsonResponse(out.body);
      return jsonResponse(out.body, 202, { location: out.location });
    })
    .get('/api/v1/assets', async ({ identity, query }) => {
      requireUser(identity);
      return jsonResponse(await reader.list(viewerOf(identity), query));
    })
    .get('/api/v1/assets/jobs', async ({ identity, query }) => {
      requireUser(identity);
      return jsonResponse(await reader.jobs(viewerOf(identity), query));
    })
    .get('/api/v1/assets/jobs/:job_id', async ({ identity, params }) => {
      requireUser(identity);
      return jsonResponse(await reader.job(viewerOf(identity), params.job_id));
    })
    .get('/api/v1/assets/:asset_id', async ({ identity, params }) => {
      requireUser(identity);
      return jsonResponse(await reader.get(viewerOf(identity), params.asset_id));
    })
    .get('/api/v1/assets/:asset_id/file', download('file'))
    .head('/api/v1/assets/:asset_id/file', download('file'))
    .get('/api/v1/assets/:asset_id/preview', download('preview'))
    .head('/api/v1/assets/:asset_id/preview', download('preview'));
}
