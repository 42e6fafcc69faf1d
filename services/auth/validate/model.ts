import { t } from 'elysia';

export const ValidateBody = t.Object({ token: t.Optional(t.String()), api_key: t.Optional(t.String()) });

export interface ValidateResult {
  valid: boolean;
  auth_type: 'jwt' | 'api_key' | 'none';
  user_id: string | null;
  error: string | null;
}

export const ValidateResultSchema = t.Object({
  valid: t.Boolean(),
  auth_type: t.Union([t.Literal('jwt'), t.Literal('api_key'), t.Literal('none')]),
  user_id: t.Union([t.String(), t.Null()]),
  error: t.Union([t.String(), t.Null()]),
});

export const NO_CREDENTIALS: ValidateResult = {
  valid: false,
  auth_type: 'none',
  user_id: null,
  error: 'No valid authentication credentials provided',
};
