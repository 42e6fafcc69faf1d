/**
 * Persona request schemas. JSON object fields are capped at 16 KiB serialized.
 */
import { t } from 'elysia';
import { HttpError } from '../../../src/http/errors.ts';
import { Integer } from '../../../src/http/schemas.ts';

const Obj = t.Record(t.String(), t.Any());

export const CreatePersonaBody = t.Object({
  name: t.String(),
  description: t.Optional(t.String({ maxLength: 2000 })),
  system_prompt: t.String({ minLength: 1, maxLength: 20_000 }),
  personality_traits: t.Optional(Obj),
  capabilities: t.Optional(Obj),
  preferred_model: t.Optional(t.Union([t.String(), t.Null()])),
  // Checked by checkPersonaFields, which names the offending entry without echoing it.
  tools: t.Optional(t.Unknown()),
});

export const UpdatePersonaBody = t.Object({
  name: t.Optional(t.String()),
  description: t.Optional(t.String({ maxLength: 2000 })),
  system_prompt: t.Optional(t.String({ minLength: 1, maxLength: 20_000 })),
  personality_traits: t.Optional(Obj),
  capabilities: t.Optional(Obj),
  preferred_model: t.Optional(t.Union([t.String(), t.Null()])),
  tools: t.Optional(t.Unknown()),
  is_active: t.Optional(t.Boolean()),
});

export const PersonaSchema = t.Object({
  id: t.String(),
  name: t.String(),
  description: t.String(),
  system_prompt: t.String(),
  personality_traits: Obj,
  capabilities: Obj,
  preferred_model: t.Union([t.String(), t.Null()]),
  tools: t.Union([t.Array(t.String()), t.Null()], { description: 'null: the default KB tools; []: none' }),
  is_active: t.Boolean(),
  created_by: t.Union([t.String(), t.Null()]),
  created_at: t.String(),
  updated_at: t.String(),
});

export const PersonaListSchema = t.Object({
  success: t.Boolean(),
  personas: t.Array(PersonaSchema),
  total: Integer(),
  message: t.String(),
});

export const PersonaAnswerSchema = t.Object({
  success: t.Boolean(),
  message: t.String(),
  persona: PersonaSchema,
});

export const PersonaSetSchema = t.Object({
  success: t.Boolean(),
  message: t.String(),
  persona_id: t.String(),
  persona_name: t.String(),
});

export const PersonaDeletedSchema = t.Object({
  success: t.Boolean(),
  message: t.String(),
  persona_id: t.String(),
});

export const SetPersonaBody = t.Object({ persona_id: t.String() });

const fieldError = (path: string, message: string) =>
  new HttpError(422, 'Invalid request body', { errors: [{ path, message }] });

export const MAX_PERSONA_TOOLS = 64;
export const MAX_TOOL_PATTERN_LENGTH = 128;
/** A tool name or glob: `search_knowledge_base`, `kb:*`, `github__*`, `asset:generate`, `agent:*`. */
export const TOOL_PATTERN = /^[A-Za-z0-9_:*-]+$/;

/**
 * A persona's `tools`: absent (unchanged), null (no list: the default KB tools) or a list of names and
 * globs, `[]` meaning no tools at all. Returns the value to store, or throws the 422 naming the field.
 */
export function checkPersonaTools(value: unknown): string[] | null | undefined {
  if (value === undefined || value === null) return value;
  if (!Array.isArray(value)) throw fieldError('tools', 'Expected an array of strings or null');
  if (value.length > MAX_PERSONA_TOOLS)
    throw fieldError('tools', `Must have at most ${MAX_PERSONA_TOOLS} entries`);
  value.forEach((entry, i) => {
    const path = `tools.${i}`;
    if (typeof entry !== 'string') throw fieldError(path, 'Expected a string');
    if (entry.length < 1 || entry.length > MAX_TOOL_PATTERN_LENGTH)
      throw fieldError(path, `Must be 1 to ${MAX_TOOL_PATTERN_LENGTH} characters`);
    if (!TOOL_PATTERN.test(entry))
      throw fieldError(path, 'May only contain letters, digits, "_", ":", "*" and "-"');
  });
  return value as string[];
}

/** Rules TypeBox cannot say: name length after trimming, the 16 KiB cap on JSON objects, the tools list. */
export function checkPersonaFields<
  T extends { name?: string; personality_traits?: unknown; capabilities?: unknown; tools?: unknown },
>(body: T): Omit<T, 'tools'> & { tools?: string[] | null } {
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
  const tools = checkPersonaTools(body.tools);
  return { ...body, tools };
}
