import { describe, expect, test } from 'bun:test';
import {
  BusError,
  type BusLogger,
  type BusMessage,
  createBus,
  isValidSubject,
  MAX_PAYLOAD_BYTES,
  MemoryBus,
  subjectMatches,
} from '../../src/bus/index.ts';

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

async function waitFor(cond: () => boolean, timeoutMs = 1000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await Bun.sleep(1);
  }
}

/** Lets every queued delivery run: handlers are scheduled as microtasks and a macrotask comes after them. */
const settle = () => Bun.sleep(5);

async function rejection(p: Promise<unknown>): Promise<BusError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(BusError);
    return err as BusError;
  }
  throw new Error('expected a rejection');
}

function newBus() {
  const logger = recordingLogger();
  return { bus: new MemoryBus({ logger }), logger };
}

describe('subjects', () => {
  test('tokens are dot-separated, non-empty and free of whitespace', () => {
    for (const ok of ['gaia', 'gaia.auth.logout', 'gaia.auth.api_key.revoked', 'a-b.c_d.1']) {
      expect(isValidSubject(ok)).toBe(true);
    }
    for (const bad of ['', '.', 'a.', '.a', 'a..b', 'a b', 'a.\tb', 'a\n', ' a']) {
      expect(isValidSubject(bad)).toBe(false);
      expect(isValidSubject(bad, { wildcards: true })).toBe(false);
    }
  });

  test('wildcards are whole tokens, > only last, and only when subscribing', () => {
    for (const ok of ['*', '>', 'a.*', 'a.*.c', 'a.>', '*.*.>']) {
      expect(isValidSubject(ok, { wildcards: true })).toBe(true);
      expect(isValidSubject(ok)).toBe(false);
    }
    for (const bad of ['a.>.c', '>.a', 'a*', 'a.b*', 'a.>>', 'a.**']) {
      expect(isValidSubject(bad, { wildcards: true })).toBe(false);
    }
  });

  test('* matches exactly one token, > one or more trailing tokens', () => {
    expect(subjectMatches('a.*.c', 'a.b.c')).toBe(true);
    expect(subjectMatches('a.*.c', 'a.c')).toBe(false);
    expect(subjectMatches('a.*.c', 'a.b.b.c')).toBe(false);
    expect(subjectMatches('a.*', 'a')).toBe(false);
    expect(subjectMatches('a.>', 'a.b')).toBe(true);
    expect(subjectMatches('a.>', 'a.b.c.d')).toBe(true);
    expect(subjectMatches('a.>', 'a')).toBe(false);
    expect(subjectMatches('>', 'anything.at.all')).toBe(true);
    expect(subjectMatches('a.b', 'a.b')).toBe(true);
    expect(subjectMatches('a.b', 'a.b.c')).toBe(false);
    expect(subjectMatches('a.b', 'a.bc')).toBe(false);
    expect(subjectMatches('*.b.>', 'x.b.y')).toBe(true);
    expect(subjectMatches('*.b.>', 'x.c.y')).toBe(false);
  });

  test('publishing to a wildcard or malformed subject is rejected; subscribing to a malformed one throws', async () => {
    const { bus } = newBus();
    expect((await rejection(bus.publish('gaia.*', {}))).code).toBe('invalid_subject');
    expect((await rejection(bus.publish('gaia.>', {}))).code).toBe('invalid_subject');
    expect((await rejection(bus.publish('gaia..x', {}))).code).toBe('invalid_subject');
    expect((await rejection(bus.request('gaia.*', {}))).code).toBe('invalid_subject');
    expect(() => bus.subscribe('gaia.>.x', () => {})).toThrow(BusError);
    expect(() => bus.subscribe('gaia x', () => {})).toThrow(BusError);
    expect(() => bus.subscribe('gaia.x', () => {}, { queue: 'a b' })).toThrow(BusError);
    await bus.drain();
  });

  test('subscriptions with wildcards receive exactly the matching subjects', async () => {
    const { bus } = newBus();
    const got: Record<string, string[]> = { star: [], tail: [], exact: [] };
    bus.subscribe('gaia.asset.generation.*', (m) => void got.star!.push(m.subject));
    bus.subscribe('gaia.auth.>', (m) => void got.tail!.push(m.subject));
    bus.subscribe('gaia.auth.logout', (m) => void got.exact!.push(m.subject));
    for (const s of [
      'gaia.asset.generation.started',
      'gaia.asset.generation',
      'gaia.asset.generation.x.y',
      'gaia.auth.logout',
      'gaia.auth.api_key.revoked',
      'gaia.auth',
    ]) {
      await bus.publish(s, {});
    }
    await settle();
    expect(got).toEqual({
      star: ['gaia.asset.generation.started'],
      tail: ['gaia.auth.logout', 'gaia.auth.api_key.revoked'],
      exact: ['gaia.auth.logout'],
    });
    await bus.drain();
  });
});

describe('delivery', () => {
  test('handlers never run inside publish; publish resolves once the message is queued', async () => {
    const { bus } = newBus();
    let calls = 0;
    bus.subscribe('t.async', () => {
      calls++;
    });
    const p = bus.publish('t.async', { n: 1 });
    expect(calls).toBe(0);
    await p;
    await settle();
    expect(calls).toBe(1);
    await bus.drain();
  });

  test('publish does not wait for slow subscribers', async () => {
    const { bus } = newBus();
    let release!: () => void;
    const blocked = new Promise<void>((r) => {
      release = r;
    });
    let started = 0;
    bus.subscribe('t.slow', async () => {
      started++;
      await blocked;
    });
    await bus.publish('t.slow', {});
    await bus.publish('t.slow', {});
    await settle();
    expect(started).toBe(1);
    release();
    await bus.drain();
    expect(started).toBe(2);
  });

  test('each subscription sees a publisher’s messages in publish order, even with async handlers', async () => {
    const { bus } = newBus();
    const a: number[] = [];
    const b: number[] = [];
    bus.subscribe('t.order', async (m) => {
      await Bun.sleep(Math.random() < 0.2 ? 1 : 0);
      a.push(m.data.n as number);
    });
    bus.subscribe('t.>', (m) => {
      b.push(m.data.n as number);
    });
    const sent = Array.from({ length: 200 }, (_, i) => i);
    await Promise.all(sent.map((n) => bus.publish('t.order', { n })));
    await bus.drain();
    expect(a).toEqual(sent);
    expect(b).toEqual(sent);
  });

  test('payloads are serialized at publish and parsed per subscriber', async () => {
    const { bus } = newBus();
    const seen: BusMessage[] = [];
    bus.subscribe('t.copy', (m) => {
      seen.push(m);
      (m.data.list as number[]).push(99);
    });
    bus.subscribe('t.copy', (m) => {
      seen.push(m);
    });
    const payload = { list: [1, 2], when: new Date('2025-12-01T10:00:00.000Z'), nested: { x: 1 } };
    const p = bus.publish('t.copy', payload);
    payload.list.push(3);
    payload.nested.x = 2;
    await p;
    await settle();
    expect(seen).toHaveLength(2);
    expect(seen[0]!.data).not.toBe(seen[1]!.data);
    expect(seen[1]!.data).toEqual({ list: [1, 2], when: '2025-12-01T10:00:00.000Z', nested: { x: 1 } });
    expect(seen[0]!.data.list).toEqual([1, 2, 99]);
    expect(seen[0]!.data).not.toBe(payload as unknown);
    await bus.drain();
  });

  test('unserializable payloads are rejected and nothing is delivered', async () => {
    const { bus } = newBus();
    let calls = 0;
    bus.subscribe('t.bad', () => {
      calls++;
    });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    for (const bad of [
      { n: 1n },
      circular,
      { f: () => 1 },
      { s: Symbol('x') },
      { n: Number.NaN },
      { n: Number.POSITIVE_INFINITY },
      { m: new Map([[1, 2]]) },
      { set: new Set([1]) },
      { bytes: new Uint8Array([1]) },
      [] as unknown as Record<string, unknown>,
      null as unknown as Record<string, unknown>,
    ]) {
      expect((await rejection(bus.publish('t.bad', bad))).code).toBe('invalid_payload');
    }
    await settle();
    expect(calls).toBe(0);
    await bus.drain();
  });

  test('payloads over 1 MiB are rejected, counting UTF-8 bytes', async () => {
    const { bus } = newBus();
    let received = 0;
    bus.subscribe('t.size', () => {
      received++;
    });
    const overhead = JSON.stringify({ s: '' }).length;
    await bus.publish('t.size', { s: 'x'.repeat(MAX_PAYLOAD_BYTES - overhead) });
    expect((await rejection(bus.publish('t.size', { s: 'x'.repeat(MAX_PAYLOAD_BYTES) }))).code).toBe(
      'payload_too_large',
    );
    // Fewer characters than the limit, but three bytes each in UTF-8.
    const err = await rejection(bus.publish('t.size', { s: '€'.repeat(MAX_PAYLOAD_BYTES / 2) }));
    expect(err.code).toBe('payload_too_large');
    await settle();
    expect(received).toBe(1);
    await bus.drain();
  });

  test('no retention or replay: a later subscription never sees an earlier message', async () => {
    const { bus } = newBus();
    await bus.publish('t.replay', { n: 1 });
    await settle();
    const got: number[] = [];
    bus.subscribe('t.replay', (m) => {
      got.push(m.data.n as number);
    });
    await bus.publish('t.replay', { n: 2 });
    await settle();
    expect(got).toEqual([2]);
    await bus.drain();
  });

  test('unsubscribe stops delivery, including messages already queued', async () => {
    const { bus } = newBus();
    const got: number[] = [];
    const sub = bus.subscribe('t.unsub', (m) => {
      got.push(m.data.n as number);
      if (m.data.n === 1) sub.unsubscribe();
    });
    await bus.publish('t.unsub', { n: 1 });
    await bus.publish('t.unsub', { n: 2 });
    await settle();
    await bus.publish('t.unsub', { n: 3 });
    await settle();
    expect(got).toEqual([1]);
    sub.unsubscribe();
    await bus.drain();
  });

  test('queue group members share messages round-robin; subscribers without a group each get a copy', async () => {
    const { bus } = newBus();
    const counts = { w1: 0, w2: 0, w3: 0, other1: 0, other2: 0, plain1: 0, plain2: 0 };
    bus.subscribe('t.work', () => void counts.w1++, { queue: 'workers' });
    bus.subscribe('t.work', () => void counts.w2++, { queue: 'workers' });
    bus.subscribe('t.*', () => void counts.w3++, { queue: 'workers' });
    bus.subscribe('t.work', () => void counts.other1++, { queue: 'other' });
    bus.subscribe('t.work', () => void counts.other2++, { queue: 'other' });
    bus.subscribe('t.work', () => void counts.plain1++);
    bus.subscribe('t.>', () => void counts.plain2++);
    for (let i = 0; i < 12; i++) await bus.publish('t.work', { i });
    await settle();
    expect(counts).toEqual({ w1: 4, w2: 4, w3: 4, other1: 6, other2: 6, plain1: 12, plain2: 12 });
    await bus.drain();
  });

  test('a failing handler is logged and isolated from other subscribers and from the publisher', async () => {
    const { bus, logger } = newBus();
    const got: string[] = [];
    bus.subscribe('t.err', () => {
      throw new Error('sync boom');
    });
    bus.subscribe('t.err', async () => {
      await Bun.sleep(0);
      throw new Error('async boom');
    });
    bus.subscribe('t.err', (m) => {
      got.push(m.data.v as string);
    });
    await bus.publish('t.err', { v: 'a' });
    await bus.publish('t.err', { v: 'b' });
    await settle();
    expect(got).toEqual(['a', 'b']);
    const errors = logger.entries.filter((e) => e.level === 'error');
    expect(errors).toHaveLength(4);
    expect(errors.map((e) => e.fields?.error).sort()).toEqual([
      'async boom',
      'async boom',
      'sync boom',
      'sync boom',
    ]);
    expect(errors[0]!.fields?.subject).toBe('t.err');
    await bus.drain();
  });

  test('logs go to the console by default', async () => {
    const bus = new MemoryBus();
    const original = console.error;
    const lines: unknown[][] = [];
    console.error = (...args: unknown[]) => void lines.push(args);
    try {
      bus.subscribe('t.console', () => {
        throw new Error('to console');
      });
      await bus.publish('t.console', {});
      await settle();
    } finally {
      console.error = original;
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]![0]).toBe('bus handler failed');
    await bus.drain();
  });
});

describe('request/reply', () => {
  test('a responder answers through a private inbox', async () => {
    const { bus } = newBus();
    const replies: string[] = [];
    bus.respond('svc.echo', (m) => {
      replies.push(m.reply!);
      return { echoed: m.data.text, by: 'echo' };
    });
    expect(await bus.request('svc.echo', { text: 'hi' })).toEqual({ echoed: 'hi', by: 'echo' });
    expect(await bus.request('svc.echo', { text: 'again' })).toEqual({ echoed: 'again', by: 'echo' });
    expect(replies).toHaveLength(2);
    expect(replies[0]).toMatch(/^_INBOX\./);
    expect(replies[0]).not.toBe(replies[1]);
    await bus.drain();
  });

  test('async responders and queue-group responders share requests', async () => {
    const { bus } = newBus();
    bus.respond('svc.who', async () => ({ who: 'a' }), { queue: 'svc' });
    bus.respond('svc.who', async () => ({ who: 'b' }), { queue: 'svc' });
    const answers = [];
    for (let i = 0; i < 4; i++) answers.push((await bus.request('svc.who', {})).who);
    expect(answers.sort()).toEqual(['a', 'a', 'b', 'b']);
    await bus.drain();
  });

  test('with nobody listening it fails at once with "no responders"', async () => {
    const { bus } = newBus();
    bus.subscribe('svc.other', () => {});
    const started = performance.now();
    const err = await rejection(bus.request('svc.none', {}, { timeoutMs: 5000 }));
    expect(performance.now() - started).toBeLessThan(50);
    expect(err.code).toBe('no_responders');
    expect(err.message).toContain('no responders');
    await bus.drain();
  });

  test('a listener that never answers makes the request time out', async () => {
    const { bus } = newBus();
    bus.subscribe('svc.silent', () => {});
    const started = performance.now();
    const err = await rejection(bus.request('svc.silent', {}, { timeoutMs: 50 }));
    expect(err.code).toBe('timeout');
    expect(performance.now() - started).toBeGreaterThanOrEqual(45);
    await bus.drain();
  });

  test('a failing responder is logged and the requester times out', async () => {
    const { bus, logger } = newBus();
    bus.respond('svc.fail', () => {
      throw new Error('responder boom');
    });
    const err = await rejection(bus.request('svc.fail', {}, { timeoutMs: 50 }));
    expect(err.code).toBe('timeout');
    expect(logger.entries.some((e) => e.level === 'error' && e.fields?.error === 'responder boom')).toBe(
      true,
    );
    await bus.drain();
  });

  test('rejects a non-positive timeout', async () => {
    const { bus } = newBus();
    bus.respond('svc.t', () => ({}));
    await expect(bus.request('svc.t', {}, { timeoutMs: 0 })).rejects.toThrow(RangeError);
    await bus.drain();
  });
});

describe('lifecycle', () => {
  test('drain() finishes queued deliveries, then closes', async () => {
    const { bus } = newBus();
    const done: number[] = [];
    bus.subscribe('t.drain', async (m) => {
      await Bun.sleep(5);
      done.push(m.data.n as number);
    });
    for (let n = 0; n < 5; n++) await bus.publish('t.drain', { n });
    expect(done).toEqual([]);
    await bus.drain();
    expect(done).toEqual([0, 1, 2, 3, 4]);
    expect(bus.health()).toEqual({ status: 'unhealthy', connected: false, mode: 'memory' });
    expect((await rejection(bus.publish('t.drain', { n: 5 }))).code).toBe('closed');
    expect(() => bus.subscribe('t.drain', () => {})).toThrow(BusError);
    await bus.drain();
  });

  test('drain() fails requests still waiting for a reply', async () => {
    const { bus } = newBus();
    bus.subscribe('svc.never', () => {});
    const pending = bus.request('svc.never', {}, { timeoutMs: 5000 });
    await bus.drain();
    expect((await rejection(pending)).code).toBe('closed');
  });

  test('health reports the in-process transport', async () => {
    const { bus } = newBus();
    expect(bus.mode).toBe('memory');
    expect(bus.health()).toEqual({ status: 'healthy', connected: true, mode: 'memory' });
    bus.onReconnect(() => {
      throw new Error('never called');
    });
    await bus.flush();
    await bus.drain();
  });

  test('two buses never share subscriptions or messages', async () => {
    const one = newBus().bus;
    const two = newBus().bus;
    const got: string[] = [];
    one.subscribe('t.iso', () => void got.push('one'));
    two.subscribe('t.iso', () => void got.push('two'));
    await one.publish('t.iso', {});
    await settle();
    expect(got).toEqual(['one']);
    two.respond('svc.iso', () => ({}));
    expect((await rejection(one.request('svc.iso', {}))).code).toBe('no_responders');
    await one.drain();
    expect(two.health().connected).toBe(true);
    await two.publish('t.iso', {});
    await waitFor(() => got.length === 2);
    expect(got).toEqual(['one', 'two']);
    await two.drain();
  });

  test('createBus returns the in-process bus when no NATS URL is configured', async () => {
    const bus = await createBus({ name: 'gaia-test-1' });
    expect(bus).toBeInstanceOf(MemoryBus);
    expect(bus.mode).toBe('memory');
    const also = await createBus({ name: 'gaia-test-2', natsUrl: ' ', servers: [] });
    expect(also).toBeInstanceOf(MemoryBus);
    await bus.drain();
    await also.drain();
  });
});
