/**
 * NATS taken away under two running gateways (two all-in-one stacks on one database), with a nats-server this
 * test starts and stops itself. While NATS is down chat and everything else keep working; a logout takes
 * effect at once on the gateway that handled it, and the other gateway accepts the old token until NATS is
 * back (the documented window); once both buses are connected again, the other gateway refuses it within 1 s.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import type { Subprocess } from 'bun';
import { dropTestDatabases, testBackends } from '../support/backends.ts';
import { type StackHandle, startStack } from '../support/stack.ts';

const NATS =
  Bun.which('nats-server') ?? (Bun.file('/usr/sbin/nats-server').size ? '/usr/sbin/nats-server' : null);
if (!NATS && process.env.CI === 'true')
  throw new Error('nats-server not found (CI=true): apt-get install nats-server');
const backends = testBackends();
const backend = backends.find((b) => b.name === 'postgresql') ?? backends[0]!;

afterAll(dropTestDatabases);

function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') });
  const port = s.port!;
  s.stop(true);
  return port;
}

async function until(check: () => boolean | Promise<boolean>, limitMs: number): Promise<number> {
  const t0 = performance.now();
  while (performance.now() - t0 <= limitMs) {
    if (await check()) return performance.now() - t0;
    await Bun.sleep(10);
  }
  return -1;
}

describe.if(NATS !== null)(`NATS outage under two gateways [${backend.name}]`, () => {
  const port = freePort();
  const natsUrl = `nats://127.0.0.1:${port}`;
  let nats: Subprocess | null = null;
  let a: StackHandle;
  let b: StackHandle;
  const env = { GAIA_AUTH_RATE_LIMIT: '1000/minute', GAIA_AUTH_FAILURE_LIMIT: '1000/minute' };
  const json = { 'content-type': 'application/json' };

  const startNats = async () => {
    nats = Bun.spawn([NATS!, '-a', '127.0.0.1', '-p', String(port)], { stdout: 'ignore', stderr: 'ignore' });
    const up = await until(async () => {
      try {
        const conn = await Bun.connect({ hostname: '127.0.0.1', port, socket: { data() {} } });
        conn.end();
        return true;
      } catch {
        return false;
      }
    }, 10_000);
    expect(up).toBeGreaterThanOrEqual(0);
  };
  const stopNats = async () => {
    nats?.kill('SIGKILL');
    await nats?.exited;
    nats = null;
  };

  beforeAll(async () => {
    await startNats();
    const databaseUrl = await backend.databaseUrl();
    a = await startStack({ databaseUrl, natsUrl, env });
    b = await startStack({ databaseUrl, natsUrl, env });
  }, 60_000);
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await stopNats();
  });

  test('logout during the outage: at once on A, on B within 1 s of NATS being back', async () => {
    const reg = (await (
      await a.fetch('/api/v1/auth/register', {
        method: 'POST',
        headers: json,
        body: JSON.stringify({
          email: `outage-${crypto.randomUUID().slice(0, 8)}@example.com`,
          password: 'nats goes away',
        }),
      })
    ).json()) as { session: { access_token: string } };
    const auth = { authorization: `Bearer ${reg.session.access_token}` };
    expect((await b.fetch('/api/v1/auth/user', { headers: auth })).status).toBe(200);

    await stopNats();
    const down = await until(
      () => !a.stack.bus.health().connected && !b.stack.bus.health().connected,
      10_000,
    );
    expect(down).toBeGreaterThanOrEqual(0);
    const health = (await (await a.fetch('/health')).json()) as {
      status: string;
      nats: { connected: boolean };
    };
    expect(health.status).toBe('degraded');
    expect(health.nats.connected).toBe(false);

    // Everything that needs no bus keeps working: a chat turn is stored.
    const chat = await a.fetch('/api/v1/chat', {
      method: 'POST',
      headers: { ...auth, ...json },
      body: JSON.stringify({ message: 'Are you there?' }),
    });
    expect(chat.status).toBe(200);

    const logout = await a.fetch('/api/v1/auth/logout', { method: 'POST', headers: auth });
    expect(logout.status).toBe(200);
    // The gateway that handled it refuses the token at once, bus or no bus.
    expect((await a.fetch('/api/v1/auth/user', { headers: auth })).status).toBe(401);
    // The other one cannot know yet: the documented window.
    expect((await b.fetch('/api/v1/auth/user', { headers: auth })).status).toBe(200);

    await startNats();
    const back = await until(() => a.stack.bus.health().connected && b.stack.bus.health().connected, 15_000);
    expect(back).toBeGreaterThanOrEqual(0);
    const refusedAfter = await until(
      async () => (await b.fetch('/api/v1/auth/user', { headers: auth })).status === 401,
      1000,
    );
    expect(refusedAfter).toBeGreaterThanOrEqual(0);
    expect(refusedAfter).toBeLessThan(1000);
    expect(((await (await b.fetch('/health')).json()) as { status: string }).status).toBe('healthy');
  }, 60_000);
});
