/**
 * The gateway's request pipeline: small named stages, each doing one thing and calling `next` for the rest,
 * composed once at start-up in one visible order (see `createGateway`). A stage can answer early (a refused
 * credential), work on the way in (reading the body), work on the way out (headers, the log line), or both.
 */
import type { TraceContext } from '../../src/http/trace.ts';
import type { Principal } from './auth/service.ts';
import type { ProxyRoute } from './routes.ts';

/** What the stages of one request share. */
export interface Ctx {
  request: Request;
  url: URL;
  /** The request id: the client's `X-Request-Id` when it is sane, else a new one. */
  rid: string;
  start: number;
  /** The client's address (the socket peer, or the trusted proxies' X-Forwarded-For entry). */
  ip: string;
  origin: string | null;
  /** `/v1` answers errors in OpenAI's envelope. */
  openAiErrors: boolean;
  /** The W3C trace this request belongs to (the client's, or a new one). */
  trace: TraceContext;
  /** The route template answered, for metrics labels (never the raw path of an unknown URL). */
  route?: string;
  principal?: Principal;
  rateHeaders?: Record<string, string>;
  authMs: number;
  upstreamMs: number;
  upstreamName?: string;

  // Set by the stages of proxied routes.
  proxied?: ProxyRoute;
  /** Who the general rate limit and stream slots count against: the key, the user, or the address. */
  bucket?: string;
  /** The request body, read once within its route's limit. */
  body?: Uint8Array | null;
  /** The concurrent-stream slot this request holds until its stream ends (or it fails before one starts). */
  streamSlot?: string | null;
}

export type Handler = (c: Ctx) => Promise<Response>;
export type Stage = (c: Ctx, next: Handler) => Promise<Response>;

/**
 * Chains `stages` in front of `handler`, outermost first. The chain is built once; a request allocates
 * nothing for it beyond the promises its stages return.
 */
export function compose(stages: readonly Stage[], handler: Handler): Handler {
  let next = handler;
  for (let i = stages.length - 1; i >= 0; i--) {
    const stage = stages[i]!;
    const inner = next;
    next = (c) => stage(c, inner);
  }
  return next;
}
