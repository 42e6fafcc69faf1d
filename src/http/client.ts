/**
 * How one Gaia component calls a service: in-process (`app.handle(request)`, all-in-one mode) or over
 * HTTP (split mode), with the same Request/Response on both paths so callers never know which.
 * A refused connection or a missed header deadline becomes 503 `Service <name> unavailable`.
 */
import type { ServiceName } from '../config.ts';
import { HttpError } from './errors.ts';
import { handIdentity, IDENTITY_HEADER, type Identity, signIdentitySync } from './identity.ts';

export type Handler = (request: Request) => Response | Promise<Response>;

export interface CallOptions extends RequestInit {
  /** Deadline for the response headers; the body (a stream) may take longer. */
  timeoutMs?: number;
  /** Mint an identity token for this caller (service-to-service calls). */
  identity?: Identity;
}

export interface ServiceClient {
  readonly name: ServiceName;
  readonly mode: 'in-process' | 'http';
  /** `path` includes the query string. */
  fetch(path: string, init?: CallOptions): Promise<Response>;
  /** Sends an already-built request (the gateway's forwarding path). */
  send(request: Request, timeoutMs: number): Promise<Response>;
}

export type ServiceClients = Partial<Record<ServiceName, ServiceClient>>;

/** Why a service could not be used; health reports it, clients only ever see the 503. */
export type UnavailableReason = 'timeout' | 'connection refused' | 'unreachable';

export const unavailable = (name: string, reason: UnavailableReason = 'unreachable'): HttpError => {
  const err = new HttpError(503, `Service ${name} unavailable`);
  (err as HttpError & { reason?: UnavailableReason }).reason = reason;
  return err;
};

export function unavailableReason(err: unknown): UnavailableReason | undefined {
  return (err as { reason?: UnavailableReason } | null)?.reason;
}

function reasonOf(err: unknown): UnavailableReason {
  const code = (err as { code?: string } | null)?.code ?? '';
  const msg = err instanceof Error ? err.message : String(err);
  return code === 'ConnectionRefused' || code === 'ECONNREFUSED' || /refused/i.test(msg)
    ? 'connection refused'
    : 'unreachable';
}

async function withDeadline(
  name: string,
  timeoutMs: number,
  run: (signal: AbortSignal) => Promise<Response>,
  outer?: AbortSignal | null,
): Promise<Response> {
  const ctl = new AbortController();
  const onOuter = () => ctl.abort(outer?.reason);
  if (outer) {
    if (outer.aborted) ctl.abort(outer.reason);
    else outer.addEventListener('abort', onOuter, { once: true });
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      ctl.abort(new Error('timeout'));
      reject(unavailable(name, 'timeout'));
    }, timeoutMs);
  });
  try {
    return await Promise.race([run(ctl.signal), deadline]);
  } catch (err) {
    if (err instanceof HttpError) throw err;
    if (outer?.aborted) throw err;
    throw unavailable(name, reasonOf(err));
  } finally {
    clearTimeout(timer);
  }
}

export interface ClientOptions {
  name: ServiceName;
  internalSecret: string;
  /** The caller's issuer for minted identities (`gaia-chat`). */
  issuer: string;
  defaultTimeoutMs?: number;
}

function buildRequest(base: string, path: string, init: CallOptions, token?: string): Request {
  const headers = new Headers(init.headers);
  if (token) headers.set(IDENTITY_HEADER, token);
  const { timeoutMs: _t, identity: _i, ...rest } = init;
  return new Request(base + path, { ...rest, headers });
}

/** In-process: the handler runs in this process, so only the header deadline needs enforcing. */
async function inProcessDeadline(name: string, timeoutMs: number, run: Promise<Response>): Promise<Response> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      run,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(unavailable(name, 'timeout')), timeoutMs);
      }),
    ]);
  } catch (err) {
    if (err instanceof HttpError) throw err;
    throw unavailable(name);
  } finally {
    clearTimeout(timer);
  }
}

export function inProcessClient(opts: ClientOptions, handler: Handler): ServiceClient {
  const send = (request: Request, timeoutMs: number) =>
    inProcessDeadline(opts.name, timeoutMs, Promise.resolve(handler(request)));
  return clientOf(opts, 'in-process', `http://${opts.name}.internal`, send);
}

/** Both transports build requests the same way; only `send` differs. */
function clientOf(
  opts: ClientOptions,
  mode: ServiceClient['mode'],
  base: string,
  send: ServiceClient['send'],
): ServiceClient {
  const timeout = opts.defaultTimeoutMs ?? 30_000;
  return {
    name: opts.name,
    mode,
    send,
    async fetch(path, init = {}) {
      // In this process the identity is handed over with the request; across the network it is signed.
      if (mode === 'in-process' && init.identity)
        return send(handIdentity(buildRequest(base, path, init), init.identity), init.timeoutMs ?? timeout);
      const token = init.identity
        ? signIdentitySync(opts.internalSecret, init.identity, opts.issuer)
        : undefined;
      return send(buildRequest(base, path, init, token), init.timeoutMs ?? timeout);
    },
  };
}

export function httpClient(opts: ClientOptions, baseUrl: string): ServiceClient {
  const base = baseUrl.replace(/\/+$/, '');
  const send = (request: Request, timeoutMs: number) =>
    withDeadline(
      opts.name,
      timeoutMs,
      (signal) => {
        const url = new URL(request.url);
        const target = base + url.pathname + url.search;
        return fetch(target, {
          method: request.method,
          headers: request.headers,
          body: request.body,
          signal,
          redirect: 'manual',
          // Service hops are never compressed: pass bytes through as they come.
          decompress: false,
          // Bun streams request bodies; `duplex` is required by the fetch spec for that.
          duplex: 'half',
        } as RequestInit);
      },
      request.signal,
    );
  return clientOf(opts, 'http', base, send);
}
