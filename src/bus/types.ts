/**
 * The bus contract: one interface, two transports with the same semantics.
 * Subjects are `.`-separated tokens; subscriptions may use `*` (one token) and `>` (one or more trailing).
 */
export type BusPayload = Record<string, unknown>;

export interface BusMessage {
  subject: string;
  /** Parsed JSON payload; each subscriber gets its own copy. */
  data: BusPayload;
  /** Set on request/reply messages. */
  reply?: string;
}

/** Where transports report what they cannot throw to a caller (handler failures, dropped messages). */
export interface BusLogger {
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  info?(msg: string, fields?: Record<string, unknown>): void;
}

export type BusHandler = (msg: BusMessage) => void | Promise<void>;
export type BusResponder = (msg: BusMessage) => BusPayload | Promise<BusPayload>;

export interface Subscription {
  unsubscribe(): void;
}

export interface BusHealth {
  status: 'healthy' | 'unhealthy';
  connected: boolean;
  mode: 'memory' | 'nats';
  /** Bytes of publishes held while disconnected (NATS only). */
  bufferedBytes?: number;
}

export interface Bus {
  readonly mode: 'memory' | 'nats';
  /** Queues a message; never runs handlers inline. Rejects wildcard subjects, unserializable or >1 MiB payloads. */
  publish(subject: string, data: BusPayload): Promise<void>;
  subscribe(subject: string, handler: BusHandler, opts?: { queue?: string }): Subscription;
  /** Answers requests on `subject` (optionally as a queue group). */
  respond(subject: string, responder: BusResponder, opts?: { queue?: string }): Subscription;
  /** Request/reply through a private inbox; rejects at once with "no responders" when nobody listens. */
  request(subject: string, data: BusPayload, opts?: { timeoutMs?: number }): Promise<BusPayload>;
  /**
   * Resolves once everything sent so far has reached the transport (on NATS, a server round trip), so that
   * subscriptions made before it are live, e.g. before a service announces it is ready.
   */
  flush?(): Promise<void>;
  health(): BusHealth;
  /** Called after the transport reconnects (events may have been missed while it was down). */
  onReconnect(cb: () => void): void;
  /** Finishes queued deliveries, then closes. */
  drain(): Promise<void>;
}
