/** Routes of API key management and exchange. */
import { Elysia } from 'elysia';
import { jsonResponse } from '../../../src/http/errors.ts';
import type { ServiceKernel } from '../../../src/http/service.ts';
import type { ApiKeysService } from './service.ts';

export function apiKeyRoutes(kernel: ServiceKernel, keys: ApiKeysService) {
  return new Elysia({ name: 'gaia-auth-api-keys' })
    .use(kernel)
    .post('/api/v1/auth/api-key-login', async ({ identity }) => jsonResponse(await keys.exchange(identity)))
    .post('/api/v1/auth/api-keys', async ({ identity, body }) =>
      jsonResponse(await keys.create(identity, body), 201),
    )
    .get('/api/v1/auth/api-keys', async ({ identity, query }) =>
      jsonResponse(await keys.list(identity, query.include_revoked === 'true')),
    )
    .delete('/api/v1/auth/api-keys/:key_id', async ({ identity, params }) => {
      await keys.revoke(identity, params.key_id);
      return new Response(null, { status: 204 });
    });
}
