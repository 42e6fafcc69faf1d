/**
 * `delegate_tasks`: several read-only KB operations in one MCP call, run with bounded parallelism. A
 * task that fails (bad parameters, forbidden path, missing file) is reported in the result and never
 * fails its siblings or the call.
 */
import { HttpError } from '../../../src/http/errors.ts';
import { findingOf } from '../legacy/format.ts';
import type { KbTool, ToolContext } from './tools.ts';

export const TASK_TYPES = [
  'search',
  'read_file',
  'load_context',
  'list_directory',
  'navigate_index',
  'synthesize',
] as const;
export type TaskType = (typeof TASK_TYPES)[number];

export type CompressionStrategy = 'summary' | 'merge' | 'raw';

export type TaskOutcome =
  | { task: Record<string, unknown>; ok: true; result: unknown }
  | { task: Record<string, unknown>; ok: false; error: string };

/** Runs `fn` over `items` with at most `limit` in flight; results keep the input order. */
export async function runLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  const n = Math.max(1, Math.min(limit, items.length));
  await Promise.all(Array.from({ length: n }, worker));
  return out;
}

/**
 * A task's parameters as the matching tool's arguments. Tasks also accept the names the Python
 * orchestrator used (`name` for a context, `contexts` for a synthesis).
 */
function argsOf(task: Record<string, unknown>): Record<string, unknown> {
  const { type: _type, ...rest } = task;
  if (task.type === 'load_context' && rest.context_name === undefined && rest.name !== undefined) {
    const { name, ...others } = rest;
    return { ...others, context_name: name };
  }
  if (task.type === 'synthesize' && rest.source_contexts === undefined && rest.contexts !== undefined) {
    const { contexts, ...others } = rest;
    return { ...others, source_contexts: contexts };
  }
  return rest;
}

/** The client-facing text of a failure; anything that is not an HttpError stays in the server. */
export function detailOf(err: unknown, what: string): string {
  if (err instanceof HttpError) return err.detail;
  return `KB ${what} failed`;
}

export function issuesText(issues: ReadonlyArray<{ path: PropertyKey[]; message: string }>): string {
  return issues
    .map((i) => (i.path.length > 0 ? `${i.path.map(String).join('.')}: ${i.message}` : i.message))
    .join('; ');
}

async function runTask(
  ctx: ToolContext,
  task: Record<string, unknown>,
  tools: Record<TaskType, KbTool>,
): Promise<TaskOutcome> {
  const type = task.type as TaskType;
  const tool = tools[type];
  if (!tool) return { task, ok: false, error: `Unknown task type: ${String(task.type)}` };
  const parsed = tool.schema.safeParse(argsOf(task));
  if (!parsed.success)
    return { task, ok: false, error: `Invalid ${type} task: ${issuesText(parsed.error.issues)}` };
  try {
    return { task, ok: true, result: await tool.run(ctx, parsed.data) };
  } catch (err) {
    return { task, ok: false, error: detailOf(err, type) };
  }
}

function compress(outcomes: TaskOutcome[], strategy: CompressionStrategy): Record<string, unknown> {
  if (strategy === 'raw') return { raw_results: outcomes };
  if (strategy === 'merge') {
    const merged = {
      search_results: [] as unknown[],
      file_contents: [] as unknown[],
      contexts: [] as unknown[],
      listings: [] as unknown[],
      navigation: [] as unknown[],
      syntheses: [] as unknown[],
      errors: [] as Array<{ task: Record<string, unknown>; error: string }>,
    };
    for (const o of outcomes) {
      if (!o.ok) {
        merged.errors.push({ task: o.task, error: o.error });
        continue;
      }
      const r = o.result as Record<string, unknown>;
      switch (o.task.type as TaskType) {
        case 'search':
          merged.search_results.push(...((r.results as unknown[]) ?? []));
          break;
        case 'read_file':
          merged.file_contents.push(r);
          break;
        case 'load_context':
          merged.contexts.push(r);
          break;
        case 'list_directory':
          merged.listings.push(r);
          break;
        case 'navigate_index':
          merged.navigation.push(r);
          break;
        case 'synthesize':
          merged.syntheses.push(r);
          break;
      }
    }
    return merged;
  }
  const ok = outcomes.filter((o) => o.ok);
  const failed = outcomes.filter((o): o is Extract<TaskOutcome, { ok: false }> => !o.ok);
  return {
    summary: {
      total_tasks: outcomes.length,
      successful: ok.length,
      failed: failed.length,
      error_summary: failed.map((f) => f.error),
    },
    key_findings: ok
      .map((o) => findingOf(o.result))
      .filter((f): f is string => f !== null)
      .slice(0, 10),
  };
}

export async function runDelegatedTasks(
  ctx: ToolContext,
  tasks: ReadonlyArray<Record<string, unknown>>,
  opts: { parallel: boolean; maxWorkers: number; strategy: CompressionStrategy },
  tools: Record<TaskType, KbTool>,
): Promise<Record<string, unknown>> {
  const workers = opts.parallel ? opts.maxWorkers : 1;
  const outcomes = await runLimited(tasks, workers, (task) => runTask(ctx, task, tools));
  return {
    total_tasks: tasks.length,
    execution_mode: opts.parallel ? 'parallel' : 'sequential',
    compression_strategy: opts.strategy,
    results: compress(outcomes, opts.strategy),
  };
}
