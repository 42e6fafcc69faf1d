/**
 * The tools the kb MCP server offers. Each one is a zod input shape (the SDK turns it into the JSON
 * Schema clients see in `tools/list`) and a function of the caller's operations facade, so every tool
 * runs under exactly the permissions the caller has on the JSON API.
 */
import { z } from 'zod';
import { HttpError } from '../../../src/http/errors.ts';
import type { Caller, ContextData, FileObject, KbOps } from '../types.ts';
import { runDelegatedTasks, TASK_TYPES, type TaskType } from './tasks.ts';

export interface ToolContext {
  ops: KbOps;
  caller: Caller;
}

export interface KbTool {
  name: string;
  description: string;
  shape: z.ZodRawShape;
  /** The validated object schema of `shape`, built once. */
  schema: z.ZodObject<z.ZodRawShape>;
  run(ctx: ToolContext, args: Record<string, unknown>): Promise<unknown>;
}

function tool<S extends z.ZodRawShape>(def: {
  name: string;
  description: string;
  shape: S;
  run(ctx: ToolContext, args: z.infer<z.ZodObject<S>>): Promise<unknown>;
}): KbTool {
  return {
    name: def.name,
    description: def.description,
    shape: def.shape,
    schema: z.object(def.shape) as unknown as z.ZodObject<z.ZodRawShape>,
    run: def.run as KbTool['run'],
  };
}

const MATCH = z.enum(['auto', 'all', 'any', 'phrase']);
const int = (def: number, min: number, max: number) => z.number().int().min(min).max(max).default(def);

/** Link targets a context expansion reads at most, so one call cannot walk the whole KB. */
const MAX_LINKED_FILES = 100;
const NS_PREFIXES: Record<string, string> = {
  user: 'users/',
  team: 'teams/',
  workspace: 'workspaces/',
  shared: 'shared/',
};

/**
 * Where a `[[link]]` written in `from` may point, in the order they are tried: the linking file's
 * directory, then the KB root (`.md` added when the target has no extension). A namespace prefix
 * (`user:<id>/x`, `team:t/x`, `workspace:w/x`, `shared:x`) names one place only.
 */
export function linkCandidates(from: string, link: string): string[] {
  let target = link.split('|')[0]!.split('#')[0]!.trim();
  if (!target) return [];
  const withExt = (p: string) => (/\.[A-Za-z0-9]+$/.test(p.split('/').at(-1) ?? '') ? p : `${p}.md`);
  const ns = /^(user|team|workspace|shared):(.*)$/.exec(target);
  if (ns) {
    const rest = ns[2]!.replace(/^\/+/, '');
    return rest ? [withExt(NS_PREFIXES[ns[1]!] + rest)] : [];
  }
  target = target.replace(/^\/+/, '');
  const dir = from.includes('/') ? from.slice(0, from.lastIndexOf('/')) : '';
  const out = dir ? [withExt(`${dir}/${target}`), withExt(target)] : [withExt(target)];
  return [...new Set(out)];
}

/** The first candidate the caller can read; unreadable and missing targets look the same (skipped). */
async function resolveLink(ctx: ToolContext, from: string, link: string): Promise<FileObject | null> {
  for (const candidate of linkCandidates(from, link)) {
    try {
      return await ctx.ops.read(ctx.caller, candidate);
    } catch (err) {
      if (err instanceof HttpError && err.status < 500) continue;
      throw err;
    }
  }
  return null;
}

/**
 * Adds the files the index's wiki links reach within `depth` hops (links of linked files count as the
 * next hop) to the context's file list.
 */
async function expandContext(ctx: ToolContext, data: ContextData, depth: number): Promise<ContextData> {
  if (depth <= 0 || data.dependencies.length === 0) return data;
  const files = [...data.files];
  const listed = new Set(files);
  const visited = new Set<string>([data.path]);
  let frontier = [{ from: data.path, links: data.dependencies }];
  let reads = 0;
  for (let hop = 0; hop < depth && frontier.length > 0; hop++) {
    const next: typeof frontier = [];
    for (const { from, links } of frontier) {
      for (const link of links) {
        if (reads >= MAX_LINKED_FILES) break;
        reads++;
        const file = await resolveLink(ctx, from, link);
        if (!file || visited.has(file.path)) continue;
        visited.add(file.path);
        if (!listed.has(file.path)) {
          listed.add(file.path);
          files.push(file.path);
        }
        next.push({ from: file.path, links: file.wiki_links });
      }
    }
    frontier = next;
  }
  return { ...data, files, total_files: data.total_files + (files.length - data.files.length) };
}

const searchKb = tool({
  name: 'search_kb',
  description:
    'Ranked keyword search over the knowledge base markdown files you can read. `match`: all terms, any term, the exact phrase, or auto (all, falling back to any).',
  shape: {
    query: z.string().describe('Literal search text (1-500 characters)'),
    contexts: z.array(z.string()).optional().describe('Path prefixes to search within, e.g. ["gaia", "kos"]'),
    limit: int(20, 1, 100),
    include_content: z.boolean().default(false).describe('Include each file body in the results'),
    match: MATCH.default('auto'),
  },
  run: ({ ops, caller }, a) =>
    ops.search(caller, {
      q: a.query,
      contexts: a.contexts,
      limit: a.limit,
      offset: 0,
      includeContent: a.include_content,
      match: a.match,
    }),
});

const searchSemantic = tool({
  name: 'search_semantic',
  description:
    'Broad keyword search (files matching any of the terms, best first) within one namespace: root (everything you can read), shared, users/<id>, teams/<name> or workspaces/<name>.',
  shape: {
    query: z.string(),
    limit: int(10, 1, 100),
    namespace: z.string().default('root'),
  },
  run: ({ ops, caller }, a) =>
    ops.search(caller, {
      q: a.query,
      limit: a.limit,
      offset: 0,
      match: 'any',
      contexts: a.namespace === 'root' || a.namespace.trim() === '' ? undefined : [a.namespace],
    }),
});

const readFile = tool({
  name: 'read_file',
  description:
    'Read one knowledge base file: frontmatter, body, title, keywords and wiki links. With parse_frontmatter false, `content` is the whole file as stored.',
  shape: {
    path: z.string().describe('KB-relative path, e.g. gaia/+gaia.md'),
    parse_frontmatter: z.boolean().default(true),
  },
  run: async ({ ops, caller }, a) => {
    if (a.parse_frontmatter) return ops.read(caller, a.path);
    const file = await ops.read(caller, a.path, { raw: true });
    const { raw_content, ...rest } = file;
    return { ...rest, frontmatter: {}, content: raw_content ?? file.content };
  },
});

const loadContext = tool({
  name: 'load_context',
  description:
    'Load a named context (a folder with a +name.md index): summary, keywords, dependencies and files. `depth` follows the index wiki links that many hops and adds their target files.',
  shape: {
    context_name: z.string(),
    include_dependencies: z.boolean().default(true),
    depth: int(2, 0, 5),
  },
  run: async (ctx, a) => {
    const data = await ctx.ops.context(ctx.caller, a.context_name);
    if (!a.include_dependencies) return { ...data, dependencies: [] };
    return expandContext(ctx, data, a.depth);
  },
});

const listDirectory = tool({
  name: 'list_directory',
  description: 'List the subdirectories of a KB directory and its files whose names match a glob pattern.',
  shape: {
    path: z.string().default('/'),
    pattern: z.string().default('*.md').describe('Glob on file names, e.g. *.md or +*.md'),
    include_metadata: z.boolean().default(true).describe('Include size and modification time of files'),
  },
  run: async ({ ops, caller }, a) => {
    const list = await ops.list(caller, a.path, { pattern: a.pattern });
    if (a.include_metadata) return list;
    return { ...list, files: list.files.map((f) => ({ name: f.name, path: f.path, is_index: f.is_index })) };
  },
});

const navigateIndex = tool({
  name: 'navigate_index',
  description: 'The tree of KB folders below a path, with the keywords and summary of each folder index.',
  shape: {
    start_path: z.string().default('/'),
    max_depth: int(3, 1, 6),
    filter_keywords: z
      .array(z.string())
      .optional()
      .describe('Keep only folders whose index has one of these'),
  },
  run: ({ ops, caller }, a) => ops.navigate(caller, a.start_path, a.max_depth, a.filter_keywords),
});

const synthesizeContexts = tool({
  name: 'synthesize_contexts',
  description: 'Common themes and keyword connections across several contexts (context names or file paths).',
  shape: {
    source_contexts: z.array(z.string()).min(1),
    focus: z.string().optional(),
    max_connections: int(10, 1, 100),
  },
  run: ({ ops, caller }, a) => ops.synthesize(caller, a.source_contexts, a.focus, a.max_connections),
});

const getActiveThreads = tool({
  name: 'get_active_threads',
  description: 'The KOS work threads (kos/sessions/threads and your own), newest first.',
  shape: {},
  run: ({ ops, caller }) => ops.threads(caller),
});

const writeFile = tool({
  name: 'write_file',
  description: 'Create or replace a KB file (.md, .txt, .yml, .yaml, .json) and commit it.',
  shape: {
    path: z.string(),
    content: z.string(),
    message: z.string().min(1).max(1000).default('via Gaia MCP').describe('Commit message'),
  },
  run: ({ ops, caller }, a) =>
    ops.write(caller, a.path, a.content, { message: a.message, validate: true, source: 'mcp' }),
});

const moveFile = tool({
  name: 'move_file',
  description: 'Move or rename a KB file and commit the change.',
  shape: {
    old_path: z.string(),
    new_path: z.string(),
    message: z.string().min(1).max(1000).default('via Gaia MCP'),
  },
  run: ({ ops, caller }, a) =>
    ops.move(caller, a.old_path, a.new_path, { message: a.message, source: 'mcp' }),
});

const deleteFile = tool({
  name: 'delete_file',
  description: 'Delete a KB file and commit the change.',
  shape: {
    path: z.string(),
    message: z.string().min(1).max(1000).default('via Gaia MCP'),
  },
  run: ({ ops, caller }, a) => ops.remove(caller, a.path, { message: a.message, source: 'mcp' }),
});

/** The tools a delegated task may name, by task type. */
export const TASK_TOOLS: Record<TaskType, KbTool> = {
  search: searchKb,
  read_file: readFile,
  load_context: loadContext,
  list_directory: listDirectory,
  navigate_index: navigateIndex,
  synthesize: synthesizeContexts,
};

const delegateTasks = tool({
  name: 'delegate_tasks',
  description:
    'Run up to 20 read-only KB tasks in one call, in parallel by default. Each task is {"type": search|read_file|load_context|list_directory|navigate_index|synthesize, ...the parameters of that tool}. compression_strategy: summary (counts and key findings), merge (results grouped by kind) or raw (every result).',
  shape: {
    tasks: z.array(z.looseObject({ type: z.enum(TASK_TYPES) })).max(20),
    parallel: z.boolean().default(true),
    max_workers: int(5, 1, 10),
    compression_strategy: z.enum(['summary', 'merge', 'raw']).default('summary'),
  },
  run: (ctx, a) =>
    runDelegatedTasks(
      ctx,
      a.tasks,
      { parallel: a.parallel, maxWorkers: a.max_workers, strategy: a.compression_strategy },
      TASK_TOOLS,
    ),
});

export const KB_MCP_TOOLS: readonly KbTool[] = [
  searchKb,
  searchSemantic,
  readFile,
  loadContext,
  listDirectory,
  navigateIndex,
  synthesizeContexts,
  delegateTasks,
  getActiveThreads,
  writeFile,
  moveFile,
  deleteFile,
];
