/**
 * Git synchronisation routes: status for anyone signed in, pull and push on demand for KB admins, and the
 * Git host's push webhook, which arrives without user credentials and is verified here by its signature.
 */
import { Elysia } from 'elysia';
import { jsonResponse } from '../../../src/http/errors.ts';
import { callerOf, type KbContext, requireKbAdmin } from '../context.ts';

const MAX_WEBHOOK_BYTES = 1024 * 1024;

export function syncRoutes(ctx: KbContext) {
  const P = '/api/v1/kb/sync';
  return new Elysia({ name: 'kb-sync' })
    .use(ctx.kernel)
    .get(`${P}/status`, ({ identity }) => {
      callerOf(identity);
      return jsonResponse(ctx.git.syncStatus());
    })
    .post(`${P}/pull`, async ({ identity }) => {
      await requireKbAdmin(ctx, callerOf(identity), 'pull');
      void ctx.git.pull('manual').catch(() => {});
      return jsonResponse({ status: 'accepted' }, 202);
    })
    .post(`${P}/push`, async ({ identity }) => {
      await requireKbAdmin(ctx, callerOf(identity), 'push');
      void ctx.git.pushNow().catch(() => {});
      return jsonResponse({ status: 'accepted' }, 202);
    });
}

/**
 * The webhook reads its own raw body: the signature covers the exact bytes, so nothing may parse them
 * first. It is answered before the kernel's JSON parsing and identity checks run.
 */
export async function handleWebhook(ctx: KbContext, request: Request): Promise<Response> {
  if (!ctx.config.webhookSecret) return jsonResponse({ detail: 'Not Found' }, 404);
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > MAX_WEBHOOK_BYTES) return jsonResponse({ detail: 'Webhook body too large' }, 413);
  const body = new Uint8Array(await request.arrayBuffer());
  if (body.byteLength > MAX_WEBHOOK_BYTES) return jsonResponse({ detail: 'Webhook body too large' }, 413);
  const r = ctx.git.verifyWebhook(request.headers, body);
  return jsonResponse(r.body, r.status);
}
