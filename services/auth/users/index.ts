/** `GET` and `PATCH /api/v1/auth/user`. */
import { Elysia } from 'elysia';
import { isPlainObject } from '../../../src/http/body.ts';
import { HttpError, jsonResponse } from '../../../src/http/errors.ts';
import { requireUser, type ServiceKernel } from '../../../src/http/service.ts';
import { validate } from '../../../src/http/validate.ts';
import type { AuthProvider } from '../providers/types.ts';
import { bearerOf } from '../sessions/service.ts';
import { NAME_MAX, UpdateUserBody } from './model.ts';

export function userRoutes(kernel: ServiceKernel, provider: AuthProvider) {
  return new Elysia({ name: 'gaia-auth-user' })
    .use(kernel)
    .get('/api/v1/auth/user', async ({ identity }) => {
      requireUser(identity);
      return jsonResponse(await provider.getUser(identity));
    })
    .patch('/api/v1/auth/user', async ({ identity, body, request }) => {
      requireUser(identity);
      if (isPlainObject(body)) {
        const extra = Object.keys(body).filter((k) => k !== 'name');
        if (extra.length > 0)
          throw new HttpError(422, 'Invalid request body', {
            errors: extra.map((path) => ({ path, message: 'Not allowed' })),
          });
      }
      const name = validate(UpdateUserBody, body).name.trim();
      if (name.length < 1 || name.length > NAME_MAX)
        throw new HttpError(422, 'Invalid request body', {
          errors: [{ path: 'name', message: `Must be 1 to ${NAME_MAX} characters` }],
        });
      return jsonResponse(await provider.updateName(identity, name, bearerOf(request.headers)));
    });
}
