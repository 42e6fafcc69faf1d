/**
 * W3C trace context (`traceparent`) at the edge: a valid incoming trace id is kept so a request can be
 * followed from the client through the gateway into the service that answered it; a missing or malformed one
 * starts a new trace. The gateway forwards a child `traceparent` naming itself as the parent span.
 */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

export interface TraceContext {
  traceId: string;
  /** The caller's span, when it sent one. */
  parentId: string | null;
  flags: string;
}

const hex = (bytes: number): string =>
  Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('hex');

/** The trace of a request: the caller's when its `traceparent` is valid, else a new one. */
export function traceOf(headers: Headers): TraceContext {
  const m = TRACEPARENT.exec(headers.get('traceparent')?.trim().toLowerCase() ?? '');
  if (m && m[1] !== ZERO_TRACE && m[2] !== ZERO_SPAN)
    return { traceId: m[1]!, parentId: m[2]!, flags: m[3]! };
  return { traceId: hex(16), parentId: null, flags: '01' };
}

/** The `traceparent` for a call made on behalf of this trace, with a fresh span id for the caller. */
export function childTraceparent(t: TraceContext): string {
  return `00-${t.traceId}-${hex(8)}-${t.flags}`;
}
