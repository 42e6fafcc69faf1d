/**
 * Routes of register/login/refresh/logout/validate/confirm/resend-verification, each under `/api/v1/auth`
 * and `/api/v0.3/auth` with identical behaviour.
 */
import { Elysia } from 'elysia';
import { jsonResponse } from '../../../src/http/errors.ts';
import type { Identity } from '../../../src/http/identity.ts';
import type { ServiceKernel } from '../../../src/http/service.ts';
import type { ValidateService } from '../validate/service.ts';
import type { RequestContext } from './model.ts';
import { bearerOf, type SessionsService } from './service.ts';

const ctxOf = (identity: Identity, request: Request): RequestContext => ({
  ip: identity.ip,
  rid: identity.rid,
  userAgent: request.headers.get('user-agent'),
});

export function sessionRoutes(kernel: ServiceKernel, sessions: SessionsService, validator: ValidateService) {
  const app = new Elysia({ name: 'gaia-auth-sessions' }).use(kernel);
  for (const v of ['v1', 'v0.3']) {
    const base = `/api/${v}/auth`;
    app
      .post(`${base}/register`, async ({ body, identity, request }) =>
        jsonResponse(await sessions.register(body, ctxOf(identity, request))),
      )
      .post(`${base}/login`, async ({ body, identity, request }) =>
        jsonResponse(await sessions.login(body, ctxOf(identity, request))),
      )
      .post(`${base}/refresh`, async ({ body, identity, request }) =>
        jsonResponse(await sessions.refresh(body, ctxOf(identity, request))),
      )
      .post(`${base}/logout`, async ({ identity, request }) =>
        jsonResponse(await sessions.logout(identity, bearerOf(request.headers))),
      )
      .post(`${base}/validate`, async ({ body }) => jsonResponse(await validator.validate(body)))
      .post(`${base}/confirm`, async ({ body }) => jsonResponse(await sessions.confirm(body)))
      .post(`${base}/resend-verification`, async ({ body }) => jsonResponse(await sessions.resend(body)));
  }
  return app;
}
