/**
 * Persona endpoints (v1 and v0.2 families). Static segments (`current`, `set`,
 * `initialize-default`) are declared before `:persona_id` so they are never read as ids.
 */
import { Elysia } from 'elysia';
import { jsonResponse } from '../../../src/http/errors.ts';
import { requireUser } from '../../../src/http/service.ts';
import { validate } from '../../../src/http/validate.ts';
import type { ChatContext } from '../context.ts';
import { requireObject } from '../unified/model.ts';
import { CreatePersonaBody, checkPersonaFields, SetPersonaBody, UpdatePersonaBody } from './model.ts';
import { personaJson } from './service.ts';

const activeOnly = (query: Record<string, string | undefined>) =>
  query.active_only?.toLowerCase() !== 'false';

export function personaRoutes(ctx: ChatContext) {
  const store = ctx.personas;

  const create = async ({
    body,
    identity,
  }: {
    body: unknown;
    identity: Parameters<typeof requireUser>[0];
  }) => {
    const user = requireUser(identity);
    const input = checkPersonaFields(validate(CreatePersonaBody, requireObject(body)));
    const row = await store.create(user, input);
    return jsonResponse({
      success: true,
      message: 'Persona created successfully',
      persona: personaJson(row),
    });
  };

  return new Elysia({ name: 'chat-personas' })
    .use(ctx.kernel)
    .get('/api/v1/chat/personas', async ({ identity, query }) => {
      requireUser(identity);
      const rows = await store.list(activeOnly(query));
      return jsonResponse({
        success: true,
        personas: rows.map(personaJson),
        total: rows.length,
        message: 'Personas retrieved successfully',
      });
    })
    .post('/api/v1/chat/personas', create)
    .get('/api/v0.2/personas', async ({ identity, query }) => {
      requireUser(identity);
      const rows = await store.list(activeOnly(query));
      return jsonResponse({
        success: true,
        personas: rows.map(personaJson),
        total: rows.length,
        message: `Found ${rows.length} personas`,
      });
    })
    .get('/api/v0.2/personas/current', async ({ identity }) => {
      const user = requireUser(identity);
      const row = await store.current(user.id);
      return jsonResponse({
        success: true,
        message: 'Current persona retrieved successfully',
        persona: personaJson(row),
      });
    })
    .post('/api/v0.2/personas', create)
    .post('/api/v0.2/personas/set', async ({ body, identity }) => {
      const user = requireUser(identity);
      const input = validate(SetPersonaBody, requireObject(body));
      const row = await store.setActive(user.id, input.persona_id);
      return jsonResponse({
        success: true,
        message: `Active persona set to ${row.name}`,
        persona_id: row.id,
        persona_name: row.name,
      });
    })
    .post('/api/v0.2/personas/initialize-default', async ({ identity }) => {
      requireUser(identity);
      const { persona, created } = await store.initializeDefault();
      return jsonResponse({
        success: true,
        message: created ? 'Default persona created successfully' : 'Default persona already exists',
        persona: personaJson(persona),
        was_created: created,
      });
    })
    .get('/api/v0.2/personas/:persona_id', async ({ identity, params }) => {
      requireUser(identity);
      const row = await store.require(params.persona_id);
      return jsonResponse({
        success: true,
        message: 'Persona retrieved successfully',
        persona: personaJson(row),
      });
    })
    .put('/api/v0.2/personas/:persona_id', async ({ body, identity, params }) => {
      const user = requireUser(identity);
      const input = checkPersonaFields(validate(UpdatePersonaBody, requireObject(body)));
      const row = await store.update(user, params.persona_id, input);
      return jsonResponse({
        success: true,
        message: 'Persona updated successfully',
        persona: personaJson(row),
      });
    })
    .delete('/api/v0.2/personas/:persona_id', async ({ identity, params }) => {
      const user = requireUser(identity);
      const row = await store.remove(user, params.persona_id);
      return jsonResponse({ success: true, message: 'Persona deleted successfully', persona_id: row.id });
    });
}
