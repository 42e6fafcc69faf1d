/**
 * The in-process bus: the default when NATS_URL is unset, and what
 * tests use. It deliberately behaves like core NATS, so code that works here works on NATS: asynchronous
 * delivery, a private JSON copy per subscriber, no replay, queue groups, private-inbox request/reply.
 */
import { assertPublishSubject, BusError, decodePayload, encodePayload, subjectMatcher } from './subject.ts';
import type {
  Bus,
  BusHandler,
  BusHealth,
  BusLogger,
  BusMessage,
  BusPayload,
  BusResponder,
  Subscription,
} from './types.ts';

export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;

/**
 * One subscription's delivery queue. Handlers run one message at a time, awaiting async handlers, so a
 * subscription sees messages in publish order even when its handler is async; one slow subscription never
 * holds up another. NatsBus uses it too, so both transports run handlers the same way.
 */
export class Mailbox<T> {
  private items: (T | undefined)[] = [];
  private head = 0;
  private running = false;
  private closed = false;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly deliver: (item: T) => void | Promise<void>) {}

  get pending(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    if (this.closed) return;
    this.items.push(item);
    if (!this.running) {
      this.running = true;
      // A microtask, not a direct call: the publisher must have returned before any handler runs.
      queueMicrotask(() => void this.pump());
    }
  }

  /** Drops what has not started yet; a handler already running finishes. */
  close(): void {
    this.closed = true;
    this.items = [];
    this.head = 0;
  }

  /** Resolves once the queue is empty and no handler is running. */
  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async pump(): Promise<void> {
    while (!this.closed && this.head < this.items.length) {
      const item = this.items[this.head] as T;
      this.items[this.head++] = undefined;
      // Reclaim the consumed prefix now and then, so a long burst does not keep every message alive.
      if (this.head >= 1024 && this.head * 2 >= this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      try {
        await this.deliver(item);
      } catch {
        // deliver reports its own failures; nothing may stop the queue.
      }
    }
    this.items = [];
    this.head = 0;
    this.running = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const wake of waiters) wake();
  }
}

export function describeError(err: unknown): Record<string, unknown> {
  if (err instanceof Error) return { error: err.message, stack: err.stack };
  return { error: String(err) };
}

/** Runs a handler with its failure logged and contained, so it reaches neither the publisher nor other subscribers. */
export async function runHandler(
  handler: BusHandler,
  msg: BusMessage,
  pattern: string,
  log: BusLogger,
): Promise<void> {
  try {
    await handler(msg);
  } catch (err) {
    log.error('bus handler failed', { subject: msg.subject, subscription: pattern, ...describeError(err) });
  }
}

/** The handler behind `respond`: identical on both transports, replies travel as ordinary publishes. */
export function responderHandler(bus: Bus, responder: BusResponder, log: BusLogger): BusHandler {
  return async (msg) => {
    if (!msg.reply) {
      log.warn('bus message without a reply subject reached a responder; ignored', { subject: msg.subject });
      return;
    }
    const answer = await responder(msg);
    await bus.publish(msg.reply, answer);
  };
}

export function assertQueueName(queue: string | undefined): void {
  if (queue !== undefined && (queue.length === 0 || /\s/.test(queue))) {
    throw new BusError('invalid_subject', `invalid queue group: ${JSON.stringify(queue)}`);
  }
}

export function assertTimeout(timeoutMs: number): void {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new RangeError(`request timeout must be a positive number of milliseconds, got ${timeoutMs}`);
  }
}

interface Envelope {
  subject: string;
  json: string;
  reply?: string;
}

interface MemorySubscription {
  pattern: string;
  matches: (subject: string) => boolean;
  queue?: string;
  mailbox: Mailbox<Envelope>;
}

export interface MemoryBusOptions {
  logger?: BusLogger;
}

export class MemoryBus implements Bus {
  readonly mode = 'memory' as const;
  private readonly log: BusLogger;
  /** Insertion order is the round-robin order of queue groups. */
  private subs: MemorySubscription[] = [];
  private readonly queueTurns = new Map<string, number>();
  private readonly pendingRequests = new Set<(err: Error) => void>();
  private draining = false;
  private closed = false;
  private drained: Promise<void> | undefined;

  constructor(opts: MemoryBusOptions = {}) {
    this.log = opts.logger ?? console;
  }

  async publish(subject: string, data: BusPayload): Promise<void> {
    assertPublishSubject(subject);
    const json = encodePayload(data);
    if (this.closed) throw new BusError('closed', 'bus is closed');
    this.route(subject, json);
  }

  subscribe(subject: string, handler: BusHandler, opts: { queue?: string } = {}): Subscription {
    const matches = subjectMatcher(subject);
    assertQueueName(opts.queue);
    if (this.draining) throw new BusError('closed', 'bus is closed');
    const sub: MemorySubscription = {
      pattern: subject,
      matches,
      mailbox: new Mailbox((env) => this.dispatch(sub, handler, env)),
    };
    if (opts.queue !== undefined) sub.queue = opts.queue;
    this.subs.push(sub);
    return {
      unsubscribe: () => {
        this.subs = this.subs.filter((s) => s !== sub);
        sub.mailbox.close();
      },
    };
  }

  respond(subject: string, responder: BusResponder, opts: { queue?: string } = {}): Subscription {
    return this.subscribe(subject, responderHandler(this, responder, this.log), opts);
  }

  async request(subject: string, data: BusPayload, opts: { timeoutMs?: number } = {}): Promise<BusPayload> {
    assertPublishSubject(subject);
    const json = encodePayload(data);
    const timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    assertTimeout(timeoutMs);
    if (this.draining) throw new BusError('closed', 'bus is closed');
    const inbox = `_INBOX.${crypto.randomUUID().replaceAll('-', '')}`;
    return new Promise<BusPayload>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const settle = () => {
        clearTimeout(timer);
        inboxSub.unsubscribe();
        this.pendingRequests.delete(fail);
      };
      const fail = (err: Error) => {
        settle();
        reject(err);
      };
      const inboxSub = this.subscribe(inbox, (msg) => {
        settle();
        resolve(msg.data);
      });
      if (this.route(subject, json, inbox) === 0) {
        fail(new BusError('no_responders', `no responders for ${subject}`));
        return;
      }
      this.pendingRequests.add(fail);
      timer = setTimeout(
        () => fail(new BusError('timeout', `request to ${subject} timed out after ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
  }

  /** Memory delivery has no transport to wait for: once publish resolved, the message is routed. */
  async flush(): Promise<void> {
    if (this.closed) throw new BusError('closed', 'bus is closed');
  }

  health(): BusHealth {
    const up = !this.draining;
    return { status: up ? 'healthy' : 'unhealthy', connected: up, mode: 'memory' };
  }

  /** There is no transport to lose, so nothing is ever missed and callbacks never fire. */
  onReconnect(_cb: () => void): void {}

  drain(): Promise<void> {
    this.drained ??= this.finish();
    return this.drained;
  }

  private async finish(): Promise<void> {
    this.draining = true;
    // Like a NATS drain: subscriptions stop taking new messages at once but work off what they already hold.
    // Anything published meanwhile (e.g. by a handler) finds no subscriber, so this always terminates.
    const subs = this.subs;
    this.subs = [];
    for (const fail of [...this.pendingRequests])
      fail(new BusError('closed', 'bus closed before the reply arrived'));
    await Promise.all(subs.map((s) => s.mailbox.idle()));
    for (const s of subs) s.mailbox.close();
    this.closed = true;
  }

  /** Returns how many subscriptions received the message (0 means nobody listens: "no responders"). */
  private route(subject: string, json: string, reply?: string): number {
    const env: Envelope = reply === undefined ? { subject, json } : { subject, json, reply };
    let delivered = 0;
    let groups: Map<string, MemorySubscription[]> | undefined;
    for (const sub of this.subs) {
      if (!sub.matches(subject)) continue;
      if (sub.queue === undefined) {
        sub.mailbox.push(env);
        delivered++;
        continue;
      }
      groups ??= new Map();
      const members = groups.get(sub.queue);
      if (members) members.push(sub);
      else groups.set(sub.queue, [sub]);
    }
    if (groups) {
      for (const [queue, members] of groups) {
        const turn = this.queueTurns.get(queue) ?? 0;
        this.queueTurns.set(queue, turn + 1);
        members[turn % members.length]!.mailbox.push(env);
        delivered++;
      }
    }
    return delivered;
  }

  private dispatch(sub: MemorySubscription, handler: BusHandler, env: Envelope): Promise<void> {
    // Parsed per subscriber, at delivery: no two handlers (nor the publisher) share a mutable object.
    const msg: BusMessage = { subject: env.subject, data: decodePayload(env.json) };
    if (env.reply !== undefined) msg.reply = env.reply;
    return runHandler(handler, msg, sub.pattern, this.log);
  }
}
