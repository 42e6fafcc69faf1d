/** Request bodies of the structured KB API (`/api/v1/kb`). */
import { t } from 'elysia';

export const PutBody = t.Object({
  content: t.String(),
  message: t.Optional(t.String({ minLength: 1, maxLength: 1000 })),
  expected_sha: t.Optional(t.Union([t.String(), t.Null()])),
  validate_content: t.Optional(t.Boolean()),
});
export const MoveBody = t.Object({
  from: t.String(),
  to: t.String(),
  message: t.Optional(t.String({ minLength: 1, maxLength: 1000 })),
});
export const SynthesizeBody = t.Object({
  contexts: t.Array(t.String(), { minItems: 1, maxItems: 20 }),
  focus: t.Optional(t.Union([t.String(), t.Null()])),
  max_connections: t.Optional(t.Integer({ minimum: 1, maximum: 100 })),
});
