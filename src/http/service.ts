/**
 * The kernel every service app is built on: identity verification, JSON body parsing, the error envelope
 * and `GET /health`. Feature controllers `.use()` the instance this returns to get `identity` typed.
 */

import { Elysia } from 'elysia';
import { type Db, describeDbError, isDatabaseUnavailable } from '../../db/index.ts';
import type { Bus } from '../bus/types.ts';
import type { Config } from '../config.ts';
import type { Logger } from '../log.ts';
import { dbUnavailable } from '../metrics.ts';
import { isMultipart, readJsonBody, unsupportedMedia } from './body.ts';
import type { ServiceClients } from './client.ts';
import { HttpError, isOpenAiPath, jsonResponse, withOpenAiEnvelope } from './errors.ts';
import { type Identity, identityOfRequest } from './identity.ts';
import { traceOf } from './trace.ts';

/**
 * Elysia by default finds the path by skipping 11 characters (`http://a.bc`), so a Host of one to three
 * characters (`Host: gw`, `Host: a:1`) loses its path and every route answers 404. Gaia's apps turn that
 * shortcut off.
 */
export const SHORT_HOSTS = { standardHostname: false } as const;

export interface ServiceDeps {
  config: Config;
  db: Db;
  bus: Bus;
  log: Logger;
  clients: ServiceClients;
}

export interface User {
  id: string;
  email: string | null;
  name: string | null;
  admin: boolean;
  authType: 'jwt' | 'api_key';
  sessionId: string | null;
  keyId: string | null;
}

export const NOT_AUTHENTICATED = 'Not authenticated. Provide a valid JWT or API Key.';

/** The authenticated caller, or the gateway's 401 when the identity is anonymous. */
export function requireUser(identity: Identity): User {
  if (identity.auth_type === 'anonymous' || !identity.sub)
    throw new HttpError(401, NOT_AUTHENTICATED, { headers: { 'www-authenticate': 'Bearer' } });
  return {
    id: identity.sub,
    email: identity.email ?? null,
    name: identity.name ?? null,
    admin: identity.admin,
    authType: identity.auth_type,
    sessionId: identity.session_id ?? null,
    keyId: identity.key_id ?? null,
  };
}

export function isoNow(): string {
  return new Date().toISOString();
}

/** Maps anything thrown in a service to the envelope; unexpected errors are logged, never shown. */
export function toErrorResponse(
  err: unknown,
  log: Logger,
  rid?: string,
  url?: string,
  traceId?: string,
): Response {
  const onV1 = url !== undefined && isOpenAiPath(new URL(url).pathname);
  if (err instanceof HttpError) return (onV1 ? withOpenAiEnvelope(err) : err).toResponse();
  log.error('unhandled error', {
    rid,
    trace_id: traceId,
    error: err instanceof Error ? err.message : String(err),
  });
  const internal = new HttpError(500, 'Internal server error');
  return (onV1 ? withOpenAiEnvelope(internal) : internal).toResponse();
}

export interface ServiceAppOptions {
  name: 'auth' | 'chat' | 'kb' | 'asset';
  deps: ServiceDeps;
  /** Extra health fields (each service may add some). */
  health?: () => Promise<Record<string, unknown>> | Record<string, unknown>;
}

export function createServiceApp({ name, deps, health }: ServiceAppOptions) {
  const { config, db, log } = deps;
  return new Elysia({ name: `gaia-${name}-kernel`, handler: SHORT_HOSTS })
    .onRequest(({ request }) => {
      // Checked before parsing: Elysia reports any parser failure as a generic parse error.
      if (
        request.method !== 'GET' &&
        request.method !== 'HEAD' &&
        isMultipart(request.headers.get('content-type'))
      )
        return unsupportedMedia().toResponse();
    })
    .onParse({ as: 'global' }, async ({ request }) => {
      const body = await readJsonBody(request);
      // Elysia falls back to its own parser on `undefined`; an empty body is `null` to us.
      return body === undefined ? null : body;
    })
    .onError({ as: 'global' }, ({ code, error, request }) => {
      let err: HttpError;
      if (error instanceof HttpError) err = error;
      else if (code === 'NOT_FOUND') err = new HttpError(404, 'Not Found');
      else if (code === 'PARSE') err = new HttpError(400, 'Invalid JSON body');
      else if (code === 'VALIDATION') err = new HttpError(422, 'Invalid request body', { errors: [] });
      else if (isDatabaseUnavailable(error)) {
        dbUnavailable.inc({ service: name });
        // An outage is not a bug in the request: 503, which clients retry, and a line without the query.
        log.warn('database unavailable', {
          rid: request.headers.get('x-request-id') ?? undefined,
          error: describeDbError(error),
        });
        err = new HttpError(503, `Service ${name} unavailable`);
      } else
        return toErrorResponse(
          error,
          log,
          request.headers.get('x-request-id') ?? undefined,
          request.url,
          traceOf(request.headers).traceId,
        );
      // The OpenAI SDKs read `error`; kernel-made errors on /v1 carry it too.
      return (isOpenAiPath(new URL(request.url).pathname) ? withOpenAiEnvelope(err) : err).toResponse();
    })
    .get('/health', async () => {
      let dbOk = true;
      try {
        await db.ping();
      } catch {
        dbOk = false;
      }
      const extra = health ? await health() : {};
      return jsonResponse(
        {
          service: name,
          status: dbOk ? 'healthy' : 'unhealthy',
          version: config.version,
          timestamp: isoNow(),
          ...extra,
        },
        dbOk ? 200 : 503,
      );
    })
    .derive({ as: 'global' }, ({ request, path }): { identity: Identity } => {
      const identity = identityOfRequest(config.internalSecret, request);
      if (identity) return { identity };
      // A global hook reaches every route, wherever it was registered; health needs no identity.
      if (path === '/health' && (request.method === 'GET' || request.method === 'HEAD'))
        return { identity: { auth_type: 'anonymous', admin: false, rid: '', ip: '' } };
      throw new HttpError(401, 'Missing or invalid internal identity');
    });
}

export type ServiceKernel = ReturnType<typeof createServiceApp>;
