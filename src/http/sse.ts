/**
 * Server-sent events the way Gaia's clients read them: `data: <payload>\n\n`,
 * payloads in Python's json.dumps style, optional `: ping` heartbeats, back-pressure, and an AbortSignal
 * that fires when the client goes away so the producer can stop the provider and save what it has.
 */

const HEX = '0123456789abcdef';
function u4(code: number): string {
  return `\\u${HEX[(code >> 12) & 15]}${HEX[(code >> 8) & 15]}${HEX[(code >> 4) & 15]}${HEX[code & 15]}`;
}

const SHORT_ESCAPES: Record<number, string> = {
  34: '\\"',
  92: '\\\\',
  10: '\\n',
  13: '\\r',
  9: '\\t',
  8: '\\b',
  12: '\\f',
};

/** A JSON string literal with every character outside printable ASCII escaped (Python's ensure_ascii). */
export function pyString(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x20 && c <= 0x7e && c !== 0x22 && c !== 0x5c) continue;
    out += s.slice(start, i) + (SHORT_ESCAPES[c] ?? u4(c));
    start = i + 1;
  }
  return `${out + s.slice(start)}"`;
}

/** Python `json.dumps` with default separators (`", "`, `": "`); JavaScript's shortest number form. */
export function pyJson(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'string':
      return pyString(value);
    case 'number':
      return Number.isFinite(value) ? String(value) : 'null';
    case 'boolean':
      return value ? 'true' : 'false';
    case 'bigint':
      return value.toString();
    case 'object': {
      if (value instanceof Date) return pyString(value.toISOString());
      if (Array.isArray(value)) return `[${value.map((v) => pyJson(v)).join(', ')}]`;
      const parts: string[] = [];
      for (const [k, v] of Object.entries(value)) {
        if (v === undefined || typeof v === 'function') continue;
        parts.push(`${pyString(k)}: ${pyJson(v)}`);
      }
      return `{${parts.join(', ')}}`;
    }
    default:
      return 'null';
  }
}

export const SSE_HEADERS: Record<string, string> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};

export interface SseWriter {
  /** Writes `data: <payload>\n\n`; a string is sent as is (`[DONE]`), anything else as Python-style JSON. */
  data(payload: unknown): Promise<void>;
  comment(text: string): Promise<void>;
  /** Aborted when the client disconnects (or the request signal aborts). */
  readonly signal: AbortSignal;
  readonly closed: boolean;
}

export interface SseOptions {
  /** The request's signal: aborting it ends the stream as a disconnect. */
  signal?: AbortSignal;
  /** Send `: ping` after this much silence (0 or undefined: never). */
  heartbeatMs?: number;
  /** The v1 and v0.3 streams must start with their metadata event, so no ping may precede it. */
  heartbeatBeforeFirst?: boolean;
  headers?: Record<string, string>;
  status?: number;
  onError?: (err: unknown) => void;
}

const encoder = new TextEncoder();

export function sseResponse(opts: SseOptions, producer: (w: SseWriter) => Promise<void>): Response {
  const abort = new AbortController();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  let wroteData = false;
  let lastWrite = Date.now();
  let resume: (() => void) | null = null;
  let timer: ReturnType<typeof setInterval> | undefined;

  const finish = (): void => {
    if (timer) clearInterval(timer);
    timer = undefined;
    resume?.();
    resume = null;
  };
  const disconnect = (): void => {
    if (closed) return;
    closed = true;
    finish();
    abort.abort(new Error('client disconnected'));
  };
  if (opts.signal) {
    if (opts.signal.aborted) disconnect();
    else opts.signal.addEventListener('abort', disconnect, { once: true });
  }

  const write = async (text: string): Promise<void> => {
    if (closed) return;
    try {
      controller.enqueue(encoder.encode(text));
    } catch {
      disconnect();
      return;
    }
    lastWrite = Date.now();
    // Back-pressure: wait until the reader has taken what is queued, so a slow client slows the producer.
    if ((controller.desiredSize ?? 1) <= 0 && !closed) {
      await new Promise<void>((r) => {
        resume = r;
      });
    }
  };

  const writer: SseWriter = {
    data(payload) {
      wroteData = true;
      return write(`data: ${typeof payload === 'string' ? payload : pyJson(payload)}\n\n`);
    },
    comment(text) {
      return write(`: ${text}\n\n`);
    },
    signal: abort.signal,
    get closed() {
      return closed;
    },
  };

  const stream = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        if (opts.heartbeatMs && opts.heartbeatMs > 0) {
          const every = opts.heartbeatMs;
          timer = setInterval(
            () => {
              if (closed || (!wroteData && !opts.heartbeatBeforeFirst)) return;
              if (Date.now() - lastWrite >= every) void write(': ping\n\n');
            },
            Math.max(5, Math.min(every, 1000)),
          );
        }
        queueMicrotask(() => {
          producer(writer)
            .catch((err) => opts.onError?.(err))
            .finally(() => {
              finish();
              if (!closed) {
                closed = true;
                try {
                  controller.close();
                } catch {
                  // already closed by a cancel
                }
              }
            });
        });
      },
      pull() {
        resume?.();
        resume = null;
      },
      cancel() {
        disconnect();
      },
    },
    new CountQueuingStrategy({ highWaterMark: 8 }),
  );

  return new Response(stream, {
    status: opts.status ?? 200,
    headers: { ...SSE_HEADERS, ...opts.headers },
  });
}
