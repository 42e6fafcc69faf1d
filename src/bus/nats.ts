/**
 * The bus over core NATS, used when NATS_URL is set. A service must start, and keep
 * running, while NATS is down: `create()` waits only briefly for the first connection, subscriptions made
 * before it are sent once connected, and publishes made while disconnected are held in a bounded buffer.
 */
import { readFile } from 'node:fs/promises';
import {
  connect,
  credsAuthenticator,
  type Msg,
  type NatsConnection,
  type Subscription as NatsSubscription,
  NoRespondersError,
  TimeoutError,
} from '@nats-io/transport-node';
import {
  assertQueueName,
  assertTimeout,
  DEFAULT_REQUEST_TIMEOUT_MS,
  describeError,
  Mailbox,
  responderHandler,
  runHandler,
} from './memory.ts';
import {
  assertPublishSubject,
  assertSubscribeSubject,
  BusError,
  decodePayload,
  encodePayload,
} from './subject.ts';
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

export interface NatsBusOptions {
  servers: string[];
  /** Client name shown by the server's monitoring: `gaia-<service>-<instance>`. */
  name: string;
  user?: string;
  pass?: string;
  token?: string;
  credsFile?: string;
  logger?: BusLogger;
  /** How long `create()` waits for the first connection before carrying on disconnected. Default 500 ms. */
  connectWaitMs?: number;
  /** Pause between connection attempts. Default 2000 ms (the nats.js default). */
  reconnectTimeWaitMs?: number;
  /** Publish bytes held while disconnected; beyond this they are dropped with a warning. Default 8 MiB. */
  reconnectBufferBytes?: number;
  /** Upper bound on each network step of `drain()`, so shutdown cannot hang on a dead server. Default 5000 ms. */
  drainTimeoutMs?: number;
}

interface NatsBusSubscription {
  subject: string;
  queue?: string;
  mailbox: Mailbox<Msg>;
  nats?: NatsSubscription;
}

interface HeldMessage {
  subject: string;
  bytes: Uint8Array;
}

const encoder = new TextEncoder();

/** Resolves with the promise's outcome, or with 'timeout' when it takes longer than `ms`; never rejects. */
async function within<T>(promise: Promise<T>, ms: number): Promise<{ ok: T } | { err: unknown } | 'timeout'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        (ok) => ({ ok }),
        (err: unknown) => ({ err }),
      ),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e !== undefined && chain.length < 5; e = (e as { cause?: unknown }).cause) {
    chain.push(e);
    if (!(e instanceof Error)) break;
  }
  return chain;
}

export class NatsBus implements Bus {
  readonly mode = 'nats' as const;
  private readonly log: BusLogger;
  private readonly bufferLimit: number;
  private readonly drainTimeoutMs: number;
  private nc: NatsConnection | undefined;
  private connected = false;
  private draining = false;
  private closed = false;
  private drained: Promise<void> | undefined;
  private readonly subs = new Set<NatsBusSubscription>();
  private held: HeldMessage[] = [];
  private heldBytes = 0;
  private dropped = 0;
  private readonly reconnectCallbacks: (() => void)[] = [];

  private constructor(opts: NatsBusOptions) {
    this.log = opts.logger ?? console;
    this.bufferLimit = opts.reconnectBufferBytes ?? 8 * 1024 * 1024;
    this.drainTimeoutMs = opts.drainTimeoutMs ?? 5000;
  }

  /**
   * Rejects only for configuration that can never work (a malformed server address, an unreadable creds
   * file). An unreachable server is not an error; credentials the server refuses are logged as an error once
   * nats.js gives up on them, and health stays unhealthy.
   */
  static async create(opts: NatsBusOptions): Promise<NatsBus> {
    if (opts.servers.length === 0) throw new Error('NatsBus needs at least one server');
    const bus = new NatsBus(opts);
    let authenticator: ReturnType<typeof credsAuthenticator> | undefined;
    if (opts.credsFile) {
      try {
        authenticator = credsAuthenticator(new Uint8Array(await readFile(opts.credsFile)));
      } catch (err) {
        throw new Error(`cannot read the NATS credentials file ${opts.credsFile}: ${(err as Error).message}`);
      }
    }
    const connecting = connect({
      servers: opts.servers,
      name: opts.name,
      ...(opts.user !== undefined ? { user: opts.user } : {}),
      ...(opts.pass !== undefined ? { pass: opts.pass } : {}),
      ...(opts.token !== undefined ? { token: opts.token } : {}),
      ...(authenticator ? { authenticator } : {}),
      // Never give up, including before the first connection: NATS being down must not stop a service.
      maxReconnectAttempts: -1,
      waitOnFirstConnect: true,
      reconnectTimeWait: opts.reconnectTimeWaitMs ?? 2000,
      // The default (2 min × 2 missed pings) would leave a silently partitioned link "connected" for minutes;
      // health and the gateway's cache staleness depend on noticing within about a minute.
      pingInterval: 20_000,
      // The only way to stop nats.js retrying before its first connection (there is no connection object to
      // close yet): a throwing server selector rejects the pending connect.
      reconnectToServer: () => {
        if (bus.draining) throw new Error('bus drained before NATS was reached');
        return null;
      },
    });
    const first = await within(connecting, opts.connectWaitMs ?? 500);
    if (first !== 'timeout' && 'err' in first) {
      throw new Error(`cannot connect to NATS: ${(first.err as Error)?.message ?? String(first.err)}`, {
        cause: first.err,
      });
    }
    if (first !== 'timeout') {
      bus.attach(first.ok, false);
      return bus;
    }
    bus.log.warn('NATS is not reachable yet; starting without it and connecting in the background', {
      servers: opts.servers,
    });
    connecting.then(
      (nc) => bus.attach(nc, true),
      (err) => {
        if (!bus.draining) bus.log.error('NATS connection failed for good', describeError(err));
      },
    );
    return bus;
  }

  async publish(subject: string, data: BusPayload): Promise<void> {
    assertPublishSubject(subject);
    const bytes = encoder.encode(encodePayload(data));
    if (this.closed) throw new BusError('closed', 'bus is closed');
    this.send(subject, bytes);
  }

  subscribe(subject: string, handler: BusHandler, opts: { queue?: string } = {}): Subscription {
    assertSubscribeSubject(subject);
    assertQueueName(opts.queue);
    if (this.draining) throw new BusError('closed', 'bus is closed');
    const sub: NatsBusSubscription = {
      subject,
      mailbox: new Mailbox((msg) => this.dispatch(sub, handler, msg)),
    };
    if (opts.queue !== undefined) sub.queue = opts.queue;
    this.subs.add(sub);
    // Before the first connection the subscription waits in `subs`; attach() sends it. After that, nats.js
    // itself re-sends every subscription on each reconnect.
    if (this.nc) this.subscribeOnServer(this.nc, sub);
    return {
      unsubscribe: () => {
        if (!this.subs.delete(sub)) return;
        sub.mailbox.close();
        try {
          sub.nats?.unsubscribe();
        } catch {
          // Already closed with the connection.
        }
      },
    };
  }

  respond(subject: string, responder: BusResponder, opts: { queue?: string } = {}): Subscription {
    return this.subscribe(subject, responderHandler(this, responder, this.log), opts);
  }

  async request(subject: string, data: BusPayload, opts: { timeoutMs?: number } = {}): Promise<BusPayload> {
    assertPublishSubject(subject);
    const bytes = encoder.encode(encodePayload(data));
    const timeout = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    assertTimeout(timeout);
    if (this.draining) throw new BusError('closed', 'bus is closed');
    const nc = this.nc;
    // A request cannot be buffered like an event: whoever waits for the answer needs to know now.
    if (!nc || !this.connected)
      throw new BusError('disconnected', `NATS is not connected; ${subject} not sent`);
    let reply: Msg;
    try {
      reply = await nc.request(subject, bytes, { timeout });
    } catch (err) {
      const chain = causes(err);
      if (chain.some((e) => e instanceof NoRespondersError)) {
        throw new BusError('no_responders', `no responders for ${subject}`, { cause: err });
      }
      if (chain.some((e) => e instanceof TimeoutError)) {
        throw new BusError('timeout', `request to ${subject} timed out after ${timeout} ms`, { cause: err });
      }
      throw err;
    }
    return decodePayload(reply.data);
  }

  async flush(): Promise<void> {
    if (this.closed) throw new BusError('closed', 'bus is closed');
    if (!this.nc || !this.connected) throw new BusError('disconnected', 'NATS is not connected');
    await this.nc.flush();
  }

  health(): BusHealth {
    return {
      status: this.connected ? 'healthy' : 'unhealthy',
      connected: this.connected,
      mode: 'nats',
      bufferedBytes: this.heldBytes,
    };
  }

  onReconnect(cb: () => void): void {
    this.reconnectCallbacks.push(cb);
  }

  drain(): Promise<void> {
    this.drained ??= this.finish();
    return this.drained;
  }

  private async finish(): Promise<void> {
    this.draining = true;
    const subs = [...this.subs];
    this.subs.clear();
    const nc = this.nc;
    // Stop the intake first (the server confirms no more messages are coming), then let handlers work off
    // what already arrived; they may still publish, which is why the connection is drained last.
    if (nc && this.connected) {
      const outcome = await within(Promise.allSettled(subs.map((s) => s.nats?.drain())), this.drainTimeoutMs);
      if (outcome === 'timeout') this.log.warn('NATS did not confirm the subscription drain in time');
    } else {
      for (const s of subs) {
        try {
          s.nats?.unsubscribe();
        } catch {
          // Already closed with the connection.
        }
      }
    }
    await Promise.all(subs.map((s) => s.mailbox.idle()));
    for (const s of subs) s.mailbox.close();
    this.closed = true;
    if (this.held.length > 0 || this.dropped > 0) {
      this.log.warn('bus closed while NATS was unreachable; held publishes are lost', {
        held: this.held.length,
        dropped: this.dropped,
      });
      this.held = [];
      this.heldBytes = 0;
    }
    if (nc && !nc.isClosed()) {
      if (this.connected) {
        const outcome = await within(nc.drain(), this.drainTimeoutMs);
        if (outcome === 'timeout') this.log.warn('NATS did not confirm the connection drain in time');
      }
      if (!nc.isClosed()) await nc.close().catch(() => {});
    }
    this.connected = false;
  }

  private attach(nc: NatsConnection, late: boolean): void {
    if (this.draining) {
      void nc.close().catch(() => {});
      return;
    }
    this.nc = nc;
    for (const sub of this.subs) this.subscribeOnServer(nc, sub);
    this.releaseHeld(nc);
    this.connected = true;
    void this.watch(nc);
    void nc.closed().then((err) => {
      this.connected = false;
      if (err && !this.draining) this.log.error('NATS connection closed', describeError(err));
    });
    if (late) {
      this.log.info?.('NATS connected', { server: nc.getServer() });
      // The service ran without the bus until now, so it may have missed events, as after a reconnect.
      this.notifyReconnect();
    }
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      switch (s.type) {
        case 'disconnect':
          this.connected = false;
          if (!this.draining)
            this.log.warn('NATS disconnected; holding publishes until it is back', { server: s.server });
          break;
        case 'reconnect':
          // Held messages go out before any new publish can, so publish order survives the outage.
          this.releaseHeld(nc);
          this.connected = true;
          this.log.info?.('NATS reconnected', { server: s.server });
          this.notifyReconnect();
          break;
        case 'error':
          this.log.error('NATS reported an error', describeError(s.error));
          break;
        case 'slowConsumer':
          this.log.warn('NATS subscription is a slow consumer', {
            subject: s.sub.getSubject(),
            pending: s.pending,
          });
          break;
        case 'close':
          this.connected = false;
          break;
      }
    }
  }

  private notifyReconnect(): void {
    for (const cb of this.reconnectCallbacks) {
      try {
        cb();
      } catch (err) {
        this.log.error('bus reconnect callback failed', describeError(err));
      }
    }
  }

  private subscribeOnServer(nc: NatsConnection, sub: NatsBusSubscription): void {
    try {
      sub.nats = nc.subscribe(sub.subject, {
        ...(sub.queue !== undefined ? { queue: sub.queue } : {}),
        callback: (err, msg) => {
          if (err) {
            this.log.error('NATS subscription failed', { subject: sub.subject, ...describeError(err) });
            return;
          }
          sub.mailbox.push(msg);
        },
      });
    } catch (err) {
      this.log.error('NATS subscribe failed', { subject: sub.subject, ...describeError(err) });
    }
  }

  private dispatch(sub: NatsBusSubscription, handler: BusHandler, raw: Msg): Promise<void> | undefined {
    let data: BusPayload;
    try {
      data = decodePayload(raw.data);
    } catch (err) {
      // Only a foreign publisher can send this; Gaia's own payloads are validated at publish.
      this.log.warn('bus message dropped: payload is not a JSON object', {
        subject: raw.subject,
        ...describeError(err),
      });
      return;
    }
    const msg: BusMessage = { subject: raw.subject, data };
    if (raw.reply) msg.reply = raw.reply;
    return runHandler(handler, msg, sub.subject, this.log);
  }

  private send(subject: string, bytes: Uint8Array): void {
    const nc = this.nc;
    if (!nc || !this.connected) {
      this.hold(subject, bytes);
      return;
    }
    try {
      nc.publish(subject, bytes);
    } catch (err) {
      if (String((err as Error)?.message).includes('max_payload')) {
        throw new BusError('payload_too_large', `payload exceeds the server's max_payload`, { cause: err });
      }
      this.log.warn('bus publish dropped', { subject, ...describeError(err) });
    }
  }

  /**
   * nats.js discards its outbound buffer at every reconnect attempt, so publishes made while disconnected
   * are kept here instead, up to a bound, and sent in order once connected.
   */
  private hold(subject: string, bytes: Uint8Array): void {
    if (this.heldBytes + bytes.length > this.bufferLimit) {
      if (this.dropped++ === 0) {
        this.log.warn('NATS unreachable and the reconnect buffer is full; dropping publishes', {
          subject,
          limit_bytes: this.bufferLimit,
        });
      }
      return;
    }
    this.held.push({ subject, bytes });
    this.heldBytes += bytes.length;
  }

  private releaseHeld(nc: NatsConnection): void {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const m of held) {
      try {
        nc.publish(m.subject, m.bytes);
      } catch (err) {
        this.log.warn('held bus publish dropped', { subject: m.subject, ...describeError(err) });
      }
    }
    if (this.dropped > 0) {
      this.log.warn('publishes were dropped while NATS was unreachable', { dropped: this.dropped });
      this.dropped = 0;
    }
  }
}
