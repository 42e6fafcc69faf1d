/**
 * The routes existing clients of the Python Gaia Platform call: read-style routes take the chat request
 * shape (`message` carries the argument) and answer rendered markdown; writes answer the old JSON. The
 * `/api/v1/chat/kb-*` aliases are the same operations under the chat family's paths.
 */
import { Elysia } from 'elysia';
import { HttpError, jsonResponse } from '../../../src/http/errors.ts';
import { isoNow } from '../../../src/http/service.ts';
import { validate } from '../../../src/http/validate.ts';
import { callerOf, type KbContext } from '../context.ts';
import { runLimited } from '../mcp/tasks.ts';
import type { Caller, SearchResult } from '../types.ts';
import {
  formatContext,
  formatList,
  formatMultitask,
  formatNavigate,
  formatRead,
  formatSearch,
  formatSynthesis,
  formatThreads,
  type MultitaskOutcome,
} from './format.ts';
import { DeleteBody, MessageBody, MoveBody, WriteBody } from './model.ts';

type Identity = Parameters<typeof callerOf>[0];

const success = (response: string, metadata: Record<string, unknown>) =>
  jsonResponse({ status: 'success', response, metadata });

/** Client-caused failures keep their status; anything unexpected is a 500 that names only the operation. */
async function guarded(ctx: KbContext, operation: string, fn: () => Promise<Response>): Promise<Response> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof HttpError) throw err;
    ctx.deps.log.error('kb operation failed', { operation, error: (err as Error).message });
    throw new HttpError(500, `KB ${operation} failed`);
  }
}

export function legacyRoutes(ctx: KbContext) {
  const { ops } = ctx;

  const messageOf = (body: unknown) => validate(MessageBody, body ?? {}).message;

  const search = async (caller: Caller, q: string, limit = 20): Promise<SearchResult> =>
    ops.search(caller, { q, match: 'auto', limit, offset: 0 });

  const searchRoute = ({ body, identity }: { body: unknown; identity: Identity }) => {
    const caller = callerOf(identity);
    const q = messageOf(body);
    return guarded(ctx, 'search', async () => {
      const result = await search(caller, q);
      return success(formatSearch(q, result), { total_results: result.total, query: q });
    });
  };

  const contextRoute = ({ body, identity }: { body: unknown; identity: Identity }) => {
    const caller = callerOf(identity);
    const name = messageOf(body);
    return guarded(ctx, 'context', async () => {
      const c = await ops.context(caller, name);
      return success(formatContext(name, c), { context_name: name, loaded: true });
    });
  };

  const multitask = async (caller: Caller, text: string): Promise<MultitaskOutcome[]> => {
    const canRead = ctx.access.readFilter(await ctx.access.principal(caller));
    const plan = ctx.knowledge.multitaskPlan(text, await ctx.knowledge.rootContexts(canRead));
    return runLimited(plan, 5, async (task): Promise<MultitaskOutcome> => {
      try {
        if (task.type === 'search')
          return {
            ok: true,
            result: await ops.search(caller, { q: task.query, match: 'auto', limit: task.limit }),
          };
        if (task.type === 'context') return { ok: true, result: await ops.context(caller, task.name) };
        return { ok: true, result: await ops.navigate(caller, task.path, task.depth) };
      } catch (err) {
        if (!(err instanceof HttpError))
          ctx.deps.log.warn('kb multitask task failed', { error: String(err) });
        return { ok: false, error: err instanceof HttpError ? err.detail : 'Task failed' };
      }
    });
  };

  const multitaskRoute = ({ body, identity }: { body: unknown; identity: Identity }) => {
    const caller = callerOf(identity);
    const text = messageOf(body);
    return guarded(ctx, 'multitask', async () => {
      const results = await multitask(caller, text);
      return success(formatMultitask(results), {
        tasks_count: results.length,
        execution_mode: 'parallel',
      });
    });
  };

  return (
    new Elysia({ name: 'kb-legacy' })
      .use(ctx.kernel)
      .post('/api/v0.2/kb/search', searchRoute)
      .post('/api/v0.2/kb/read', ({ body, identity }) => {
        const caller = callerOf(identity);
        const path = messageOf(body);
        return guarded(ctx, 'read', async () => {
          const file = await ops.read(caller, path);
          return success(formatRead(file), { file_path: file.path });
        });
      })
      .post('/api/v0.2/kb/list', ({ body, identity }) => {
        const caller = callerOf(identity);
        const raw = messageOf(body);
        const dir = raw.trim() === '' ? '/' : raw;
        return guarded(ctx, 'list', async () => {
          const list = await ops.list(caller, dir, { mdOnly: true });
          return success(formatList(dir, list), { directory: dir });
        });
      })
      .post('/api/v0.2/kb/context', contextRoute)
      .post('/api/v0.2/kb/navigate', ({ body, identity }) => {
        const caller = callerOf(identity);
        const raw = messageOf(body);
        const start = raw.trim() === '' ? '/' : raw;
        return guarded(ctx, 'navigate', async () => {
          const tree = await ops.navigate(caller, start, 3);
          return success(formatNavigate(start, tree), { start_path: start });
        });
      })
      .post('/api/v0.2/kb/synthesize', ({ body, identity }) => {
        const caller = callerOf(identity);
        const names = messageOf(body)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        return guarded(ctx, 'synthesize', async () => {
          if (names.length === 0) throw new HttpError(400, 'At least one context is required');
          const s = await ops.synthesize(caller, names);
          return success(formatSynthesis(names, s), { contexts: names });
        });
      })
      .post('/api/v0.2/kb/threads', ({ identity }) => {
        const caller = callerOf(identity);
        return guarded(ctx, 'threads', async () => {
          const th = await ops.threads(caller);
          return success(formatThreads(th), {
            total_threads: th.total_threads,
            active_count: th.active_count,
          });
        });
      })
      .post('/api/v0.2/kb/write', async ({ body, identity }) => {
        const caller = callerOf(identity);
        const b = validate(WriteBody, body ?? {});
        const r = await ops.write(caller, b.path, b.content, {
          message: b.message,
          validate: b.validate_content ?? true,
        });
        if (r.action === 'unchanged')
          return jsonResponse({ success: true, message: 'No changes to commit', path: r.path });
        return jsonResponse({
          success: true,
          action: r.action,
          path: r.path,
          commit_hash: r.commit!.slice(0, 7),
          message: b.message,
          warnings: r.warnings,
        });
      })
      .delete('/api/v0.2/kb/delete', async ({ body, identity }) => {
        const caller = callerOf(identity);
        const b = validate(DeleteBody, body ?? {});
        const r = await ops.remove(caller, b.path, { message: b.message });
        return jsonResponse({
          success: true,
          action: 'delete',
          path: r.path,
          commit_hash: r.commit.slice(0, 7),
          message: b.message,
        });
      })
      .post('/api/v0.2/kb/move', async ({ body, identity }) => {
        const caller = callerOf(identity);
        const b = validate(MoveBody, body ?? {});
        const r = await ops.move(caller, b.old_path, b.new_path, { message: b.message });
        return jsonResponse({
          success: true,
          action: 'move',
          old_path: r.from,
          new_path: r.to,
          commit_hash: r.commit.slice(0, 7),
          message: b.message,
        });
      })
      .get('/api/v0.2/kb/git/status', async ({ identity }) => {
        const changes = await ops.gitStatus(callerOf(identity));
        const has =
          changes.modified.length + changes.added.length + changes.deleted.length + changes.untracked.length >
          0;
        return jsonResponse({ success: true, changes, has_changes: has });
      })
      .get('/api/v0.2/kb/cache/stats', ({ identity }) => {
        callerOf(identity);
        return jsonResponse({ status: 'success', cache: ctx.cache.stats() });
      })
      .post('/api/v0.2/kb/cache/invalidate', ({ identity, query }) => {
        callerOf(identity);
        const pattern = typeof query.pattern === 'string' && query.pattern !== '' ? query.pattern : '*';
        ctx.cache.invalidate(pattern);
        return jsonResponse({ status: 'success', message: `Cache invalidated for pattern: ${pattern}` });
      })
      .get('/api/v0.2/kb/health', ({ identity }) => {
        callerOf(identity);
        return jsonResponse({
          service: 'kb',
          status: 'healthy',
          version: ctx.deps.config.version,
          timestamp: isoNow(),
        });
      })
      // The chat family's KB variants: all of them search, as they did in the Python platform.
      .post('/api/v1/chat/kb-enhanced', searchRoute)
      .post('/api/v1/chat/kb-research', searchRoute)
      .post('/api/v1/chat/kb-gamemaster', searchRoute)
      .post('/api/v1/chat/kb-development', searchRoute)
      .post('/api/v1/chat/kb-search', searchRoute)
      .post('/api/v1/chat/kb-context', contextRoute)
      .post('/api/v1/chat/kb-multitask', multitaskRoute)
  );
}
