/**
 * Persona request schemas (spec/chat.md §5.1). JSON object fields are capped at 16 KiB serialized.
 */
import { t } from 'elysia';
import { HttpError } from '../../../src/http/errors.ts';

const Obj = t.Record(t.String(), t.Any());

export const CreatePersonaBody = t.Object({
  name: t.String(),
  description: t.Optional(t.String({ maxLength: 2000 })),
  system_prompt: t.String({ minLength: 1, maxLength: 20_000 }),
  personality_traits: t.Optional(Obj),
  capabilities: t.Optional(Obj),
  preferred_model: t.Optional(t.Union([t.String(), t.Null()])),
});

export const UpdatePersonaBody = t.Object({
  name: t.Optional(t.String()),
  description: t.Optional(t.String({ maxLength: 2000 })),
  system_prompt: t.Optional(t.String({ minLength: 1, maxLength: 20_000 })),
  personality_traits: t.Optional(Obj),
  capabilities: t.Optional(Obj),
  preferred_model: t.Optional(t.Union([t.String(), t.Null()])),
  is_active: t.Optional(t.Boolean()),
});

export const SetPersonaBody = t.Object({ persona_id: t.String() });

const fieldError = (path: string, message: string) =>
  new HttpError(422, 'Invalid request body', { errors: [{ path, message }] });

/** Rules TypeBox cannot say: name length after trimming, and the 16 KiB cap on JSON objects. */
export function checkPersonaFields(body: {
  name?: string;
  personality_traits?: unknown;
  capabilities?: unknown;
}) {
  if (body.name !== undefined) {
    const n = body.name.trim().length;
    if (n < 1) throw fieldError('name', 'Must not be empty');
    if (n > 100) throw fieldError('name', 'Must be at most 100 characters');
  }
  for (const key of ['personality_traits', 'capabilities'] as const) {
    const v = body[key];
    if (v !== undefined && Buffer.byteLength(JSON.stringify(v)) > 16 * 1024)
      throw fieldError(key, 'Must be at most 16 KiB');
  }
}
