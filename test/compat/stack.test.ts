/**
 * The whole all-in-one stack: data survives a restart, and the stack starts, serves and recovers while
 * NATS is down (spec/data.md §6: a service never fails to start because NATS is down).
 */
import { afterAll, describe, expect, test } from 'bun:test';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { eq } from 'drizzle-orm';
import { NatsBus } from '../../src/bus/nats.ts';
import { hashApiKey } from '../../src/security/apikey.ts';
import { dropTestDatabases, natsTestUrl, testBackends } from '../support/backends.ts';
import { DEV_USER_ID, startStack } from '../support/stack.ts';

afterAll(dropTestDatabases);

for (const backend of testBackends()) {
  describe(`all-in-one stack [${backend.name}]`, () => {
    test('serves /health with the backend in use, and data survives a restart', async () => {
      const nats = natsTestUrl();
      const h = await startStack({ databaseUrl: await backend.databaseUrl(), natsUrl: nats });
      try {
        const health = (await (await h.fetch('/health')).json()) as any;
        expect(health.database.database).toBe(backend.name);
        expect(health.nats.mode).toBe(nats ? 'nats' : 'memory');
        // Every mounted service answers its own /health without an identity.
        expect(health.services.chat.status).toBe('healthy');
        expect(health.services.auth.status).toBe('healthy');
        expect(typeof health.services.chat.response_time).toBe('number');

        const sub = crypto.randomUUID();
        const token = await h.mintJwt({ sub, email: `${sub}@example.com` });
        expect(
          (await h.fetch('/api/v1/conversations', { headers: { Authorization: `Bearer ${token}` } })).status,
        ).not.toBe(401);
        const keyId = crypto.randomUUID();
        const now = new Date();
        await h.stack.db.orm.insert(h.stack.db.t.apiKeys).values({
          id: keyId,
          userId: sub,
          name: 'restart test',
          keyHash: hashApiKey(`restart-key-${keyId}`),
          prefix: 'rest',
          permissions: {},
          createdAt: now,
          updatedAt: now,
        });

        await h.restart();
        const rows = await h.stack.db.orm
          .select()
          .from(h.stack.db.t.users)
          .where(eq(h.stack.db.t.users.id, sub));
        expect(rows).toHaveLength(1);
        const res = await h.fetch('/api/v1/conversations', {
          headers: { 'X-API-Key': `restart-key-${keyId}` },
        });
        expect(res.status).not.toBe(401);
        expect((await h.dev('/api/v1/conversations')).status).not.toBe(401);
        if (backend.name === 'sqlite') expect(existsSync(h.config.database.sqlitePath)).toBe(true);
      } finally {
        await h.stop();
      }
    });
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

const NATS_SERVER = '/usr/sbin/nats-server';
const haveNats = existsSync(NATS_SERVER);
if (!haveNats && process.env.CI === 'true') throw new Error(`${NATS_SERVER} is required on CI`);

describe.skipIf(!haveNats)('NATS outage', () => {
  test('the stack starts and serves while NATS is down, and events flow once it is back', async () => {
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    const started = Date.now();
    const h = await startStack({ natsUrl: url });
    let server: ReturnType<typeof Bun.spawn> | undefined;
    let probe: NatsBus | undefined;
    try {
      expect(Date.now() - started).toBeLessThan(5000);
      let health = (await (await h.fetch('/health')).json()) as any;
      expect(health.nats).toEqual({ status: 'unhealthy', connected: false, mode: 'nats' });
      expect(health.status).toBe('degraded');
      expect((await h.dev('/api/v1/conversations')).status).not.toBe(401);

      server = Bun.spawn([NATS_SERVER, '-a', '127.0.0.1', '-p', String(port)], {
        stdout: 'ignore',
        stderr: 'ignore',
      });
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        health = (await (await h.fetch('/health')).json()) as any;
        if (health.nats.connected) break;
        await Bun.sleep(200);
      }
      expect(health.nats).toEqual({ status: 'healthy', connected: true, mode: 'nats' });

      // A session revoked by another instance's event is refused here: events flow again.
      const sessionId = crypto.randomUUID();
      const token = await h.mintJwt({ sub: DEV_USER_ID, session_id: sessionId });
      expect(
        (await h.fetch('/api/v1/conversations', { headers: { Authorization: `Bearer ${token}` } })).status,
      ).not.toBe(401);
      probe = await NatsBus.create({ servers: [url], name: 'gaia-test-probe' });
      await probe.flush?.();
      await probe.publish('gaia.auth.logout', {
        event: 'logout',
        session_id: sessionId,
        reason: 'user',
        timestamp: new Date().toISOString(),
      });
      await probe.flush?.();
      let status = 0;
      const until = Date.now() + 2000;
      while (Date.now() < until) {
        status = (await h.fetch('/api/v1/conversations', { headers: { Authorization: `Bearer ${token}` } }))
          .status;
        if (status === 401) break;
        await Bun.sleep(50);
      }
      expect(status).toBe(401);
    } finally {
      await probe?.drain();
      await h.stop();
      server?.kill();
      await server?.exited;
    }
  }, 30_000);
});

const readyNats = natsTestUrl();
describe.skipIf(!readyNats)('service lifecycle on NATS', () => {
  test('every component of the stack announces gaia.service.ready, then health beats', async () => {
    const probe = await NatsBus.create({ servers: [readyNats!], name: 'gaia-test-ready-probe' });
    const ready = new Map<string, Record<string, unknown>>();
    const health: string[] = [];
    probe.subscribe('gaia.service.ready', (m) => {
      ready.set(String(m.data.service), m.data);
    });
    probe.subscribe('gaia.service.health', (m) => {
      health.push(`${m.data.service}:${m.data.status}`);
    });
    await probe.flush?.();
    const h = await startStack({ natsUrl: readyNats });
    try {
      const deadline = Date.now() + 5000;
      while (ready.size < 6 && Date.now() < deadline) await Bun.sleep(20);
      expect([...ready.keys()].sort()).toEqual(['asset', 'auth', 'chat', 'gateway', 'kb', 'web']);
      expect(ready.get('chat')).toMatchObject({ status: 'ready', version: '1.0.0' });
      expect(String(ready.get('gateway')!.timestamp)).toMatch(/^\d{4}-.*Z$/);
      expect(health).toContain('gateway:starting');
    } finally {
      await h.stop();
    }
    const until = Date.now() + 2000;
    while (!health.includes('gateway:stopping') && Date.now() < until) await Bun.sleep(20);
    expect(health).toContain('gateway:stopping');
    await probe.drain();
  }, 20_000);
});
