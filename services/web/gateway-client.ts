/**
 * How the web UI reaches the gateway: like any client, with `Request`s to gateway
 * paths. All-in-one passes the gateway's in-process handler; split mode uses `gatewayOverHttp`.
 */

export interface GatewayLike {
  fetch(request: Request): Promise<Response>;
}

/** The origin used for gateway requests; only the path and query matter to the gateway. */
export const GATEWAY_ORIGIN = 'http://gateway.internal';

/** The gateway could not be reached at all (network error, refused connection). */
export class GatewayUnreachable extends Error {
  constructor(cause: unknown) {
    super(`Gateway unreachable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'GatewayUnreachable';
  }
}

/** Split mode: the same requests, sent over HTTP to `baseUrl` (GATEWAY_URL). */
export function gatewayOverHttp(baseUrl: string): GatewayLike {
  const base = baseUrl.replace(/\/+$/, '');
  return {
    async fetch(request) {
      const u = new URL(request.url);
      const body = request.body ? await request.arrayBuffer() : undefined;
      return fetch(base + u.pathname + u.search, {
        method: request.method,
        headers: request.headers,
        body,
        signal: request.signal,
        redirect: 'manual',
      });
    },
  };
}
