/**
 * NatsBus against real nats-server processes: the core semantics against the shared server named by
 * GAIA_TEST_NATS_URL (skipped when unset), and an outage scenario against a private server this file starts,
 * stops and restarts itself.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { existsSync } from 'node:fs';
import type { Subprocess } from 'bun';
import {
  BusError,
  type BusLogger,
  type BusMessage,
  createBus,
  MAX_PAYLOAD_BYTES,
  type NatsBusOptions,
} from '../../src/bus/index.ts';
import { NatsBus } from '../../src/bus/nats.ts';

const NATS_URL = process.env.GAIA_TEST_NATS_URL;
const NATS_SERVER_BIN = '/usr/sbin/nats-server';
const CI = process.env.CI === 'true';
const HAVE_SERVER_BIN = existsSync(NATS_SERVER_BIN);

if (!NATS_URL)
  console.warn('bus-nats: GAIA_TEST_NATS_URL is unset; skipping the shared-server NatsBus tests');
if (!HAVE_SERVER_BIN && !CI)
  console.warn(`bus-nats: ${NATS_SERVER_BIN} not found; skipping the NATS outage tests`);

interface LogEntry {
  level: 'warn' | 'error' | 'info';
  msg: string;
  fields?: Record<string, unknown>;
}

function recordingLogger(): BusLogger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  return {
    entries,
    warn: (msg, fields) => entries.push({ level: 'warn', msg, ...(fields ? { fields } : {}) }),
    error: (msg, fields) => entries.push({ level: 'error', msg, ...(fields ? { fields } : {}) }),
    info: (msg, fields) => entries.push({ level: 'info', msg, ...(fields ? { fields } : {}) }),
  };
}

async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(5);
  }
}

async function rejection(p: Promise<unknown>): Promise<BusError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(BusError);
    return err as BusError;
  }
  throw new Error('expected a rejection');
}

describe.skipIf(!NATS_URL)('NatsBus against GAIA_TEST_NATS_URL', () => {
  // A fresh prefix per run keeps concurrent runs on the shared server from seeing each other's messages.
  const P = `gaia.test.${crypto.randomUUID().slice(0, 8)}`;
  const logger = recordingLogger();
  const buses: NatsBus[] = [];
  let pub: NatsBus;
  let sub: NatsBus;

  async function open(name: string, extra: Partial<NatsBusOptions> = {}): Promise<NatsBus> {
    const bus = await NatsBus.create({ servers: [NATS_URL!], name: `gaia-test-${name}`, logger, ...extra });
    buses.push(bus);
    if (!bus.health().connected)
      throw new Error(`GAIA_TEST_NATS_URL=${NATS_URL} is set but NATS is not reachable`);
    return bus;
  }

  beforeAll(async () => {
    pub = await open('pub');
    sub = await open('sub');
  });

  afterAll(async () => {
    await Promise.all(buses.map((b) => b.drain()));
  });

  test('connects at create and reports health from the live connection', async () => {
    const started = performance.now();
    const bus = await open('health');
    expect(performance.now() - started).toBeLessThan(1000);
    expect(bus.mode).toBe('nats');
    expect(bus.health()).toMatchObject({ status: 'healthy', connected: true, mode: 'nats' });
    let reconnects = 0;
    bus.onReconnect(() => reconnects++);
    await bus.drain();
    expect(bus.health()).toMatchObject({ status: 'unhealthy', connected: false, mode: 'nats' });
    expect(reconnects).toBe(0);
  });

  test('createBus picks NATS when a URL is configured', async () => {
    const bus = await createBus({ natsUrl: `${NATS_URL}, `, name: 'gaia-test-factory', logger });
    expect(bus).toBeInstanceOf(NatsBus);
    expect(bus.health().connected).toBe(true);
    await bus.drain();
  });

  test('wildcard subscriptions receive exactly the matching subjects across connections', async () => {
    const got: Record<string, string[]> = { star: [], tail: [] };
    const a = sub.subscribe(`${P}.wild.*.done`, (m) => void got.star!.push(m.subject));
    const b = sub.subscribe(`${P}.wild.>`, (m) => void got.tail!.push(m.subject));
    await sub.flush();
    for (const s of ['x.done', 'x.y.done', 'done', 'x']) await pub.publish(`${P}.wild.${s}`, { s });
    await waitFor(() => got.tail!.length === 4, 'four messages');
    expect(got.star).toEqual([`${P}.wild.x.done`]);
    expect(got.tail).toEqual(['x.done', 'x.y.done', 'done', 'x'].map((s) => `${P}.wild.${s}`));
    a.unsubscribe();
    b.unsubscribe();
  });

  test('bad subjects and payloads are rejected before anything is sent', async () => {
    expect((await rejection(pub.publish(`${P}.*`, {}))).code).toBe('invalid_subject');
    expect((await rejection(pub.publish(`${P}.>`, {}))).code).toBe('invalid_subject');
    expect(() => sub.subscribe(`${P}.>.x`, () => {})).toThrow(BusError);
    expect((await rejection(pub.publish(`${P}.bad`, { n: 1n }))).code).toBe('invalid_payload');
    expect((await rejection(pub.publish(`${P}.bad`, { f: () => 1 }))).code).toBe('invalid_payload');
    const big = { s: 'x'.repeat(MAX_PAYLOAD_BYTES) };
    expect((await rejection(pub.publish(`${P}.bad`, big))).code).toBe('payload_too_large');
  });

  test('a subscription sees one publisher’s messages in order, with async handlers', async () => {
    const got: number[] = [];
    const s = sub.subscribe(`${P}.order`, async (m) => {
      if (Math.random() < 0.1) await Bun.sleep(1);
      got.push(m.data.n as number);
    });
    await sub.flush();
    const sent = Array.from({ length: 300 }, (_, i) => i);
    for (const n of sent) await pub.publish(`${P}.order`, { n });
    await waitFor(() => got.length === sent.length, 'all messages');
    expect(got).toEqual(sent);
    s.unsubscribe();
  });

  test('each subscriber parses its own copy', async () => {
    const seen: BusMessage[] = [];
    const a = sub.subscribe(`${P}.copy`, (m) => {
      seen.push(m);
      (m.data.list as number[]).push(99);
    });
    const b = sub.subscribe(`${P}.copy`, (m) => void seen.push(m));
    await sub.flush();
    const payload = { list: [1, 2], when: new Date('2025-12-01T10:00:00.000Z') };
    await pub.publish(`${P}.copy`, payload);
    payload.list.push(3);
    await waitFor(() => seen.length === 2, 'both copies');
    expect(seen[0]!.data).not.toBe(seen[1]!.data);
    const untouched = seen.find((m) => (m.data.list as number[]).length === 2);
    expect(untouched?.data).toEqual({ list: [1, 2], when: '2025-12-01T10:00:00.000Z' });
    a.unsubscribe();
    b.unsubscribe();
  });

  test('no replay: a later subscription never sees an earlier message', async () => {
    await pub.publish(`${P}.replay`, { n: 1 });
    await pub.flush();
    const got: number[] = [];
    const s = sub.subscribe(`${P}.replay`, (m) => void got.push(m.data.n as number));
    await sub.flush();
    await pub.publish(`${P}.replay`, { n: 2 });
    await waitFor(() => got.length > 0, 'the second message');
    await Bun.sleep(20);
    expect(got).toEqual([2]);
    s.unsubscribe();
  });

  test('queue groups share messages; subscribers without a group each get a copy', async () => {
    const members = { onPub: [] as number[], onSub: [] as number[] };
    const plain: number[] = [];
    const subs = [
      pub.subscribe(`${P}.work`, (m) => void members.onPub.push(m.data.i as number), { queue: 'workers' }),
      sub.subscribe(`${P}.work`, (m) => void members.onSub.push(m.data.i as number), { queue: 'workers' }),
      sub.subscribe(`${P}.work`, (m) => void plain.push(m.data.i as number)),
    ];
    await Promise.all([pub.flush(), sub.flush()]);
    const sent = Array.from({ length: 40 }, (_, i) => i);
    for (const i of sent) await pub.publish(`${P}.work`, { i });
    await waitFor(
      () => plain.length === 40 && members.onPub.length + members.onSub.length === 40,
      'deliveries',
    );
    expect([...members.onPub, ...members.onSub].sort((x, y) => x - y)).toEqual(sent);
    expect(members.onPub.length).toBeGreaterThan(0);
    expect(members.onSub.length).toBeGreaterThan(0);
    expect(plain).toEqual(sent);
    for (const s of subs) s.unsubscribe();
  });

  test('a failing handler is logged and isolated', async () => {
    const before = logger.entries.length;
    const got: string[] = [];
    const subs = [
      sub.subscribe(`${P}.err`, () => {
        throw new Error('nats boom');
      }),
      sub.subscribe(`${P}.err`, (m) => void got.push(m.data.v as string)),
    ];
    await sub.flush();
    await pub.publish(`${P}.err`, { v: 'a' });
    await pub.publish(`${P}.err`, { v: 'b' });
    await waitFor(() => got.length === 2, 'both messages');
    expect(got).toEqual(['a', 'b']);
    const errors = logger.entries.slice(before).filter((e) => e.level === 'error');
    expect(errors.map((e) => e.fields?.error)).toEqual(['nats boom', 'nats boom']);
    for (const s of subs) s.unsubscribe();
  });

  test('request/reply through a private inbox, with queue-group responders', async () => {
    const inboxes: string[] = [];
    const subs = [
      sub.respond(
        `${P}.svc.echo`,
        (m) => {
          inboxes.push(m.reply!);
          return { echoed: m.data.text };
        },
        { queue: 'echo' },
      ),
      pub.respond(`${P}.svc.echo`, async (m) => ({ echoed: m.data.text }), { queue: 'echo' }),
    ];
    await Promise.all([pub.flush(), sub.flush()]);
    for (let i = 0; i < 6; i++)
      expect(await pub.request(`${P}.svc.echo`, { text: `hi ${i}` })).toEqual({ echoed: `hi ${i}` });
    for (const inbox of inboxes) expect(inbox).toMatch(/^_INBOX\./);
    for (const s of subs) s.unsubscribe();
  });

  test('"no responders" at once when nobody listens; timeout when nobody answers', async () => {
    const started = performance.now();
    const none = await rejection(pub.request(`${P}.svc.none`, {}, { timeoutMs: 5000 }));
    expect(none.code).toBe('no_responders');
    expect(none.message).toContain('no responders');
    expect(performance.now() - started).toBeLessThan(1000);

    const silent = sub.subscribe(`${P}.svc.silent`, () => {});
    await sub.flush();
    const err = await rejection(pub.request(`${P}.svc.silent`, {}, { timeoutMs: 100 }));
    expect(err.code).toBe('timeout');
    silent.unsubscribe();
  });

  test('drain() finishes deliveries that already arrived, then closes', async () => {
    const bus = await open('drain');
    const done: number[] = [];
    let started = 0;
    bus.subscribe(`${P}.drain`, async (m) => {
      started++;
      await Bun.sleep(10);
      done.push(m.data.n as number);
    });
    await bus.flush();
    for (let n = 0; n < 5; n++) await pub.publish(`${P}.drain`, { n });
    await pub.flush();
    await waitFor(() => started > 0, 'the first delivery');
    await bus.drain();
    expect(done).toEqual([0, 1, 2, 3, 4]);
    expect(bus.health().connected).toBe(false);
    expect((await rejection(bus.publish(`${P}.drain`, {}))).code).toBe('closed');
    expect(() => bus.subscribe(`${P}.drain`, () => {})).toThrow(BusError);
  });
});

/** A nats-server of this file's own, on a port nobody else uses, so it can be killed and restarted. */
class PrivateNatsServer {
  private proc: Subprocess | undefined;
  constructor(
    readonly port: number,
    private readonly monitorPort?: number,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const args = [NATS_SERVER_BIN, '-a', '127.0.0.1', '-p', String(this.port)];
    if (this.monitorPort) args.push('-m', String(this.monitorPort));
    const proc = Bun.spawn(args, { stdout: 'ignore', stderr: 'ignore' });
    this.proc = proc;
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      if (proc.exitCode !== null)
        throw new Error(`nats-server exited with ${proc.exitCode} on port ${this.port}`);
      try {
        const socket = await Bun.connect({ hostname: '127.0.0.1', port: this.port, socket: { data() {} } });
        socket.end();
        return;
      } catch {
        await Bun.sleep(20);
      }
    }
    await this.stop();
    throw new Error(`nats-server did not listen on port ${this.port} within 5 s`);
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc) return;
    // SIGKILL, like a crash: clients get no goodbye and must notice the dropped socket.
    proc.kill('SIGKILL');
    await proc.exited;
  }

  /** Connections by client name, open or already closed (the server remembers recently closed ones). */
  async connectionsNamed(name: string): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${this.monitorPort}/connz?state=all`);
    const body = (await res.json()) as { connections: { name?: string }[] | null };
    return (body.connections ?? []).filter((c) => c.name === name).length;
  }
}

function freePort(): number {
  const listener = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

describe('NatsBus through a NATS outage', () => {
  const servers: PrivateNatsServer[] = [];
  const buses: NatsBus[] = [];
  const run = test.skipIf(!HAVE_SERVER_BIN && !CI);

  function requireServerBinary(): void {
    if (!HAVE_SERVER_BIN)
      throw new Error(`${NATS_SERVER_BIN} is missing; CI=true requires the NATS outage tests`);
  }

  function server(withMonitor = false): PrivateNatsServer {
    const s = new PrivateNatsServer(freePort(), withMonitor ? freePort() : undefined);
    servers.push(s);
    return s;
  }

  async function open(url: string, logger: BusLogger, extra: Partial<NatsBusOptions> = {}): Promise<NatsBus> {
    // A short retry pause so reconnects happen within the test's time budget.
    const bus = await NatsBus.create({
      servers: [url],
      name: 'gaia-test-outage',
      logger,
      reconnectTimeWaitMs: 100,
      ...extra,
    });
    buses.push(bus);
    return bus;
  }

  afterAll(async () => {
    await Promise.all(buses.map((b) => b.drain()));
    await Promise.all(servers.map((s) => s.stop()));
  });

  run(
    'starts while NATS is down, connects when it comes up, survives a restart',
    async () => {
      requireServerBinary();
      const nats = server();
      const logger = recordingLogger();

      const started = performance.now();
      const bus = await open(nats.url, logger);
      expect(performance.now() - started).toBeLessThan(1000);
      expect(bus.health()).toMatchObject({ status: 'unhealthy', connected: false, mode: 'nats' });
      expect(logger.entries.some((e) => e.level === 'warn' && e.msg.includes('not reachable'))).toBe(true);

      let reconnects = 0;
      bus.onReconnect(() => reconnects++);
      const got: unknown[] = [];
      bus.subscribe('gaia.outage.>', (m) => void got.push(m.data.n));
      await bus.publish('gaia.outage.events', { n: 'before-start' });
      expect((await rejection(bus.request('gaia.outage.svc', {}))).code).toBe('disconnected');
      expect((await rejection(bus.flush())).code).toBe('disconnected');

      await nats.start();
      await waitFor(() => bus.health().connected, 'the first connection');
      expect(bus.health()).toMatchObject({ status: 'healthy', connected: true, mode: 'nats' });
      // It started without the bus, so it may have missed events: same signal as a reconnect.
      expect(reconnects).toBe(1);
      await bus.publish('gaia.outage.events', { n: 1 });
      await waitFor(() => got.length === 2, 'events after NATS came up');
      expect(got).toEqual(['before-start', 1]);

      await nats.stop();
      await waitFor(() => !bus.health().connected, 'the disconnect');
      expect(bus.health()).toMatchObject({ status: 'unhealthy', connected: false, mode: 'nats' });
      await bus.publish('gaia.outage.events', { n: 'during-outage' });

      await nats.start();
      await waitFor(() => reconnects === 2, 'onReconnect after the restart');
      expect(bus.health().connected).toBe(true);
      await bus.publish('gaia.outage.events', { n: 2 });
      await waitFor(() => got.length === 4, 'events after the restart');
      expect(got).toEqual(['before-start', 1, 'during-outage', 2]);
    },
    15_000,
  );

  run(
    'publishes beyond the reconnect buffer are dropped with a warning, never thrown',
    async () => {
      requireServerBinary();
      const nats = server();
      const logger = recordingLogger();
      const bus = await open(nats.url, logger, { reconnectBufferBytes: 40, connectWaitMs: 50 });
      const got: unknown[] = [];
      bus.subscribe('gaia.buffer.x', (m) => void got.push(m.data.n));
      for (let n = 0; n < 5; n++) await bus.publish('gaia.buffer.x', { n, pad: 'xxxx' });
      const warnings = logger.entries.filter((e) => e.level === 'warn' && e.msg.includes('dropping'));
      expect(warnings).toHaveLength(1);

      await nats.start();
      await waitFor(() => got.length === 2, 'the held publishes');
      await bus.flush();
      expect(got).toEqual([0, 1]);
      expect(
        logger.entries.some(
          (e) => e.level === 'warn' && e.msg.includes('dropped') && e.fields?.dropped === 3,
        ),
      ).toBe(true);
    },
    10_000,
  );

  run(
    'drain() before NATS was ever reached stops the connection attempts',
    async () => {
      requireServerBinary();
      const nats = server(true);
      const bus = await open(nats.url, recordingLogger(), { connectWaitMs: 50 });
      const started = performance.now();
      await bus.drain();
      expect(performance.now() - started).toBeLessThan(200);
      expect(bus.health().connected).toBe(false);

      await nats.start();
      // Several retry pauses (100 ms) later, nobody has connected.
      await Bun.sleep(400);
      expect(await nats.connectionsNamed('gaia-test-outage')).toBe(0);
      expect(bus.health().connected).toBe(false);
    },
    10_000,
  );
});
