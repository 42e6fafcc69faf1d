/**
 * Rate-limit counters shared by several gateway instances (spec/gateway.md §10): a JetStream KV bucket or
 * Redis. Two real gateways count one limit together, and an unreachable store degrades to local counting.
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { SignJWT } from 'jose';
import { dropTestDatabases, natsTestUrl } from '../support/backends.ts';
import { type GatewayHarness, startGatewayHarness } from '../support/gateway-harness.ts';
import { TEST_SUPABASE_JWT_SECRET } from '../support/stack.ts';

afterAll(dropTestDatabases);

async function userToken(): Promise<string> {
  // A fresh user per test run: the shared store outlives the test, so buckets must not collide.
  return new SignJWT({ aud: 'authenticated', sub: crypto.randomUUID() })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('10m')
    .sign(new TextEncoder().encode(TEST_SUPABASE_JWT_SECRET));
}

async function sharedLimit(env: Record<string, string>, natsUrl?: string): Promise<void> {
  const a = await startGatewayHarness({ env: { ...env, GAIA_RATE_LIMIT: '4/minute' }, natsUrl });
  let b: GatewayHarness | undefined;
  try {
    b = await startGatewayHarness({ env: { ...env, GAIA_RATE_LIMIT: '4/minute' }, natsUrl });
    const headers = { Authorization: `Bearer ${await userToken()}` };
    const statuses: number[] = [];
    for (const h of [a, b, a, b, a, b])
      statuses.push((await fetch(`${h.url}/api/v1/conversations`, { headers })).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    const health = (await (await fetch(`${a.url}/health`)).json()) as any;
    expect(health.rate_limit_store).toEqual({ status: 'healthy', kind: env.GAIA_RATE_LIMIT_STORE });
  } finally {
    await a.stop();
    await b?.stop();
  }
}

const nats = natsTestUrl();
describe.skipIf(!nats)('shared rate limits on NATS KV', () => {
  test('two gateways share one limit', () => sharedLimit({ GAIA_RATE_LIMIT_STORE: 'nats' }, nats), 20_000);
});

const redisUrl = process.env.GAIA_TEST_REDIS_URL;
describe.skipIf(!redisUrl)('shared rate limits on Redis', () => {
  test(
    'two gateways share one limit',
    () => sharedLimit({ GAIA_RATE_LIMIT_STORE: 'redis', REDIS_URL: redisUrl! }),
    20_000,
  );
});

describe('unreachable store', () => {
  test('falls back to local counters, logs once, and /health says degraded', async () => {
    const h = await startGatewayHarness({
      env: { GAIA_RATE_LIMIT_STORE: 'redis', REDIS_URL: 'redis://127.0.0.1:1', GAIA_RATE_LIMIT: '3/minute' },
    });
    try {
      const headers = { Authorization: `Bearer ${await userToken()}` };
      const statuses: number[] = [];
      for (let i = 0; i < 4; i++)
        statuses.push((await fetch(`${h.url}/api/v1/conversations`, { headers })).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const health = (await (await fetch(`${h.url}/health`)).json()) as any;
      expect(health.rate_limit_store).toEqual({ status: 'unhealthy', kind: 'redis' });
      expect(health.status).toBe('degraded');
      expect(h.logs.filter((l) => l.includes('rate-limit store unreachable'))).toHaveLength(1);
    } finally {
      await h.stop();
    }
  }, 20_000);
});
