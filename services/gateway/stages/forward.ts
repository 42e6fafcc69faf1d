/**
 * The last step of a proxied request: call the owning service with the caller's identity and relay its
 * answer — streams chunk by chunk with their slot held to the end, small in-process answers as bytes.
 */
import type { Config } from '../../../src/config.ts';
import { type ServiceClients, unavailable } from '../../../src/http/client.ts';
import { HttpError } from '../../../src/http/errors.ts';
import {
  handIdentity,
  IDENTITY_HEADER,
  type Identity,
  signIdentitySync,
} from '../../../src/http/identity.ts';
import { childTraceparent } from '../../../src/http/trace.ts';
import { openStreams } from '../../../src/metrics.ts';
import type { StreamCounter } from '../limits/rate-limit.ts';
import type { Ctx, Handler } from '../pipeline.ts';
import { filterResponseHeaders, forwardRequestHeaders, withoutHopHeaders } from '../proxy/forward.ts';
import { relayStream, streamFamily } from '../proxy/stream.ts';
import type { ProxyRoute } from '../routes.ts';

export interface ForwardDeps {
  config: Config;
  clients: ServiceClients;
  streams: StreamCounter;
  /** Silence between bytes of a chat stream before the gateway cuts it. */
  streamSilenceMs: number;
  /** Counts relayed streams, so shutdown can wait for them. */
  streaming: { open: number };
  /** Where a HEAD answer's real length is kept for the server to put back (the framework overwrites it). */
  headLengths: WeakMap<Request, string>;
}

/** The identity the service acts for: the verified principal, or an anonymous caller with its address. */
function identityOf(c: Ctx): Identity {
  const p = c.principal;
  if (!p) return { auth_type: 'anonymous', admin: false, rid: c.rid, ip: c.ip };
  return {
    auth_type: p.authType,
    sub: p.userId,
    email: p.email ?? undefined,
    name: p.name ?? undefined,
    admin: p.admin,
    session_id: p.sessionId,
    key_id: p.keyId,
    rid: c.rid,
    ip: c.ip,
  };
}

export function forward(route: ProxyRoute, deps: ForwardDeps): Handler {
  const g = deps.config.gateway;
  const timeoutMs = route.chat
    ? g.chatTimeoutMs
    : route.limit === 'asset-generate'
      ? 130_000
      : g.requestTimeoutMs;
  // Long-running routes need the client's disconnect to reach the service (to stop the provider); streams
  // also get it through the relay's cancel. Elsewhere the signal costs more than it saves.
  const passSignal = route.chat || route.limit === 'asset-generate';
  const family = route.chat ? streamFamily(route.path) : undefined;

  return async (c) => {
    // Read per request: a split-mode launcher may register a service's client after the gateway is made.
    const client = deps.clients[route.owner];
    if (!client) throw unavailable(route.owner);
    const { request, url, body } = c;
    const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
    // A service in this process gets the verified identity handed over with the request; one across the
    // network gets it signed, so nothing between the two can forge it.
    const identity = identityOf(c);
    const inProcess = client.mode === 'in-process';
    const own: Record<string, string> = {
      'x-request-id': c.rid,
      // The service joins the client's trace as a child of this hop.
      traceparent: childTraceparent(c.trace),
      'x-forwarded-for': c.ip,
      'x-forwarded-proto': url.protocol === 'https:' ? 'https' : 'http',
      'x-forwarded-host': url.host,
    };
    if (!inProcess) own[IDENTITY_HEADER] = signIdentitySync(deps.config.internalSecret, identity);
    if (body) own['content-length'] = String(body.byteLength);
    const headers = forwardRequestHeaders(
      request.headers,
      {
        webhook: route.webhook,
        forwardAuthorization: route.forwardAuthorization,
        json: route.json && hasBody,
      },
      own,
    );
    const upstreamReq = new Request(
      `http://${route.owner}.internal${route.target ?? url.pathname}${url.search}`,
      {
        method: request.method,
        headers,
        body: body && request.method !== 'HEAD' ? (body as Uint8Array<ArrayBuffer>) : undefined,
        signal: passSignal ? request.signal : undefined,
      },
    );
    if (inProcess) handIdentity(upstreamReq, identity);

    const t0 = performance.now();
    c.upstreamName = route.owner;
    let upstream: Response;
    try {
      upstream = await client.send(upstreamReq, timeoutMs);
    } finally {
      c.upstreamMs = performance.now() - t0;
    }

    const type = upstream.headers.get('content-type') ?? '';
    const announced = upstream.headers.get('content-length');
    // In-process answers are already in memory. A small one (JSON, or a known length up to 1 MiB) is handed
    // on as the same Response with the hop headers taken out: no copy of its body or headers, and the server
    // still knows its length. Large or unknown-length bodies (files) and streams are relayed.
    const small = inProcess && (type.includes('json') || Number(announced ?? Number.NaN) <= 1_048_576);
    if (
      small &&
      upstream.status < 500 &&
      request.method !== 'HEAD' &&
      !type.startsWith('text/event-stream')
    ) {
      const same = withoutHopHeaders(upstream);
      if (same) return same;
    }
    const outHeaders = filterResponseHeaders(upstream.headers);
    if (type.startsWith('text/event-stream') && upstream.body) return relay(c, upstream, outHeaders);
    // Only JSON error bodies are passed on: a 5xx that is not the envelope must not leak internals.
    if (upstream.status >= 500) return checkedServerError(upstream, outHeaders);
    // The relayed body is re-framed, so the upstream length is dropped with the hop headers; a HEAD has no
    // body to frame and its announced length is the answer (clients size downloads by it).
    if (request.method === 'HEAD') {
      if (announced !== null) deps.headLengths.set(request, announced);
      return new Response(null, { status: upstream.status, headers: outHeaders });
    }
    const payload = small ? await upstream.arrayBuffer() : upstream.body;
    return new Response(payload, { status: upstream.status, headers: outHeaders });
  };

  /** The stream goes to the client as it comes; its slot and the open-stream count last until it ends. */
  function relay(c: Ctx, upstream: Response, headers: Headers): Response {
    deps.streaming.open++;
    openStreams.inc();
    const slot = c.streamSlot;
    c.streamSlot = null;
    const stream = relayStream(upstream.body!, {
      done: () => {
        deps.streaming.open--;
        openStreams.dec();
        if (slot) deps.streams.release(slot);
      },
      family,
      silenceMs: deps.streamSilenceMs,
    });
    return new Response(stream, { status: upstream.status, headers });
  }

  async function checkedServerError(upstream: Response, headers: Headers): Promise<Response> {
    const text = await upstream.text();
    let envelope = false;
    try {
      envelope = typeof JSON.parse(text)?.detail === 'string';
    } catch {
      envelope = false;
    }
    if (envelope) return new Response(text, { status: upstream.status, headers });
    if (upstream.status === 502 || upstream.status === 503)
      throw new HttpError(502, `Invalid response from ${route.owner} service`);
    throw new HttpError(500, 'Internal server error');
  }
}
