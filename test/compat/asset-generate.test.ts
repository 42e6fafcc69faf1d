/**
 * Asset generation through the gateway, once per backend: request validation and the gateway's body rules,
 * the offline `local` provider's real PNGs, OpenAI (and the Stability fallback) through wire-true fakes, the
 * honest price and both budget rules, reuse and joins of identical requests, jobs past the synchronous wait,
 * the bus events of a generation, and (PostgreSQL only) the daily budget held by two instances sharing one
 * database under concurrent load.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { PNG } from 'pngjs';
import { openDb } from '../../db/index.ts';
import { assetService } from '../../services/asset/app.ts';
import type { BusMessage } from '../../src/bus/types.ts';
import { loadConfig } from '../../src/config.ts';
import { IDENTITY_HEADER, signIdentitySync } from '../../src/http/identity.ts';
import { createLogger } from '../../src/log.ts';
import type { MountedService } from '../../src/platform.ts';
import { type FakeOpenAIImages, startFakeOpenAIImages } from '../fakes/openai-images.ts';
import { type FakeStability, startFakeStability } from '../fakes/stability.ts';
import { dropTestDatabases, natsTestUrl, testBackends } from '../support/backends.ts';
import { eventually } from '../support/eventually.ts';
import { type StackHandle, startStack } from '../support/stack.ts';

afterAll(async () => {
  await dropTestDatabases();
});

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Fits exactly one high-quality gpt-image (0.167) or seven medium ones (0.042 each, 0.0423 actual). */
const DAILY_BUDGET = '0.30';

const base = (extra: Record<string, unknown> = {}) => ({
  category: 'image',
  style: 'fantasy',
  description: 'A glowing magical sword with runes',
  requirements: { platform: 'mobile_vr', quality: 'medium' },
  ...extra,
});

/** Cost of a gpt-image-1 answer from the fake's usage: text tokens $5/1M, output tokens $40/1M, in micro-dollars. */
function usageCost(prompt: string, quality: 'low' | 'medium' | 'high'): number {
  const textTokens = Math.max(1, Math.ceil(prompt.length / 4));
  const output = { low: 272, medium: 1056, high: 4160 }[quality];
  const micro = textTokens * 5 + output * 40;
  return Math.round(micro / 100) / 10_000;
}

for (const backend of testBackends()) {
  describe(`asset generation (${backend.name})`, () => {
    let s: StackHandle;
    let bare: StackHandle;
    let oi: FakeOpenAIImages;
    let st: FakeStability;
    let databaseUrl: string;
    const events: BusMessage[] = [];
    const errorBodies: string[] = [];

    const providerEnv = () => ({
      OPENAI_API_KEY: oi.apiKey,
      OPENAI_IMAGES_BASE_URL: oi.url,
      STABILITY_API_KEY: st.apiKey,
      STABILITY_API_BASE: st.url,
      ASSET_DAILY_BUDGET_USD: DAILY_BUDGET,
      // Short enough for a hanging provider to time out within a test, longer than any scripted delay.
      ASSET_PROVIDER_TIMEOUT_MS: '4000',
    });

    beforeAll(async () => {
      oi = await startFakeOpenAIImages({ apiKey: 'sk-test-images-secret-4f1c9a' });
      st = await startFakeStability({ apiKey: 'sk-test-stability-secret-8e2d7b' });
      databaseUrl = await backend.databaseUrl();
      const natsUrl = backend.name === 'postgresql' ? natsTestUrl() : undefined;
      s = await startStack({ databaseUrl, natsUrl, env: providerEnv() });
      // No provider key at all: only the offline provider can serve images.
      bare = await startStack({ databaseUrl: await backend.databaseUrl() });
      s.stack.bus.subscribe('gaia.asset.>', (m) => {
        events.push(m);
      });
    }, 60_000);

    afterAll(async () => {
      await s?.stop();
      await bare?.stop();
      await oi?.stop();
      await st?.stop();
    });

    interface User {
      id: string;
      jwt: string;
      call(path: string, init?: RequestInit): Promise<Response>;
      gen(body: unknown, init?: RequestInit): Promise<Response>;
    }

    async function newUser(stack: StackHandle = s): Promise<User> {
      const id = crypto.randomUUID();
      const jwt = await stack.mintJwt({ sub: id, email: `u-${id.slice(0, 8)}@example.com` });
      const call = async (path: string, init: RequestInit = {}) => {
        const r = await stack.fetch(path, {
          ...init,
          headers: { authorization: `Bearer ${jwt}`, ...(init.headers as object) },
        });
        if (r.status >= 400) errorBodies.push(await r.clone().text());
        return r;
      };
      const gen = (body: unknown, init: RequestInit = {}) =>
        call('/api/v1/assets/generate', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(init.headers as object) },
          body: typeof body === 'string' ? body : JSON.stringify(body),
          signal: init.signal,
        });
      return { id, jwt, call, gen };
    }

    const eventsOf = (userId: string, kind?: string) =>
      events.filter(
        (m) =>
          (m.data as Record<string, unknown>).user_id === userId &&
          (kind === undefined || m.subject === `gaia.asset.generation.${kind}`),
      );

    /** The bytes behind a returned Gaia link (its host is GAIA_PUBLIC_URL; the path is served by this gateway). */
    async function download(stack: StackHandle, link: string): Promise<Uint8Array> {
      const u = new URL(link);
      const r = await stack.fetch(u.pathname + u.search);
      expect(r.status).toBe(200);
      return new Uint8Array(await r.arrayBuffer());
    }

    async function jobsOf(userId: string) {
      const db = s.stack.db;
      const j = db.t.assetJobs;
      return db.orm.select().from(j).where(eq(j.userId, userId));
    }

    test('bad input is refused with the exact statuses, and reaches no provider and no bus', async () => {
      const u = await newUser();
      const calls = oi.requests.length + st.requests.length;

      const missing = await u.gen({});
      expect(missing.status).toBe(422);
      const mb = await missing.json();
      expect(typeof mb.detail).toBe('string');
      expect(mb.errors.map((e: { path: string }) => e.path).sort()).toEqual([
        'category',
        'description',
        'style',
      ]);

      const vehicle = await (await u.gen(base({ category: 'vehicle' }))).json();
      expect(vehicle.errors[0].path).toBe('category');
      for (const c of ['environment', 'character', 'prop', 'audio', 'texture', 'animation', 'image'])
        expect(vehicle.errors[0].message).toContain(c);

      const anim = await u.gen(base({ category: 'animation' }));
      expect(anim.status).toBe(422);
      expect((await anim.json()).detail).toBe("No provider configured for category 'animation'");

      const expect422 = async (body: unknown, path: string) => {
        const r = await u.gen(body);
        expect(r.status).toBe(422);
        const b = await r.json();
        expect(b.errors.map((e: { path: string }) => e.path)).toContain(path);
      };
      await expect422(base({ description: '     ' }), 'description');
      await expect422(base({ description: 'x'.repeat(4001) }), 'description');
      await expect422(base({ requirements: { quality: 'high' } }), 'requirements.platform');
      await expect422(base({ requirements: { platform: 'ar', quality: 'extreme' } }), 'requirements.quality');
      await expect422(base({ requirements: { platform: 'ar', format: 'exe' } }), 'requirements.format');
      await expect422(base({ requirements: { platform: 'ar', size: '4096x4096' } }), 'requirements.size');
      await expect422(
        base({
          category: 'audio',
          style: 'ambient-calm',
          requirements: { platform: 'ar', duration_seconds: 5 },
        }),
        'requirements.duration_seconds',
      );
      await expect422(base({ preferences: { max_cost: -1 } }), 'preferences.max_cost');
      await expect422(base({ preferences: { max_wait_time_ms: -5 } }), 'preferences.max_wait_time_ms');
      await expect422(base({ preferences: { max_wait_time_ms: 700_000 } }), 'preferences.max_wait_time_ms');
      await expect422(base({ session_id: 's'.repeat(300) }), 'session_id');
      await expect422(base({ preferences: { provider: 'meshy' } }), 'preferences.provider');

      const prop = await u.gen(base({ category: 'prop' }));
      expect(prop.status).toBe(422);
      expect((await prop.json()).detail).toBe("No provider configured for category 'prop'");
      const propMeshy = await u.gen(base({ category: 'prop', preferences: { provider: 'meshy' } }));
      expect(propMeshy.status).toBe(422);

      for (const key of ['callback_url', 'image_url', 'api_base', 'base_url', 'webhook']) {
        const r = await u.gen(base({ [key]: 'http://169.254.169.254/' }));
        expect(r.status).toBe(422);
        expect(await r.json()).toEqual({
          detail: `Field not allowed: ${key}`,
          errors: [{ path: key, message: 'URLs cannot be supplied to the asset service' }],
        });
      }
      const nested = await u.gen(
        base({ requirements: { platform: 'ar', reference_url: 'https://example.com/x.png' } }),
      );
      expect(nested.status).toBe(422);
      const nb = await nested.json();
      expect(nb.detail).toBe('Field not allowed: reference_url');
      expect(nb.errors).toEqual([
        { path: 'requirements.reference_url', message: 'URLs cannot be supplied to the asset service' },
      ]);

      // The gateway's own body rules for this route.
      const big = await u.gen(base({ padding: 'p'.repeat(70 * 1024) }));
      expect(big.status).toBe(413);
      expect(await big.json()).toEqual({ detail: 'Request body too large (limit 65536 bytes)' });
      const notJson = await u.gen('{"category": "image",');
      expect(notJson.status).toBe(400);
      expect(typeof (await notJson.json()).detail).toBe('string');
      const form = new FormData();
      form.set('category', 'image');
      const multipart = await u.call('/api/v1/assets/generate', { method: 'POST', body: form });
      expect(multipart.status).toBe(415);

      // Unauthenticated callers never reach the service.
      const anon = await s.fetch('/api/v1/assets/generate', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(base()),
      });
      expect(anon.status).toBe(401);

      expect(oi.requests.length + st.requests.length).toBe(calls);
      expect(eventsOf(u.id)).toEqual([]);
      expect(await jobsOf(u.id)).toEqual([]);
    }, 30_000);

    test('a URL inside the description is plain text sent as part of the prompt', async () => {
      const u = await newUser();
      const before = oi.requests.length;
      const r = await u.gen(
        base({ description: 'A map of http://169.254.169.254/latest/meta-data as a treasure chart' }),
      );
      expect(r.status).toBe(200);
      expect(oi.requests.length).toBe(before + 1);
      expect(oi.requests.at(-1)!.body.prompt).toContain('http://169.254.169.254/latest/meta-data');
    }, 30_000);

    test('without provider keys, images come from the local provider as real, deterministic PNGs', async () => {
      const a = await newUser(bare);
      const b = await newUser(bare);
      const req = base({ description: 'A quiet lake at dawn' });
      const r1 = await a.gen(req);
      expect(r1.status).toBe(200);
      const one = await r1.json();
      expect(one.source).toBe('generated');
      expect(one.cost).toBe(0);
      expect(one.cost_breakdown.total_cost).toBe(0);
      expect(one.metadata.provider).toBe('local');
      expect(one.metadata.model).toBe('gaia-local-image');
      expect(one.storage_info.external_source).toBe('local');
      expect(one.asset_data.file_format).toBe('png');
      expect(one.asset_data.license_type).toBe('public_domain');
      const bytes1 = await download(bare, one.asset_data.download_url);
      expect([...bytes1.slice(0, 8)]).toEqual(PNG_SIGNATURE);
      const decoded = PNG.sync.read(Buffer.from(bytes1));
      expect([decoded.width, decoded.height]).toEqual([512, 512]);
      expect(one.asset_data.file_size_mb).toBe(Math.round((bytes1.length / 1024 / 1024) * 10_000) / 10_000);

      // Another user: a separate asset (reuse is per user), the same bytes.
      const two = await (await b.gen(req)).json();
      expect(two.source).toBe('generated');
      expect(two.asset_id).not.toBe(one.asset_id);
      expect(await download(bare, two.asset_data.download_url)).toEqual(bytes1);

      // The same user refusing reuse: a new asset, still byte-identical.
      const three = await (await a.gen({ ...req, preferences: { allow_database: false } })).json();
      expect(three.source).toBe('generated');
      expect(three.asset_id).not.toBe(one.asset_id);
      expect(await download(bare, three.asset_data.download_url)).toEqual(bytes1);

      // A different request draws a different picture.
      const other = await (await a.gen(base({ description: 'A stormy sea at night' }))).json();
      expect(await download(bare, other.asset_data.download_url)).not.toEqual(bytes1);

      const prop = await a.gen(base({ category: 'prop' }));
      expect(prop.status).toBe(422);
      expect(await prop.json()).toEqual({ detail: "No provider configured for category 'prop'" });
    }, 30_000);

    test('openai: the AssetResponse, the wire request, the cost from usage and one started/completed pair', async () => {
      const u = await newUser();
      const before = oi.requests.length;
      const r = await u.gen(base({ session_id: 'quest-7', preferences: { max_cost: 0.1 } }));
      expect(r.status).toBe(200);
      const a = await r.json();
      expect(oi.requests.length).toBe(before + 1);
      const wire = oi.requests.at(-1)!;
      expect(wire.headers.authorization).toBe(`Bearer ${oi.apiKey}`);
      expect(wire.body).toMatchObject({
        model: 'gpt-image-1',
        n: 1,
        size: '1024x1024',
        quality: 'medium',
        output_format: 'png',
      });
      expect(wire.body.prompt.startsWith('A glowing magical sword with runes')).toBe(true);

      const cost = usageCost(wire.body.prompt, 'medium');
      expect(Object.keys(a).sort()).toEqual([
        'asset_data',
        'asset_id',
        'cost',
        'cost_breakdown',
        'metadata',
        'response_time_ms',
        'source',
        'storage_info',
      ]);
      expect(Object.keys(a.asset_data).sort()).toEqual([
        'attribution_required',
        'download_url',
        'file_format',
        'file_size_mb',
        'license_type',
        'preview_image_url',
        'quality_score',
      ]);
      expect(a.asset_id).toMatch(UUID);
      expect(a.source).toBe('generated');
      expect(a.cost).toBe(cost);
      expect(typeof a.response_time_ms).toBe('number');
      expect(a.cost_breakdown).toEqual({
        search_cost: 0,
        modification_cost: 0,
        generation_cost: cost,
        storage_cost: 0,
        total_cost: cost,
      });
      expect(a.asset_data.download_url).toContain(`/api/v1/assets/${a.asset_id}/file?exp=`);
      expect(a.asset_data.download_url).toContain('&sig=');
      expect(a.asset_data.preview_image_url).toContain(`/api/v1/assets/${a.asset_id}/preview?exp=`);
      expect(a.asset_data).toMatchObject({
        file_format: 'png',
        quality_score: 0.85,
        license_type: 'proprietary',
        attribution_required: false,
      });
      expect(a.storage_info).toEqual({
        storage_type: 'local',
        bucket_name: null,
        file_path: `generated/image/${a.asset_id}.png`,
        external_source: 'openai',
      });
      expect(a.metadata).toMatchObject({
        category: 'image',
        style: 'fantasy',
        provider: 'openai',
        model: 'gpt-image-1',
        size: '1024x1024',
        session_id: 'quest-7',
        prompt: 'A glowing magical sword with runes',
        enhanced_prompt: wire.body.prompt,
      });
      expect(a.metadata.request_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(a.metadata.generated_at).toMatch(ISO);
      expect(a.metadata.usage.output_tokens).toBe(1056);
      const png = await download(s, a.asset_data.download_url);
      expect([...png.slice(0, 8)]).toEqual(PNG_SIGNATURE);

      const jobId = a.metadata.generation_id;
      expect(jobId).toMatch(UUID);
      await eventually(async () => (eventsOf(u.id, 'completed').length === 1 ? true : undefined), 5000);
      await Bun.sleep(100);
      const started = eventsOf(u.id, 'started');
      const completed = eventsOf(u.id, 'completed');
      expect(started.length).toBe(1);
      expect(completed.length).toBe(1);
      expect(eventsOf(u.id, 'failed')).toEqual([]);
      expect(started[0]!.data).toEqual({
        generation_id: jobId,
        user_id: u.id,
        category: 'image',
        style: 'fantasy',
        provider: 'openai',
        session_id: 'quest-7',
        estimated_cost: 0.042,
        timestamp: expect.stringMatching(ISO),
      });
      expect(completed[0]!.data).toEqual({
        generation_id: jobId,
        asset_id: a.asset_id,
        user_id: u.id,
        category: 'image',
        provider: 'openai',
        cost,
        generation_time_ms: expect.any(Number),
        session_id: 'quest-7',
        timestamp: expect.stringMatching(ISO),
      });

      // Stored assets are private: another user, a random id and a malformed id all read as missing.
      const other = await newUser();
      const mine = await u.call(`/api/v1/assets/${a.asset_id}`);
      expect(mine.status).toBe(200);
      expect((await mine.json()).asset_id).toBe(a.asset_id);
      for (const id of [a.asset_id, crypto.randomUUID(), 'not-a-uuid']) {
        const r404 = await other.call(`/api/v1/assets/${id}`);
        expect(r404.status).toBe(404);
        expect(await r404.json()).toEqual({ detail: `Asset ${id} not found` });
      }
      const job = await other.call(`/api/v1/assets/jobs/${jobId}`);
      expect(job.status).toBe(404);
      expect(await job.json()).toEqual({ detail: `Job ${jobId} not found` });
    }, 30_000);

    test('openai 429 → 503 with Retry-After, 500 → 502, refusal → 422; each publishes started and failed once', async () => {
      const u = await newUser();
      const stBefore = st.requests.length;
      oi.enqueue({ status: 429, retryAfter: '7' });
      const limited = await u.gen(base({ description: 'rate limited', preferences: { provider: 'openai' } }));
      expect(limited.status).toBe(503);
      expect(limited.headers.get('retry-after')).toBe('7');
      expect(await limited.json()).toEqual({ detail: 'Provider openai is rate limiting; retry later' });

      oi.enqueue({ status: 500 });
      const broken = await u.gen(base({ description: 'server error', preferences: { provider: 'openai' } }));
      expect(broken.status).toBe(502);
      expect((await broken.json()).detail).toMatch(/^Provider openai failed: .+/);

      // A refused prompt is final: not retried with the next provider even without a named one.
      oi.enqueue({ refuse: true });
      const refused = await u.gen(base({ description: 'refused prompt' }));
      expect(refused.status).toBe(422);
      expect((await refused.json()).detail).toMatch(/^Provider openai rejected the prompt: .+/);
      expect(st.requests.length).toBe(stBefore);

      await eventually(async () => (eventsOf(u.id, 'failed').length === 3 ? true : undefined), 5000);
      await Bun.sleep(100);
      const failed = eventsOf(u.id, 'failed').map((m) => m.data as Record<string, unknown>);
      expect(failed.map((f) => f.error_type)).toEqual([
        'provider_rate_limited',
        'provider_error',
        'provider_rejected',
      ]);
      for (const f of failed) {
        expect(f.cost).toBe(0);
        expect(f.provider).toBe('openai');
        expect(f.category).toBe('image');
      }
      expect(eventsOf(u.id, 'started').length).toBe(3);
      expect(eventsOf(u.id, 'completed')).toEqual([]);
      // Failed jobs hold nothing against the budget.
      const jobs = await jobsOf(u.id);
      expect(jobs.length).toBe(3);
      for (const j of jobs) {
        expect(j.status).toBe('failed');
        expect(Number(j.reservedMicroUsd)).toBe(0);
        expect(Number(j.costMicroUsd)).toBe(0);
      }
      const listed = await (await u.call('/api/v1/assets/jobs?status=failed')).json();
      expect(listed.total).toBe(3);
      const types = listed.jobs.map((j: { error: { type: string } }) => j.error.type).sort();
      expect(types).toEqual(['provider_error', 'provider_rate_limited', 'provider_rejected']);
    }, 30_000);

    test('openai 500 falls back to stability: one call each, one started and one completed event', async () => {
      const u = await newUser();
      const oiBefore = oi.requests.length;
      const stBefore = st.requests.length;
      oi.enqueue({ status: 500 });
      const r = await u.gen(base({ description: 'fallback sword' }));
      expect(r.status).toBe(200);
      const a = await r.json();
      expect(oi.requests.length).toBe(oiBefore + 1);
      expect(st.requests.length).toBe(stBefore + 1);
      expect(a.metadata.provider).toBe('stability');
      expect(a.storage_info.external_source).toBe('stability');
      expect(a.cost).toBe(0.03);
      await eventually(async () => (eventsOf(u.id, 'completed').length === 1 ? true : undefined), 5000);
      await Bun.sleep(100);
      expect(eventsOf(u.id, 'started').length).toBe(1);
      expect(eventsOf(u.id, 'failed')).toEqual([]);
      expect((eventsOf(u.id, 'completed')[0]!.data as Record<string, unknown>).provider).toBe('stability');
      const [job] = await jobsOf(u.id);
      expect(job!.provider).toBe('stability');
      expect(Number(job!.costMicroUsd)).toBe(30_000);
      expect(Number(job!.reservedMicroUsd)).toBe(0);
    }, 30_000);

    test('a provider timeout: 504 within the wait, a failed job after the 202, the next provider otherwise', async () => {
      const u = await newUser();
      const stBefore = st.requests.length;
      oi.enqueue({ hang: true }, { hang: true }, { hang: true });
      const named = (d: string, extra: Record<string, unknown> = {}) =>
        base({ description: d, preferences: { provider: 'openai', ...extra } });
      const [sync, late, fallback] = await Promise.all([
        u.gen(named('hanging sync')),
        u.gen(named('hanging job', { max_wait_time_ms: 1000 })),
        u.gen(base({ description: 'hanging then stability' })),
      ]);
      expect(sync.status).toBe(504);
      expect(await sync.json()).toEqual({ detail: 'Provider openai timed out after 4 s' });
      expect(fallback.status).toBe(200);
      expect((await fallback.json()).metadata.provider).toBe('stability');
      expect(st.requests.length).toBe(stBefore + 1);

      expect(late.status).toBe(202);
      const { job_id } = await late.json();
      const failed = await eventually(async () => {
        const j = await (await u.call(`/api/v1/assets/jobs/${job_id}`)).json();
        return j.status === 'failed' ? j : undefined;
      }, 10_000);
      expect(failed.error).toEqual({
        message: 'Provider openai timed out after 4 s',
        type: 'provider_timeout',
      });
      expect(failed.asset_id).toBeNull();
      const row = (await jobsOf(u.id)).find((j) => j.id === job_id)!;
      expect(Number(row.reservedMicroUsd)).toBe(0);
      expect(Number(row.costMicroUsd)).toBe(0);
      await Bun.sleep(100);
      const types = eventsOf(u.id, 'failed').map((m) => (m.data as Record<string, unknown>).error_type);
      expect(types).toEqual(['provider_timeout', 'provider_timeout']);
      expect(eventsOf(u.id, 'started').length).toBe(3);
      expect(eventsOf(u.id, 'completed').length).toBe(1);
    }, 30_000);

    test('max_cost below the estimate → 402 with no provider call, no job and no reservation', async () => {
      const u = await newUser();
      const calls = oi.requests.length + st.requests.length;
      const r = await u.gen(
        base({ requirements: { platform: 'ar', quality: 'high' }, preferences: { max_cost: 0.1 } }),
      );
      expect(r.status).toBe(402);
      expect(await r.json()).toEqual({ detail: 'Estimated cost $0.1670 exceeds max_cost $0.1000' });
      expect(oi.requests.length + st.requests.length).toBe(calls);
      expect(await jobsOf(u.id)).toEqual([]);
      expect(eventsOf(u.id)).toEqual([]);
    }, 30_000);

    test('daily budget: of two concurrent requests that each fit alone, exactly one proceeds', async () => {
      const u = await newUser();
      const calls = oi.requests.length;
      // The winner is slow, so its reservation is still held when the loser is checked.
      oi.enqueue({ delayMs: 1500 });
      const high = (d: string) => base({ description: d, requirements: { platform: 'ar', quality: 'high' } });
      const rs = await Promise.all([u.gen(high('first castle')), u.gen(high('second castle'))]);
      const statuses = rs.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 402]);
      const loser = rs.find((r) => r.status === 402)!;
      expect(await loser.json()).toEqual({
        detail: `Daily asset budget exceeded: $0.1670 of $${Number(DAILY_BUDGET).toFixed(4)} used today`,
      });
      const winner = await rs.find((r) => r.status === 200)!.json();
      expect(oi.requests.length).toBe(calls + 1);
      const jobs = await jobsOf(u.id);
      expect(jobs.length).toBe(1);
      expect(Number(jobs[0]!.reservedMicroUsd)).toBe(0);
      expect(Math.round(Number(jobs[0]!.costMicroUsd) / 100) / 10_000).toBe(winner.cost);
      await Bun.sleep(100);
      expect(eventsOf(u.id, 'started').length).toBe(1);
    }, 30_000);

    test('reuse: identical requests answer the stored asset at no cost; quality and allow_* change that', async () => {
      const u = await newUser();
      const req = base({ description: 'A  Shield of  OAK', session_id: 'reuse-1' });
      const calls = oi.requests.length;
      const first = await (await u.gen(req)).json();
      expect(first.source).toBe('generated');
      expect(oi.requests.length).toBe(calls + 1);

      const again = await (
        await u.gen({
          ...req,
          description: '  a shield of oak ',
          session_id: 'reuse-2',
          preferences: { max_cost: 0.3 },
        })
      ).json();
      expect(again.asset_id).toBe(first.asset_id);
      expect(again.source).toBe('database');
      expect(again.cost).toBe(0);
      expect(again.cost_breakdown.total_cost).toBe(0);
      expect(again.metadata.reused).toBe(true);
      expect(again.metadata.original_cost).toBe(first.cost);
      expect(oi.requests.length).toBe(calls + 1);

      const hd = await (
        await u.gen({ ...req, requirements: { platform: 'mobile_vr', quality: 'low' } })
      ).json();
      expect(hd.source).toBe('generated');
      expect(hd.asset_id).not.toBe(first.asset_id);
      expect(oi.requests.length).toBe(calls + 2);

      const fresh = await (await u.gen({ ...req, preferences: { allow_database: false } })).json();
      expect(fresh.source).toBe('generated');
      expect(fresh.asset_id).not.toBe(first.asset_id);
      expect(oi.requests.length).toBe(calls + 3);

      const none = await u.gen(base({ description: 'never made', preferences: { allow_generation: false } }));
      expect(none.status).toBe(404);
      expect(await none.json()).toEqual({
        detail: 'No stored asset matches this request and generation is not allowed',
      });
      const only = await (await u.gen({ ...req, preferences: { allow_generation: false } })).json();
      expect(only.source).toBe('database');
      // Two stored assets match now; the newest wins.
      expect(only.asset_id).toBe(fresh.asset_id);
      // Reuse is free, so it passes even a zero max_cost.
      const free = await u.gen({ ...req, preferences: { max_cost: 0 } });
      expect(free.status).toBe(200);
      expect((await free.json()).asset_id).toBe(fresh.asset_id);
      expect(oi.requests.length).toBe(calls + 3);

      // Reuse is per user by default.
      const v = await newUser();
      const theirs = await (await v.gen(req)).json();
      expect(theirs.source).toBe('generated');
      expect(theirs.asset_id).not.toBe(first.asset_id);

      await Bun.sleep(200);
      // Three generations, three pairs of events; the reuses published nothing.
      expect(eventsOf(u.id, 'started').length).toBe(3);
      expect(eventsOf(u.id, 'completed').length).toBe(3);
    }, 30_000);

    test('an identical request while the first is generating joins it: one provider call', async () => {
      const u = await newUser();
      const calls = oi.requests.length;
      oi.enqueue({ delayMs: 1500 });
      const req = base({ description: 'A slow lantern' });
      const p1 = u.gen(req);
      await Bun.sleep(300);
      const p2 = u.gen(req);
      const [a, b] = await Promise.all([p1.then((r) => r.json()), p2.then((r) => r.json())]);
      expect(oi.requests.length).toBe(calls + 1);
      expect(a.source).toBe('generated');
      expect(a.cost).toBeGreaterThan(0);
      expect(b.source).toBe('database');
      expect(b.cost).toBe(0);
      expect(b.asset_id).toBe(a.asset_id);
      await Bun.sleep(100);
      expect(eventsOf(u.id, 'started').length).toBe(1);
      expect(eventsOf(u.id, 'completed').length).toBe(1);
    }, 30_000);

    test('a joiner whose own wait runs out gets the running job as a 202', async () => {
      const u = await newUser();
      const calls = oi.requests.length;
      oi.enqueue({ delayMs: 2000 });
      const req = base({ description: 'A very slow banner' });
      const p1 = u.gen(req);
      await Bun.sleep(300);
      const t0 = Date.now();
      const r2 = await u.gen({ ...req, preferences: { max_wait_time_ms: 500 } });
      expect(Date.now() - t0).toBeLessThan(1500);
      expect(r2.status).toBe(202);
      const job = await r2.json();
      const first = await (await p1).json();
      expect(first.source).toBe('generated');
      expect(job.job_id).toBe(first.metadata.generation_id);
      expect(r2.headers.get('location')).toBe(`/api/v1/assets/jobs/${job.job_id}`);
      expect(oi.requests.length).toBe(calls + 1);
      const polled = await (await u.call(`/api/v1/assets/jobs/${job.job_id}`)).json();
      expect(polled.status).toBe('completed');
      expect(polled.asset_id).toBe(first.asset_id);
    }, 30_000);

    test('past max_wait_time_ms the answer is a 202 job that completes in the background', async () => {
      const u = await newUser();
      oi.enqueue({ delayMs: 2500 });
      const r = await u.gen(
        base({ description: 'A patient golem', preferences: { max_wait_time_ms: 1000 } }),
      );
      expect(r.status).toBe(202);
      const job = await r.json();
      const location = r.headers.get('location');
      expect(location).toBe(`/api/v1/assets/jobs/${job.job_id}`);
      expect(job).toEqual({
        job_id: expect.stringMatching(UUID),
        status: 'processing',
        asset_id: null,
        estimated_cost: 0.042,
        status_url: expect.stringMatching(new RegExp(`/api/v1/assets/jobs/${job.job_id}$`)),
        created_at: expect.stringMatching(ISO),
        message: 'Generation continues in the background',
      });

      const done = await eventually(async () => {
        const j = await (await u.call(location!)).json();
        return j.status === 'completed' ? j : undefined;
      }, 15_000);
      expect(Object.keys(done).sort()).toEqual([
        'asset',
        'asset_id',
        'category',
        'completed_at',
        'cost',
        'created_at',
        'error',
        'estimated_cost',
        'job_id',
        'progress',
        'provider',
        'status',
        'updated_at',
      ]);
      expect(done.job_id).toBe(job.job_id);
      expect(done.progress).toBe(100);
      expect(done.provider).toBe('openai');
      expect(done.category).toBe('image');
      expect(done.error).toBeNull();
      expect(done.asset.asset_id).toBe(done.asset_id);
      expect(done.asset.source).toBe('generated');
      expect(done.cost).toBe(done.asset.cost);
      expect(done.completed_at).toMatch(ISO);

      const list = await (await u.call('/api/v1/assets')).json();
      expect(list.assets.map((a: { asset_id: string }) => a.asset_id)).toEqual([done.asset_id]);
      const jobs = await (await u.call('/api/v1/assets/jobs')).json();
      expect(jobs.jobs.map((j: { job_id: string }) => j.job_id)).toEqual([job.job_id]);
      await Bun.sleep(200);
      const completed = eventsOf(u.id, 'completed');
      expect(completed.length).toBe(1);
      expect((completed[0]!.data as Record<string, unknown>).generation_id).toBe(job.job_id);
    }, 30_000);

    test('a client that disconnects during the wait still gets its asset stored', async () => {
      const u = await newUser();
      oi.enqueue({ delayMs: 1500 });
      const abort = new AbortController();
      const pending = u.gen(base({ description: 'An impatient client' }), { signal: abort.signal });
      await Bun.sleep(400);
      abort.abort();
      await pending.catch(() => undefined);
      const job = await eventually(async () => {
        const j = await (await u.call('/api/v1/assets/jobs')).json();
        return j.jobs[0]?.status === 'completed' ? j.jobs[0] : undefined;
      }, 15_000);
      expect(job.asset_id).toMatch(UUID);
      const stored = await u.call(`/api/v1/assets/${job.asset_id}`);
      expect(stored.status).toBe(200);
      const body = await stored.json();
      await download(s, body.asset_data.download_url);
    }, 30_000);

    if (backend.name === 'postgresql')
      test('two instances on one database: 20 concurrent requests, a budget for 7 → exactly 7 succeed', async () => {
        const dir2 = mkdtempSync(join(tmpdir(), 'gaia-asset2-'));
        const config2 = loadConfig({
          GAIA_ENV: 'test',
          GAIA_DATA_DIR: dir2,
          DATABASE_URL: databaseUrl,
          GAIA_INTERNAL_SECRET: s.config.internalSecret,
          ...providerEnv(),
        });
        // Its own connection pool, as a second process would have.
        const db2 = await openDb({
          url: databaseUrl,
          kind: 'postgresql',
          sqlitePath: '',
          poolMax: 10,
          autoMigrate: false,
          seedDev: false,
          isProduction: false,
        });
        const log = createLogger({ service: 'asset2', level: 'warn', json: true, sink: () => {} });
        let asset2: MountedService | undefined;
        try {
          asset2 = await assetService({ config: config2, db: db2, bus: s.stack.bus, log, clients: {} });
          const u = await newUser();
          // The user row exists once the gateway has seen them.
          expect((await u.call('/api/v1/assets')).status).toBe(200);
          const via2 = (body: unknown) =>
            asset2!.handle(
              new Request('http://asset/api/v1/assets/generate', {
                method: 'POST',
                headers: {
                  [IDENTITY_HEADER]: signIdentitySync(s.config.internalSecret, {
                    auth_type: 'jwt',
                    sub: u.id,
                    email: `u-${u.id.slice(0, 8)}@example.com`,
                    admin: false,
                    rid: crypto.randomUUID(),
                    ip: '127.0.0.1',
                  }),
                  'content-type': 'application/json',
                },
                body: JSON.stringify(body),
              }),
            );
          const rs = await Promise.all(
            Array.from({ length: 20 }, (_, i) => {
              const body = base({ description: `Crate number ${i}` });
              return i % 2 === 0 ? u.gen(body) : via2(body);
            }),
          );
          const statuses = rs.map((r) => r.status);
          expect(statuses.filter((x) => x === 200).length).toBe(7);
          expect(statuses.filter((x) => x === 402).length).toBe(13);
          let sum = 0;
          for (const r of rs) {
            const b = await r.json();
            if (r.status === 200) sum += b.cost;
            else
              expect(b.detail).toMatch(/^Daily asset budget exceeded: \$0\.\d{4} of \$0\.3000 used today$/);
          }
          const jobs = await jobsOf(u.id);
          expect(jobs.length).toBe(7);
          const spent = jobs.reduce((t, j) => t + Number(j.costMicroUsd) + Number(j.reservedMicroUsd), 0);
          expect(jobs.every((j) => j.status === 'completed' && Number(j.reservedMicroUsd) === 0)).toBe(true);
          expect(spent).toBeLessThanOrEqual(300_000);
          expect(Math.abs(spent / 1e6 - sum)).toBeLessThan(7 * 0.00005 + 1e-9);
        } finally {
          await asset2?.close?.();
          await db2.close();
          rmSync(dir2, { recursive: true, force: true });
        }
      }, 60_000);

    test('no provider key appears in any error body or log line', async () => {
      expect(errorBodies.length).toBeGreaterThan(10);
      const logs = s.logs.join('\n');
      for (const key of [oi.apiKey, st.apiKey]) {
        for (const b of errorBodies) expect(b).not.toContain(key);
        expect(logs).not.toContain(key);
        for (const m of events) expect(JSON.stringify(m.data)).not.toContain(key);
      }
      expect(logs).not.toContain('Bearer sk-');
    }, 30_000);
  });
}
