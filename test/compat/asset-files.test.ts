/**
 * Asset files as clients see them through the gateway, once per backend: signed download links and every way
 * to tamper with one, ranges, caching headers, previews, a file gone from disk, the list with its filters,
 * ownership of assets and jobs, S3 storage end to end, provider result URLs refused by the address policy, a
 * restart while a Meshy task polls, the pricing routes, and that no secret leaks into bodies, logs or events.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { eq, inArray } from 'drizzle-orm';
import { PNG } from 'pngjs';
import { assetService } from '../../services/asset/app.ts';
import { readAssetConfig } from '../../services/asset/config.ts';
import { signLink } from '../../services/asset/downloads/signing.ts';
import { DownloadTooLarge, downloadProviderError } from '../../services/asset/fetch/safe-fetch.ts';
import type { FetchFile } from '../../services/asset/generation/store.ts';
import type { BusMessage } from '../../src/bus/types.ts';
import { IDENTITY_HEADER, signIdentitySync } from '../../src/http/identity.ts';
import { createLogger } from '../../src/log.ts';
import { FAKE_MESHY_KEY, type FakeMeshy, startFakeMeshy, tinyGlb } from '../fakes/meshy.ts';
import { type FakeOpenAIImages, makePng, startFakeOpenAIImages } from '../fakes/openai-images.ts';
import { type FakeS3, startFakeS3 } from '../fakes/s3.ts';
import { dropTestDatabases, natsTestUrl, testBackends } from '../support/backends.ts';
import { eventually } from '../support/eventually.ts';
import { type StackHandle, startStack } from '../support/stack.ts';

afterAll(async () => {
  await dropTestDatabases();
});

const json = (body: unknown, method = 'POST'): RequestInit => ({
  method,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

const sha256 = (bytes: Uint8Array) => new Bun.CryptoHasher('sha256').update(bytes).digest('hex');

/** A returned link names the configured public URL; the test reaches the same path on its own gateway. */
const pathOf = (link: string) => {
  const u = new URL(link);
  return u.pathname + u.search;
};

const quietLog = () => createLogger({ service: 'asset2', level: 'warn', json: true, sink: () => {} });

const imageRequest = (description: string, extra: Record<string, unknown> = {}) => ({
  category: 'image',
  style: 'fantasy',
  description,
  requirements: { platform: 'mobile_vr', quality: 'medium' },
  preferences: { max_wait_time_ms: 20_000, provider: 'openai' },
  ...extra,
});

interface MeshyRelay {
  url: string;
  /** When set, every result URL of a finished task is replaced by this one. */
  rewriteTo: string | null;
  stop(): Promise<void>;
}

/**
 * A relay in front of the Meshy fake that can rewrite a finished task's result URLs, as a compromised or
 * confused provider would.
 */
function startMeshyRelay(meshy: FakeMeshy): MeshyRelay {
  const state: MeshyRelay = {
    url: '',
    rewriteTo: null,
    stop: async () => {
      await server.stop(true);
    },
  };
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const u = new URL(req.url);
      const up = await fetch(`${meshy.origin}${u.pathname}${u.search}`, {
        method: req.method,
        headers: req.headers,
        body: req.method === 'POST' ? await req.text() : undefined,
      });
      const type = up.headers.get('content-type') ?? '';
      if (req.method !== 'GET' || !type.includes('json') || state.rewriteTo === null)
        return new Response(await up.arrayBuffer(), { status: up.status, headers: { 'content-type': type } });
      const task = await up.json();
      if (task.status === 'SUCCEEDED') {
        for (const k of Object.keys(task.model_urls ?? {})) task.model_urls[k] = state.rewriteTo;
        task.thumbnail_url = state.rewriteTo;
      }
      return Response.json(task, { status: up.status });
    },
  });
  state.url = `http://127.0.0.1:${server.port}/openapi`;
  return state;
}

for (const backend of testBackends()) {
  describe(`asset files (${backend.name})`, () => {
    let s: StackHandle;
    let openai: FakeOpenAIImages;
    let meshy: FakeMeshy;
    let relay: MeshyRelay;
    let urlSecret: string;
    const idA = crypto.randomUUID();
    const idB = crypto.randomUUID();
    let jwtA: string;
    let jwtB: string;
    const events: BusMessage[] = [];
    const bodies: string[] = [];
    // The image the provider hands back for A's first asset: wider than a preview, so the preview is scaled.
    const sourcePng = makePng(800, 600, [200, 60, 30]);
    let first: any;
    let second: any;

    beforeAll(async () => {
      openai = await startFakeOpenAIImages();
      meshy = await startFakeMeshy();
      relay = startMeshyRelay(meshy);
      s = await startStack({
        databaseUrl: await backend.databaseUrl(),
        natsUrl: backend.name === 'postgresql' ? natsTestUrl() : undefined,
        env: {
          OPENAI_API_KEY: openai.apiKey,
          OPENAI_IMAGES_BASE_URL: openai.url,
          MESHY_API_KEY: FAKE_MESHY_KEY,
          MESHY_API_BASE: relay.url,
          MESHY_POLL_INTERVAL_MS: '50',
          ASSET_DAILY_BUDGET_USD: '0',
        },
      });
      urlSecret = readAssetConfig(s.config).urlSecret;
      jwtA = await s.mintJwt({ sub: idA, email: `a-${idA.slice(0, 8)}@example.com` });
      jwtB = await s.mintJwt({ sub: idB, email: `b-${idB.slice(0, 8)}@example.com` });
      s.stack.bus.subscribe('gaia.asset.>', (m) => {
        events.push(m);
      });
      openai.enqueue({ image: sourcePng });
      const r1 = await asA(
        '/api/v1/assets/generate',
        json(imageRequest('A glowing magical sword with runes')),
      );
      expect(r1.status).toBe(200);
      first = await r1.json();
      const r2 = await asA(
        '/api/v1/assets/generate',
        json(imageRequest('A wooden shield with iron rim', { session_id: 'quest-7' })),
      );
      expect(r2.status).toBe(200);
      second = await r2.json();
    }, 30_000);

    afterAll(async () => {
      await s?.stop();
      await openai?.stop();
      await meshy?.stop();
      await relay?.stop();
    });

    const as =
      (jwt: string) =>
      async (path: string, init: RequestInit = {}) => {
        const r = await s.fetch(path, {
          ...init,
          headers: { authorization: `Bearer ${jwt}`, ...(init.headers as object) },
        });
        bodies.push(await r.clone().text());
        return r;
      };
    const asA = (path: string, init?: RequestInit) => as(jwtA)(path, init);
    const asB = (path: string, init?: RequestInit) => as(jwtB)(path, init);
    /** A signed identity for calling an asset instance directly, as the gateway would. */
    const userToken = (sub: string) =>
      signIdentitySync(s.config.internalSecret, {
        auth_type: 'jwt',
        sub,
        email: `${sub.slice(0, 8)}@example.com`,
        admin: false,
        rid: crypto.randomUUID(),
        ip: '127.0.0.1',
      });

    /** Calls the mounted asset service as the gateway would, with an anonymous identity. */
    const viaService = (method: string, path: string, headers: Record<string, string> = {}) =>
      s.stack.services.asset!.handle(
        new Request(`http://asset${path}`, {
          method,
          headers: {
            [IDENTITY_HEADER]: signIdentitySync(s.config.internalSecret, {
              auth_type: 'anonymous',
              admin: false,
              rid: crypto.randomUUID(),
              ip: '127.0.0.1',
            }),
            ...headers,
          },
        }),
      );
    const anon = async (path: string, init?: RequestInit) => {
      const r = await s.fetch(path, init);
      bodies.push(await r.clone().text());
      return r;
    };

    test('the signed link works with no headers and answers the exact download headers', async () => {
      expect(first.source).toBe('generated');
      const link = first.asset_data.download_url as string;
      expect(link).toStartWith(`${s.config.publicUrl}/api/v1/assets/${first.asset_id}/file?exp=`);
      const r = await anon(pathOf(link));
      expect(r.status).toBe(200);
      const bytes = new Uint8Array(await r.arrayBuffer());
      expect(sha256(bytes)).toBe(sha256(sourcePng));
      expect(r.headers.get('content-type')).toBe('image/png');
      expect(r.headers.get('content-length')).toBe(String(sourcePng.length));
      expect(r.headers.get('etag')).toBe(`"${sha256(sourcePng)}"`);
      expect(r.headers.get('cache-control')).toBe('private, max-age=3600');
      expect(r.headers.get('content-disposition')).toBe(`inline; filename="${first.asset_id}.png"`);
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('accept-ranges')).toBe('bytes');

      const head = await anon(pathOf(link), { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('etag')).toBe(`"${sha256(sourcePng)}"`);
      expect(head.headers.get('content-type')).toBe('image/png');
      expect((await head.arrayBuffer()).byteLength).toBe(0);
      expect(head.headers.get('content-length')).toBe(String(sourcePng.length));
      // The service itself announces the real length on HEAD too.
      const direct = await viaService('HEAD', pathOf(link));
      expect(direct.status).toBe(200);
      expect(direct.headers.get('content-length')).toBe(String(sourcePng.length));
      expect(direct.headers.get('etag')).toBe(`"${sha256(sourcePng)}"`);
      const ranged = await viaService('HEAD', pathOf(link), { range: 'bytes=0-99' });
      expect(ranged.status).toBe(206);
      expect(ranged.headers.get('content-length')).toBe('100');
    }, 15_000);

    test('ranges, unsatisfiable ranges and If-None-Match', async () => {
      const link = pathOf(first.asset_data.download_url);
      const part = await anon(link, { headers: { range: 'bytes=0-99' } });
      expect(part.status).toBe(206);
      const bytes = new Uint8Array(await part.arrayBuffer());
      expect(bytes.length).toBe(100);
      expect(bytes).toEqual(sourcePng.slice(0, 100));
      expect(part.headers.get('content-range')).toBe(`bytes 0-99/${sourcePng.length}`);
      expect(part.headers.get('content-length')).toBe('100');

      const beyond = await anon(link, { headers: { range: 'bytes=999999999-' } });
      expect(beyond.status).toBe(416);
      expect(beyond.headers.get('content-range')).toBe(`bytes */${sourcePng.length}`);

      const cached = await anon(link, { headers: { 'if-none-match': `"${sha256(sourcePng)}"` } });
      expect(cached.status).toBe(304);
      expect((await cached.arrayBuffer()).byteLength).toBe(0);
      const stale = await anon(link, { headers: { 'if-none-match': '"0000"' } });
      expect(stale.status).toBe(200);
    }, 15_000);

    test('every tampered link is refused without credentials; owner credentials still work, others get 404', async () => {
      const id = first.asset_id as string;
      const u = new URL(first.asset_data.download_url);
      const exp = Number(u.searchParams.get('exp'));
      const sig = u.searchParams.get('sig')!;
      const other = new URL(second.asset_data.download_url);
      const flipped = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
      const past = Math.floor(Date.now() / 1000) - 60;
      const preview = new URL(first.asset_data.preview_image_url);
      const tampered = [
        `exp=${exp + 1}&sig=${sig}`,
        `exp=${exp}&sig=${flipped}`,
        // A correctly signed link whose time is up.
        `exp=${past}&sig=${signLink('file', id, past, urlSecret)}`,
        // Another asset's valid signature, and this asset's preview signature on the file.
        `exp=${other.searchParams.get('exp')}&sig=${other.searchParams.get('sig')}`,
        `exp=${preview.searchParams.get('exp')}&sig=${preview.searchParams.get('sig')}`,
        `exp=${exp}`,
        '',
      ];
      for (const q of tampered) {
        const path = `/api/v1/assets/${id}/file${q ? `?${q}` : ''}`;
        const r = await anon(path);
        expect({ q, status: r.status }).toEqual({ q, status: 403 });
        expect(await r.json()).toEqual({ detail: 'Invalid or expired download link' });
        const owner = await asA(path);
        expect({ q, status: owner.status }).toEqual({ q, status: 200 });
        expect(sha256(new Uint8Array(await owner.arrayBuffer()))).toBe(sha256(sourcePng));
        const stranger = await asB(path);
        expect({ q, status: stranger.status }).toEqual({ q, status: 404 });
        expect(await stranger.json()).toEqual({ detail: `Asset ${id} not found` });
      }
      // The admin (the dev key) may download anything with credentials.
      expect((await s.dev(`/api/v1/assets/${id}/file`)).status).toBe(200);
    }, 20_000);

    test('the preview is a PNG scaled to fit 512x512', async () => {
      const r = await anon(pathOf(first.asset_data.preview_image_url));
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('image/png');
      const bytes = new Uint8Array(await r.arrayBuffer());
      const png = PNG.sync.read(Buffer.from(bytes));
      expect(png.width).toBe(512);
      expect(png.height).toBe(384);
      expect(r.headers.get('etag')).toBe(`"${sha256(bytes)}"`);
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      const cached = await anon(pathOf(first.asset_data.preview_image_url), {
        headers: { 'if-none-match': `"${sha256(bytes)}"` },
      });
      expect(cached.status).toBe(304);
      const head = await viaService('HEAD', pathOf(first.asset_data.preview_image_url));
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(bytes.length));
    }, 15_000);

    test('a stored file deleted from disk answers 410 to links, owners and HEAD', async () => {
      const r = await asA(
        '/api/v1/assets/generate',
        json(imageRequest('A cracked crystal orb', { preferences: { provider: 'local' } })),
      );
      expect(r.status).toBe(200);
      const gone = await r.json();
      expect(gone.storage_info.storage_type).toBe('local');
      const path = join(readAssetConfig(s.config).storageDir, gone.storage_info.file_path);
      expect(await Bun.file(path).exists()).toBe(true);
      rmSync(path);
      const link = pathOf(gone.asset_data.download_url);
      for (const res of [
        await anon(link),
        await asA(`/api/v1/assets/${gone.asset_id}/file`),
        await anon(link, { headers: { range: 'bytes=0-9' } }),
        await anon(link, { headers: { range: 'bytes=999999999-' } }),
      ]) {
        expect(res.status).toBe(410);
        expect(await res.json()).toEqual({ detail: 'Asset file is no longer available' });
      }
      expect((await anon(link, { method: 'HEAD' })).status).toBe(410);
      // The same request is not answered by reuse with a file that is gone: a new asset is stored.
      const again = await asA(
        '/api/v1/assets/generate',
        json(imageRequest('A cracked crystal orb', { preferences: { provider: 'local' } })),
      );
      expect(again.status).toBe(200);
      const fresh = await again.json();
      expect(fresh.asset_id).not.toBe(gone.asset_id);
      expect((await anon(pathOf(fresh.asset_data.download_url))).status).toBe(200);
    }, 15_000);

    test('list filters, ordering and the 422s; all=true is for admins only', async () => {
      const list = async (q: string, who = asA) => {
        const r = await who(`/api/v1/assets${q}`);
        expect({ q, status: r.status }).toEqual({ q, status: 200 });
        return r.json();
      };
      const all = await list('');
      expect(all.total).toBeGreaterThanOrEqual(2);
      expect(all.limit).toBe(20);
      expect(all.offset).toBe(0);
      const ids = all.assets.map((a: any) => a.asset_id);
      expect(ids).toContain(first.asset_id);
      expect(ids).toContain(second.asset_id);
      const times = all.assets.map((a: any) => a.created_at);
      expect([...times].sort().reverse()).toEqual(times);
      const asc = await list('?sort=created_at');
      expect(asc.assets.map((a: any) => a.asset_id)).toEqual([...ids].reverse());
      // Every listed link works without headers.
      const one = all.assets.find((a: any) => a.asset_id === first.asset_id);
      expect(one).toMatchObject({
        category: 'image',
        provider: 'openai',
        file_format: 'png',
        style: 'fantasy',
      });
      expect((await anon(pathOf(one.download_url))).status).toBe(200);

      expect((await list('?session_id=quest-7')).assets.map((a: any) => a.asset_id)).toEqual([
        second.asset_id,
      ]);
      const q = await list('?q=WOODEN%20SHIELD');
      expect(q.assets.map((a: any) => a.asset_id)).toEqual([second.asset_id]);
      expect((await list('?q=%25')).total).toBe(0);
      expect((await list('?category=audio')).total).toBe(0);
      const byProvider = await list('?provider=openai');
      expect(byProvider.assets.every((a: any) => a.provider === 'openai')).toBe(true);
      expect(byProvider.total).toBeGreaterThanOrEqual(2);
      expect((await list('?created_after=2999-01-01')).total).toBe(0);
      expect((await list('?created_before=2000-01-01')).total).toBe(0);
      const page = await list('?limit=1&offset=1');
      expect(page.assets.length).toBe(1);
      expect(page.assets[0].asset_id).toBe(ids[1]);
      // B sees none of A's assets.
      expect((await list('', asB)).total).toBe(0);

      for (const bad of ['limit=0', 'limit=101', 'offset=-1', 'created_after=yesterday', 'limit=abc']) {
        const r = await asA(`/api/v1/assets?${bad}`);
        expect({ bad, status: r.status }).toEqual({ bad, status: 422 });
        const b = await r.json();
        expect(b.errors.length).toBeGreaterThan(0);
      }
      const forbidden = await asA('/api/v1/assets?all=true');
      expect(forbidden.status).toBe(403);
      const admin = await s.dev('/api/v1/assets?all=true&limit=100');
      expect(admin.status).toBe(200);
      expect((await admin.json()).assets.map((a: any) => a.asset_id)).toContain(first.asset_id);
      expect((await anon('/api/v1/assets')).status).toBe(401);
    }, 20_000);

    test("get of another user's, a random or a malformed id is 404 with identical bodies; jobs likewise", async () => {
      const own = await asA(`/api/v1/assets/${first.asset_id}`);
      expect(own.status).toBe(200);
      const body = await own.json();
      expect(body.asset_id).toBe(first.asset_id);
      expect(body.category).toBe('image');
      expect(body.source).toBe('generated');
      expect(body.cost).toBe(first.cost);
      expect(body.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect((await anon(pathOf(body.asset_data.download_url))).status).toBe(200);

      const random = crypto.randomUUID();
      for (const id of [first.asset_id, random, 'not-a-uuid']) {
        const r = await asB(`/api/v1/assets/${id}`);
        expect(r.status).toBe(404);
        expect(await r.json()).toEqual({ detail: `Asset ${id} not found` });
      }
      const jobId = first.metadata.generation_id as string;
      const job = await asA(`/api/v1/assets/jobs/${jobId}`);
      expect(job.status).toBe(200);
      const jb = await job.json();
      expect(jb).toMatchObject({
        job_id: jobId,
        status: 'completed',
        asset_id: first.asset_id,
        progress: 100,
      });
      expect(jb.asset.asset_id).toBe(first.asset_id);
      for (const id of [jobId, random, 'not-a-uuid']) {
        const r = await asB(`/api/v1/assets/jobs/${id}`);
        expect(r.status).toBe(404);
        expect(await r.json()).toEqual({ detail: `Job ${id} not found` });
      }
      const jobs = await (await asA('/api/v1/assets/jobs?status=completed')).json();
      expect(jobs.jobs.map((j: any) => j.job_id)).toContain(jobId);
      expect((await (await asB('/api/v1/assets/jobs')).json()).total).toBe(0);
    }, 15_000);

    test('provider result URLs outside the address policy fail the generation with 502 and store nothing', async () => {
      const idC = crypto.randomUUID();
      const asC = as(await s.mintJwt({ sub: idC, email: `c-${idC.slice(0, 8)}@example.com` }));
      const refused = [
        'http://169.254.169.254/latest/meta-data/iam/security-credentials/',
        'https://[::ffff:a9fe:a9fe]/model.glb',
        'https://2130706433/model.glb',
        'https://0/model.glb',
        'https://10.0.0.5/model.glb',
        'https://localhost/model.glb',
        'file:///etc/passwd',
        'ftp://example.com/model.glb',
        'data:model/gltf-binary;base64,Z2xURg==',
        // The fake's own loopback http URL, unmodified.
        null,
      ];
      const createdBefore = meshy.tasks.size;
      for (const target of refused) {
        relay.rewriteTo = target;
        meshy.enqueueTask({ pollsBeforeDone: 1 });
        const r = await asC(
          '/api/v1/assets/generate',
          json({
            category: 'prop',
            style: 'low_poly',
            description: 'A small treasure chest',
            preferences: { max_wait_time_ms: 20_000 },
          }),
        );
        expect({ target, status: r.status }).toEqual({ target, status: 502 });
        expect(await r.json()).toEqual({ detail: 'Provider meshy returned a disallowed download URL' });
      }
      relay.rewriteTo = null;
      expect(meshy.tasks.size).toBe(createdBefore + refused.length);
      // Every job failed as download_refused; nothing was stored for this user.
      const jobs = await (await asC('/api/v1/assets/jobs?limit=100')).json();
      expect(jobs.total).toBe(refused.length);
      for (const j of jobs.jobs) {
        expect(j.status).toBe('failed');
        expect(j.asset_id).toBeNull();
        expect(j.error).toEqual({
          message: 'Provider meshy returned a disallowed download URL',
          type: 'download_refused',
        });
      }
      expect((await (await asC('/api/v1/assets')).json()).total).toBe(0);
      const failed = events.filter(
        (e) => e.subject === 'gaia.asset.generation.failed' && (e.data as any).user_id === idC,
      );
      expect(failed.length).toBe(refused.length);
      expect(failed.every((e) => (e.data as any).error_type === 'download_refused')).toBe(true);
      const stored = [...new Bun.Glob('generated/prop/*').scanSync(readAssetConfig(s.config).storageDir)];
      expect(stored).toEqual([]);
    }, 40_000);

    test('temp files of writes a killed instance left are swept when an instance starts; recent ones stay', async () => {
      const root = readAssetConfig(s.config).storageDir;
      const stale = join(root, `generated/image/left.png.tmp-${crypto.randomUUID()}`);
      const recent = join(root, `generated/image/writing.png.tmp-${crypto.randomUUID()}`);
      mkdirSync(dirname(stale), { recursive: true });
      writeFileSync(stale, 'half a file');
      writeFileSync(recent, 'another instance is writing this');
      const old = new Date(Date.now() - 2 * 3600_000);
      utimesSync(stale, old, old);
      const lines: string[] = [];
      const log = createLogger({ service: 'asset2', level: 'info', json: true, sink: (l) => lines.push(l) });
      const svc = await assetService({
        config: s.config,
        db: s.stack.db,
        bus: s.stack.bus,
        log,
        clients: {},
      });
      try {
        await eventually(async () => (existsSync(stale) ? undefined : true));
        expect(existsSync(recent)).toBe(true);
        await eventually(async () =>
          lines.some((l) => l.includes('temporary files of interrupted writes') && l.includes('"count":1'))
            ? true
            : undefined,
        );
      } finally {
        await svc.close?.();
        rmSync(recent, { force: true });
      }
    });

    test('an oversized provider file is aborted with 502 and nothing is stored', async () => {
      // The real fetcher refuses the fake's loopback URLs, so this instance downloads with a plain fetch that
      // honours the size cap the service passes, as the real one does while streaming.
      let capSeen = 0;
      const fetchFile: FetchFile = async (url, { maxBytes, provider }) => {
        capSeen = maxBytes;
        try {
          const res = await fetch(url);
          const reader = res.body!.getReader();
          const chunks: Uint8Array[] = [];
          let n = 0;
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            n += value.byteLength;
            if (n > maxBytes) {
              await reader.cancel();
              throw new DownloadTooLarge(maxBytes);
            }
            chunks.push(value);
          }
          return { bytes: Buffer.concat(chunks), contentType: res.headers.get('content-type') ?? '' };
        } catch (err) {
          throw downloadProviderError(provider, err);
        }
      };
      const svc = await assetService(
        { config: s.config, db: s.stack.db, bus: s.stack.bus, log: quietLog(), clients: {} },
        { fetchFile },
      );
      try {
        const idD = crypto.randomUUID();
        // A user exists once it has called the gateway.
        expect((await as(await s.mintJwt({ sub: idD }))('/api/v1/assets')).status).toBe(200);
        const call = (body: unknown) =>
          svc.handle(
            new Request('http://asset/api/v1/assets/generate', {
              method: 'POST',
              headers: { 'content-type': 'application/json', [IDENTITY_HEADER]: userToken(idD) },
              body: JSON.stringify(body),
            }),
          );
        const prop = {
          category: 'prop',
          style: 'low_poly',
          description: 'A tiny barrel',
          preferences: { max_wait_time_ms: 20_000 },
        };
        meshy.enqueueTask({ pollsBeforeDone: 1 });
        const big = await call({
          ...prop,
          requirements: { platform: 'desktop_vr', file_size_max_mb: 0.0001 },
        });
        expect(big.status).toBe(502);
        expect((await big.json()).detail).toStartWith('Provider meshy failed: ');
        expect(capSeen).toBeLessThanOrEqual(Math.ceil(0.0001 * 1024 * 1024));
        const list = await svc.handle(
          new Request('http://asset/api/v1/assets', { headers: { [IDENTITY_HEADER]: userToken(idD) } }),
        );
        expect((await list.json()).total).toBe(0);
        // Within the cap the same fetcher delivers a GLB that downloads through the gateway byte for byte.
        meshy.enqueueTask({ pollsBeforeDone: 1 });
        const ok = await call(prop);
        expect(ok.status).toBe(200);
        const asset = await ok.json();
        expect(asset.asset_data.file_format).toBe('glb');
        const file = await anon(pathOf(asset.asset_data.download_url));
        expect(file.status).toBe(200);
        expect(file.headers.get('content-type')).toBe('model/gltf-binary');
        expect(sha256(new Uint8Array(await file.arrayBuffer()))).toBe(sha256(tinyGlb()));
      } finally {
        await svc.close?.();
      }
    }, 30_000);

    test('pricing routes through the gateway', async () => {
      const get = async (path: string, who = asA) => {
        const r = await who(`/api/v0.2/assets/pricing${path}`);
        return { status: r.status, body: await r.json() };
      };
      const post = async (path: string, body: unknown, who = asA) => {
        const r = await who(`/api/v0.2/assets/pricing${path}`, json(body));
        return { status: r.status, body: await r.json() };
      };

      const cur = await get('/current?provider=dalle&category=image&quality=standard');
      expect(cur.status).toBe(200);
      expect(cur.body.currency).toBe('USD');
      expect(cur.body.pricing).toMatchObject({ provider: 'dalle', model: 'per_image', cost_per_unit: 0.04 });
      expect(cur.body.pricing.rates.hd['1792x1024']).toBe(0.12);
      expect((await get('/current?provider=openai')).body.pricing.provider).toBe('dalle');
      expect((await get('/current')).status).toBe(422);
      const foo = await get('/current?provider=foo');
      expect(foo).toEqual({ status: 404, body: { detail: 'Pricing not found for provider: foo' } });
      expect((await anon('/api/v0.2/assets/pricing/current?provider=dalle')).status).toBe(401);

      const providers = await get('/providers');
      expect(providers.status).toBe(200);
      expect(providers.body.total_providers).toBe(7);
      const byName = Object.fromEntries(providers.body.providers.map((p: any) => [p.name, p]));
      expect(byName.dalle.configured).toBe(true);
      expect(byName.meshy.configured).toBe(true);
      expect(byName.stability.configured).toBe(false);
      expect(byName.meshy.operations).toContain('text_to_3d_with_texture');

      // Analytics: the figures are A's real generations made above.
      const jobs = (await (await asA('/api/v1/assets/jobs?limit=100')).json()).jobs;
      const micro = (n: number) => Math.round(n * 1_000_000);
      const spent = jobs.reduce((sum: number, j: any) => sum + micro(j.cost ?? 0), 0) / 1_000_000;
      const openaiJobs = jobs.filter((j: any) => j.provider === 'openai');
      expect(openaiJobs.length).toBeGreaterThanOrEqual(2);
      const an = await get('/analytics');
      expect(an.status).toBe(200);
      expect(an.body.total_cost).toBeCloseTo(spent, 4);
      expect(an.body.total_cost).toBeGreaterThan(0);
      expect(an.body.usage_metrics.total_generations).toBe(jobs.length);
      expect(an.body.usage_metrics.total_images).toBe(
        jobs.filter((j: any) => j.status === 'completed').length,
      );
      expect(an.body.cost_breakdown.dalle).toBeCloseTo(
        openaiJobs.reduce((sum: number, j: any) => sum + micro(j.cost), 0) / 1_000_000,
        4,
      );
      const today = new Date().toISOString().slice(0, 10);
      expect(an.body.cost_trends.map((t: any) => t.date)).toContain(today);
      const filtered = await get(`/analytics?provider=dalle&start_date=${today}&end_date=${today}`);
      expect(filtered.status).toBe(200);
      expect(filtered.body.filtered_provider).toBe('dalle');
      expect(filtered.body.provider_cost).toBeCloseTo(an.body.cost_breakdown.dalle, 4);
      expect((await get('/analytics', asB)).body.total_cost).toBe(0);
      for (const bad of [
        'start_date=2025-13-01',
        'start_date=2025-02-01&end_date=2025-01-01',
        'start_date=2024-01-01&end_date=2025-06-01',
      ])
        expect({ bad, status: (await get(`/analytics?${bad}`)).status }).toEqual({ bad, status: 422 });

      const upd = await asA('/api/v0.2/assets/pricing/update?provider=dalle', { method: 'POST' });
      expect(upd.status).toBe(403);
      const adminUpd = await s.dev('/api/v0.2/assets/pricing/update?provider=dalle', { method: 'POST' });
      expect(adminUpd.status).toBe(200);
      expect(await adminUpd.json()).toMatchObject({
        message: 'Pricing update triggered for dalle',
        provider: 'dalle',
        status: 'completed',
      });
      const unknownUpd = await s.dev('/api/v0.2/assets/pricing/update?provider=foo', { method: 'POST' });
      expect(unknownUpd.status).toBe(404);
      expect(await unknownUpd.json()).toEqual({ detail: 'Provider not found: foo' });

      const est = await post('/cost-estimator/estimate', { provider: 'dalle', quantity: 2, quality: 'hd' });
      expect(est.status).toBe(200);
      expect(est.body).toMatchObject({
        provider: 'dalle',
        operation: 'image_generation',
        quantity: 2,
        quality: 'hd',
        cost_per_unit: 0.08,
        total_cost: 0.16,
        tier_fee: 0,
        currency: 'USD',
      });
      const claude = await post('/cost-estimator/estimate', { provider: 'claude', estimated_tokens: 1000 });
      expect(claude.body).toMatchObject({ input_cost: 0.015, output_cost: 0.0375, total_cost: 0.0525 });
      const meshyEst = await post('/cost-estimator/estimate', {
        provider: 'meshy',
        operation: 'text_to_3d_with_texture',
      });
      expect(meshyEst.body).toMatchObject({ credits_per_operation: 15, total_credits: 15, total_cost: 0.3 });
      expect(meshyEst.body.estimated_cost).toBe(meshyEst.body.total_cost);
      expect(await post('/cost-estimator/estimate', { provider: 'foo' })).toEqual({
        status: 400,
        body: { detail: 'Valid provider required' },
      });
      expect((await post('/cost-estimator/estimate', {})).status).toBe(400);
      expect(
        (await post('/cost-estimator/estimate', { provider: 'dalle', operation: 'teleport' })).status,
      ).toBe(400);
      expect((await post('/cost-estimator/estimate', { provider: 'dalle', quantity: 0 })).status).toBe(422);
      expect((await post('/cost-estimator/estimate', { provider: 'dalle', quantity: 1001 })).status).toBe(
        422,
      );
      expect(
        (await post('/cost-estimator/estimate', { asset_request: { category: 'vehicle', style: 'x' } }))
          .status,
      ).toBe(422);

      // The asset_request form quotes exactly what generate then charges.
      const req = imageRequest('A bronze lantern on a chain', {
        preferences: { max_wait_time_ms: 20_000, provider: 'openai', max_cost: 0.02 },
      });
      const quote = await post('/cost-estimator/estimate', { asset_request: req });
      expect(quote.status).toBe(200);
      expect(quote.body).toMatchObject({
        provider: 'openai',
        category: 'image',
        within_max_cost: false,
        max_cost: 0.02,
        reuse_available: false,
        currency: 'USD',
      });
      expect(quote.body.cost_breakdown.total_cost).toBe(quote.body.estimated_cost);
      const refused = await asA('/api/v1/assets/generate', json(req));
      expect(refused.status).toBe(402);
      expect((await refused.json()).detail).toBe(
        `Estimated cost $${quote.body.estimated_cost.toFixed(4)} exceeds max_cost $0.0200`,
      );
      const okReq = { ...req, preferences: { ...req.preferences, max_cost: quote.body.estimated_cost } };
      const okQuote = await post('/cost-estimator/estimate', { asset_request: okReq });
      expect(okQuote.body.within_max_cost).toBe(true);
      openai.enqueue({ usage: null });
      const made = await asA('/api/v1/assets/generate', json(okReq));
      expect(made.status).toBe(200);
      const madeBody = await made.json();
      expect(madeBody.cost).toBe(quote.body.estimated_cost);
      expect(madeBody.cost_breakdown.generation_cost).toBe(quote.body.estimated_cost);
      const again = await post('/cost-estimator/estimate', { asset_request: okReq });
      expect(again.body.reuse_available).toBe(true);

      const tiers = await get('/cost-estimator/dalle-tiers');
      expect(tiers.status).toBe(200);
      expect(tiers.body.tiers.map((t: any) => [t.name, t.monthly_fee, t.standard_cost, t.hd_cost])).toEqual([
        ['Tier 1', 5, 0.04, 0.08],
        ['Tier 2', 50, 0.04, 0.08],
        ['Tier 3', 500, 0.04, 0.08],
      ]);
      expect(tiers.body.per_image_rates).toEqual({
        standard_1024x1024: 0.04,
        hd_1024x1024: 0.08,
        standard_1792x1024: 0.08,
        hd_1792x1024: 0.12,
      });
      const packages = await get('/cost-estimator/meshy-packages');
      expect(packages.body).toEqual({
        provider: 'meshy',
        pricing_model: 'credit_based',
        packages: [
          { name: 'Starter', credits: 200, cost: 6, cost_per_credit: 0.03 },
          { name: 'Professional', credits: 1000, cost: 20, cost_per_credit: 0.02 },
          { name: 'Enterprise', credits: 5000, cost: 80, cost_per_credit: 0.016 },
        ],
        operations: {
          text_to_3d: 5,
          text_to_3d_with_texture: 15,
          image_to_3d: 10,
          mesh_refining: 8,
          texture_generation: 3,
        },
        default_package: 'professional',
        currency: 'USD',
      });
      const cmp = await get('/cost-estimator/provider-comparison?operation=image_generation&quantity=2');
      expect(cmp.status).toBe(200);
      expect(cmp.body.providers.map((p: any) => p.provider)).not.toContain('local');
      const totals = cmp.body.providers.map((p: any) => p.total_cost);
      expect([...totals].sort((x: number, y: number) => x - y)).toEqual(totals);
      expect(cmp.body.cheapest_provider).toBe(cmp.body.providers[0].provider);
      const dalle = cmp.body.providers.find((p: any) => p.provider === 'dalle');
      expect(dalle).toMatchObject({ cost_per_unit: 0.04, total_cost: 0.08, configured: true });
      expect(await get('/cost-estimator/provider-comparison?operation=teleport')).toEqual({
        status: 400,
        body: { detail: 'Unknown operation: teleport' },
      });
    }, 30_000);

    test('no body, log line or event carries a provider key, an Authorization value or the URL secret', async () => {
      const secrets = [
        openai.apiKey,
        FAKE_MESHY_KEY,
        urlSecret,
        s.config.internalSecret,
        jwtA,
        jwtB,
        s.devKey,
      ];
      const texts = [...bodies, ...s.logs, ...events.map((e) => JSON.stringify(e))];
      expect(texts.length).toBeGreaterThan(50);
      for (const secret of secrets) {
        const hit = texts.find((t) => t.includes(secret));
        expect(hit === undefined ? null : `${hit.slice(0, 120)}…`).toBeNull();
      }
      // Events never carry prompts beyond category and style.
      expect(events.some((e) => JSON.stringify(e).includes('glowing magical sword'))).toBe(false);
      expect(events.filter((e) => e.subject === 'gaia.asset.generation.completed').length).toBeGreaterThan(0);
    }, 10_000);
  });
}

for (const backend of testBackends()) {
  describe(`asset S3 storage (${backend.name})`, () => {
    let s: StackHandle;
    let s3: FakeS3;

    beforeAll(async () => {
      s3 = startFakeS3({ buckets: ['gaia-assets'] });
      s = await startStack({
        databaseUrl: await backend.databaseUrl(),
        natsUrl: backend.name === 'postgresql' ? natsTestUrl() : undefined,
        env: {
          ASSET_STORAGE: 's3',
          ASSET_S3_BUCKET: 'gaia-assets',
          ASSET_S3_ENDPOINT: s3.url,
          ASSET_S3_REGION: s3.region,
          ASSET_S3_ACCESS_KEY_ID: s3.accessKeyId,
          ASSET_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
          ASSET_S3_PREFIX: '/tenant-a/',
          ASSET_S3_FORCE_PATH_STYLE: 'true',
        },
      });
    }, 30_000);

    afterAll(async () => {
      await s?.stop();
      await s3?.stop();
    });

    test('a generated image lands in the bucket under the prefix and streams back through Gaia', async () => {
      const r = await s.dev(
        '/api/v1/assets/generate',
        json({ category: 'texture', style: 'stylized', description: 'Mossy cobblestones' }),
      );
      expect(r.status).toBe(200);
      const a = await r.json();
      expect(a.storage_info).toEqual({
        storage_type: 's3',
        bucket_name: 'gaia-assets',
        file_path: `generated/texture/${a.asset_id}.png`,
        external_source: 'local',
      });
      const object = s3.objects.get(`gaia-assets/tenant-a/generated/texture/${a.asset_id}.png`);
      expect(object).toBeDefined();
      expect(object!.contentType).toBe('image/png');
      expect(s3.objects.has(`gaia-assets/tenant-a/previews/${a.asset_id}.png`)).toBe(true);
      // Nothing was written locally.
      expect(
        await Bun.file(join(readAssetConfig(s.config).storageDir, a.storage_info.file_path)).exists(),
      ).toBe(false);
      expect(s3.requests.length).toBeGreaterThan(0);
      expect(s3.requests.every((q) => q.authorized)).toBe(true);

      const file = await s.fetch(pathOf(a.asset_data.download_url));
      expect(file.status).toBe(200);
      const bytes = new Uint8Array(await file.arrayBuffer());
      expect(sha256(bytes)).toBe(sha256(object!.bytes));
      expect(file.headers.get('content-length')).toBe(String(object!.bytes.length));
      expect(file.headers.get('etag')).toBe(`"${sha256(object!.bytes)}"`);
      expect(file.headers.get('content-type')).toBe('image/png');
      expect([...bytes.slice(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

      const part = await s.fetch(pathOf(a.asset_data.download_url), { headers: { range: 'bytes=0-99' } });
      expect(part.status).toBe(206);
      expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes.slice(0, 100));
      expect(s3.requests.some((q) => q.range !== null)).toBe(true);

      const preview = await s.fetch(pathOf(a.asset_data.preview_image_url));
      expect(preview.status).toBe(200);
      const png = PNG.sync.read(Buffer.from(await preview.arrayBuffer()));
      expect(Math.max(png.width, png.height)).toBeLessThanOrEqual(512);

      // An object removed from the bucket behind Gaia's back is 410.
      s3.objects.delete(`gaia-assets/tenant-a/generated/texture/${a.asset_id}.png`);
      const gone = await s.fetch(pathOf(a.asset_data.download_url));
      expect(gone.status).toBe(410);
      expect(await gone.json()).toEqual({ detail: 'Asset file is no longer available' });
    }, 20_000);
  });
}

/**
 * An asset instance in its own process, so it can be killed with SIGKILL mid-job as a crashed container is.
 * It shares the test's database, data folder and secrets, and downloads provider URLs with a plain fetch
 * (the fakes live on loopback).
 */
function childAssetSource(root: string): string {
  return `
import { loadConfig } from '${root}/src/config.ts';
import { openPlatform } from '${root}/src/platform.ts';
import { createLogger } from '${root}/src/log.ts';
import { assetService } from '${root}/services/asset/app.ts';
const config = loadConfig(JSON.parse(process.env.ASSET_CHILD_ENV));
const log = createLogger({ service: 'asset-child', level: 'warn', json: true, sink: () => {} });
const { db, bus } = await openPlatform(config, 'asset', log);
const fetchFile = async (url) => {
  const r = await fetch(url);
  return { bytes: new Uint8Array(await r.arrayBuffer()), contentType: r.headers.get('content-type') ?? '' };
};
const svc = await assetService({ config, db, bus, log, clients: {} }, { fetchFile });
const server = Bun.serve({ hostname: '127.0.0.1', port: 0, idleTimeout: 0, fetch: (req) => svc.handle(req) });
console.log('PORT ' + server.port);
`;
}

for (const backend of testBackends()) {
  describe(`asset restart (${backend.name})`, () => {
    let s: StackHandle;
    let openai: FakeOpenAIImages;
    let meshy: FakeMeshy;
    const natsUrl = backend.name === 'postgresql' ? natsTestUrl() : undefined;
    const events: BusMessage[] = [];
    let env: Record<string, string>;

    beforeAll(async () => {
      openai = await startFakeOpenAIImages();
      meshy = await startFakeMeshy();
      env = {
        OPENAI_API_KEY: openai.apiKey,
        OPENAI_IMAGES_BASE_URL: openai.url,
        MESHY_API_KEY: FAKE_MESHY_KEY,
        MESHY_API_BASE: meshy.url,
        MESHY_POLL_INTERVAL_MS: '100',
        GAIA_INTERNAL_SECRET: 'restart-internal-secret-0123456789abcdef',
        ASSET_URL_SECRET: 'restart-url-secret-0123456789abcdef',
      };
      s = await startStack({ databaseUrl: await backend.databaseUrl(), natsUrl, env });
      s.stack.bus.subscribe('gaia.asset.>', (m) => {
        events.push(m);
      });
    }, 30_000);

    afterAll(async () => {
      await s?.stop();
      await openai?.stop();
      await meshy?.stop();
    });

    test('a Meshy job resumes on a new instance after a SIGKILL; an OpenAI job in flight is interrupted', async () => {
      const userId = crypto.randomUUID();
      expect(
        (
          await s.fetch('/api/v1/assets', {
            headers: { authorization: `Bearer ${await s.mintJwt({ sub: userId })}` },
          })
        ).status,
      ).toBe(200);
      const token = signIdentitySync(s.config.internalSecret, {
        auth_type: 'jwt',
        sub: userId,
        email: 'restart@example.com',
        admin: false,
        rid: crypto.randomUUID(),
        ip: '127.0.0.1',
      });
      const childEnv = {
        GAIA_ENV: 'test',
        GAIA_DATA_DIR: s.dataDir,
        DATABASE_URL: s.config.database.url,
        ...(natsUrl ? { NATS_URL: natsUrl } : {}),
        ...env,
      };
      const child = Bun.spawn(['bun', '-e', childAssetSource(join(import.meta.dir, '../..'))], {
        env: { ...process.env, ASSET_CHILD_ENV: JSON.stringify(childEnv) },
        stdout: 'pipe',
        stderr: 'pipe',
      });
      let svc2: Awaited<ReturnType<typeof assetService>> | null = null;
      try {
        const reader = child.stdout.getReader();
        let out = '';
        while (!/PORT (\d+)/.test(out)) {
          const { done, value } = await reader.read();
          if (done) throw new Error(`child exited: ${await new Response(child.stderr).text()}`);
          out += new TextDecoder().decode(value);
        }
        const port = Number(/PORT (\d+)/.exec(out)![1]);
        const post = (body: unknown) =>
          fetch(`http://127.0.0.1:${port}/api/v1/assets/generate`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', [IDENTITY_HEADER]: token },
            body: JSON.stringify(body),
          });

        // The Meshy task needs 40 polls (4 s at 100 ms); the first instance answers 202 after 1 s.
        meshy.enqueueTask({ pollsBeforeDone: 40 });
        const r3d = await post({
          category: 'prop',
          style: 'fantasy',
          description: 'An enchanted wooden chest',
          preferences: { max_wait_time_ms: 1000 },
        });
        expect(r3d.status).toBe(202);
        const accepted = await r3d.json();
        expect(r3d.headers.get('location')).toBe(`/api/v1/assets/jobs/${accepted.job_id}`);
        expect(accepted.status).toBe('processing');
        const taskId = [...meshy.tasks.keys()].at(-1)!;

        openai.enqueue({ hang: true });
        const rImg = await post(
          imageRequest('A lantern that never finishes', {
            preferences: { max_wait_time_ms: 1000, provider: 'openai' },
          }),
        );
        expect(rImg.status).toBe(202);
        const imgJob = (await rImg.json()).job_id as string;

        // The crash: no shutdown, no cleanup.
        child.kill('SIGKILL');
        await child.exited;
        const pollsAtKill = meshy.polls(taskId);
        expect(pollsAtKill).toBeLessThan(40);
        const tasksAtKill = meshy.tasks.size;

        const t = s.stack.db.t.assetJobs;
        const rowOf = async (id: string) => (await s.stack.db.orm.select().from(t).where(eq(t.id, id)))[0]!;
        expect((await rowOf(accepted.job_id)).status).toBe('processing');
        expect((await rowOf(imgJob)).reservedMicroUsd).toBeGreaterThan(0);
        // The dead instance's claim on its jobs is a lease it no longer renews; let it lapse now rather
        // than after its 15 s (the stack's own instance, whose real fetcher refuses loopback URLs, would
        // otherwise race the new instance for the job at its next sweep).
        await s.stack.db.orm
          .update(t)
          .set({ lockedUntil: new Date(Date.now() - 1000) })
          .where(inArray(t.id, [accepted.job_id, imgJob]));

        const fetchFile: FetchFile = async (url) => {
          const res = await fetch(url);
          return {
            bytes: new Uint8Array(await res.arrayBuffer()),
            contentType: res.headers.get('content-type') ?? '',
          };
        };
        svc2 = await assetService(
          { config: s.config, db: s.stack.db, bus: s.stack.bus, log: quietLog(), clients: {} },
          { fetchFile },
        );

        // The OpenAI job cannot be continued: failed as interrupted, its reservation released.
        const img = await rowOf(imgJob);
        expect(img.status).toBe('failed');
        expect(img.error).toEqual({
          message: 'Generation was interrupted by a restart',
          type: 'interrupted',
        });
        expect(img.reservedMicroUsd ?? 0).toBe(0);
        expect(img.costMicroUsd ?? 0).toBe(0);

        const done = await eventually(async () => {
          const row = await rowOf(accepted.job_id);
          return row.status === 'completed' || row.status === 'failed' ? row : undefined;
        }, 20_000);
        expect(done.status).toBe('completed');
        // Resumed, not started again: the same Meshy task, polled further by the new instance.
        expect(meshy.tasks.size).toBe(tasksAtKill);
        expect(meshy.polls(taskId)).toBeGreaterThan(pollsAtKill);

        const asUser = { authorization: `Bearer ${await s.mintJwt({ sub: userId })}` };
        const job = await (
          await s.fetch(`/api/v1/assets/jobs/${accepted.job_id}`, { headers: asUser })
        ).json();
        expect(job).toMatchObject({ status: 'completed', progress: 100, error: null });
        expect(job.cost).toBe(0.4);
        const file = await s.fetch(pathOf(job.asset.asset_data.download_url));
        expect(file.status).toBe(200);
        expect(file.headers.get('content-type')).toBe('model/gltf-binary');
        expect(sha256(new Uint8Array(await file.arrayBuffer()))).toBe(sha256(tinyGlb()));
        const interrupted = await (
          await s.fetch(`/api/v1/assets/jobs/${imgJob}`, { headers: asUser })
        ).json();
        expect(interrupted.status).toBe('failed');
        expect(interrupted.error.type).toBe('interrupted');

        await Bun.sleep(300);
        const completed = events.filter(
          (e) =>
            e.subject === 'gaia.asset.generation.completed' &&
            (e.data as any).generation_id === accepted.job_id,
        );
        expect(completed.length).toBe(1);
        expect((completed[0]!.data as any).asset_id).toBe(job.asset_id);
        const failed = events.filter(
          (e) => e.subject === 'gaia.asset.generation.failed' && (e.data as any).generation_id === imgJob,
        );
        expect(failed.length).toBe(1);
        expect((failed[0]!.data as any).error_type).toBe('interrupted');
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
        await svc2?.close?.();
      }
    }, 45_000);
  });
}
