/** What the API reference shows for the auth routes: the schemas the routes validate and answer with. */
import { MessageBody, type RouteDocs } from '../../src/http/schemas.ts';
import {
  ApiKeyListSchema,
  CreatedKeySchema,
  CreateKeyBody,
  KeyLoginResponseSchema,
} from './api-keys/model.ts';
import {
  AuthResponseSchema,
  ConfirmBody,
  ConfirmResultSchema,
  LoginBody,
  RefreshBody,
  RegisterBody,
  ResendBody,
  ResendResultSchema,
} from './sessions/model.ts';
import { UpdateUserBody, UserObjectSchema } from './users/model.ts';
import { ValidateBody, ValidateResultSchema } from './validate/model.ts';

export const AUTH_OPENAPI: RouteDocs = {
  'POST /api/v1/auth/api-key-login': { response: KeyLoginResponseSchema },
  'POST /api/v1/auth/api-keys': { body: CreateKeyBody, response: CreatedKeySchema, status: 201 },
  'GET /api/v1/auth/api-keys': { response: ApiKeyListSchema },
  'DELETE /api/v1/auth/api-keys/:key_id': { status: 204 },
  'GET /api/v1/auth/user': { response: UserObjectSchema },
  'PATCH /api/v1/auth/user': { body: UpdateUserBody, response: UserObjectSchema },
};

// Both versions answer identically.
for (const v of ['v1', 'v0.3']) {
  const base = `/api/${v}/auth`;
  Object.assign(AUTH_OPENAPI, {
    [`POST ${base}/register`]: { body: RegisterBody, response: AuthResponseSchema },
    [`POST ${base}/login`]: { body: LoginBody, response: AuthResponseSchema },
    [`POST ${base}/refresh`]: { body: RefreshBody, response: AuthResponseSchema },
    [`POST ${base}/logout`]: { response: MessageBody },
    [`POST ${base}/validate`]: { body: ValidateBody, response: ValidateResultSchema },
    [`POST ${base}/confirm`]: { body: ConfirmBody, response: ConfirmResultSchema },
    [`POST ${base}/resend-verification`]: { body: ResendBody, response: ResendResultSchema },
  } satisfies RouteDocs);
}
