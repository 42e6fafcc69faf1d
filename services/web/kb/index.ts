/**
 * The knowledge-base pages: browse folders, read a file, edit it (with a check that nobody changed it in
 * the meantime), and search. Every answer is a full page, or for htmx the part of the page it replaces:
 * the tree (`#kb-tree`) or the right-hand column (`#kb-content`).
 */
import { Elysia } from 'elysia';
import { htmlAnswer, readForm, redirect, toast, triggers, type WebContext } from '../context.ts';
import type { Html } from '../html.ts';
import type { Kit } from '../kit.ts';
import { box, documentPage, pageLayout } from '../layout.ts';
import {
  dirPath,
  type KbFile,
  type KbMe,
  kbAccess,
  kbFile,
  kbLastCommit,
  kbList,
  kbMe,
  kbSave,
  kbSearch,
  normalisePath,
} from './service.ts';
import {
  conflictBox,
  editorView,
  fileHref,
  fileView,
  isNamespaceRoot,
  kbErrorText,
  kbPage,
  parentDir,
  searchView,
  treeView,
  welcomeView,
  withTree,
} from './views.ts';

/**
 * A path the pages never send to the gateway: empty, a folder, with control characters, or with `.` or
 * `..` segments, which a URL cannot carry faithfully (the URL parser would resolve them before the KB
 * could refuse them, turning `a/../../b.md` into some other path).
 */
function badFilePath(path: string): boolean {
  if (path === '' || path.endsWith('/') || /[\u0000-\u001f\u007f]/.test(path)) return true;
  return path.split('/').some((s) => s === '.' || s === '..');
}

async function loadTree(ctx: WebContext, dir: string, currentFile: string | null = null): Promise<Html> {
  const meId = ctx.requireSession().uid;
  const [meAnswer, list] = await Promise.all([
    dir === '' ? kbMe(ctx) : Promise.resolve(null),
    kbList(ctx, dir),
  ]);
  let me: KbMe | null = meAnswer?.ok ? meAnswer.body : null;
  if (list.ok) return treeView({ dir, meId: me?.user_id ?? meId, me, listing: list.body, currentFile });
  if (list.status === 404 && dir !== '') {
    // A namespace of one's own that holds no file yet is an empty folder, not a missing one.
    if (!me && /^(teams|workspaces)\/[^/]+$/.test(dir)) {
      const a = await kbMe(ctx);
      me = a.ok ? a.body : null;
    }
    if (isNamespaceRoot(dir, me?.user_id ?? meId, me))
      return treeView({ dir, meId, me, listing: { path: dir, directories: [], files: [] } });
  }
  return treeView({ dir, meId, me, error: kbErrorText(list.status, list.detail) });
}

interface LoadedFile {
  ok: boolean;
  status: number;
  /** The path actually shown (a wiki link's fallback when the first candidate does not exist). */
  path: string;
  content: Html;
  file?: KbFile;
}

async function loadFileView(
  ctx: WebContext,
  path: string,
  fallback: string | null,
  notice: Html | null = null,
): Promise<LoadedFile> {
  if (badFilePath(path)) return { ok: false, status: 400, path, content: box('error', kbErrorText(400)) };
  let shown = path;
  let [file, access, commit] = await Promise.all([
    kbFile(ctx, path),
    kbAccess(ctx, path),
    kbLastCommit(ctx, path),
  ]);
  if (!file.ok && file.status === 404 && fallback && !badFilePath(fallback) && fallback !== path) {
    const second = await Promise.all([
      kbFile(ctx, fallback),
      kbAccess(ctx, fallback),
      kbLastCommit(ctx, fallback),
    ]);
    if (second[0].ok) {
      [file, access, commit] = second;
      shown = fallback;
    }
  }
  if (!file.ok)
    return {
      ok: false,
      status: file.status,
      path,
      content: box('error', kbErrorText(file.status, file.detail)),
    };
  return {
    ok: true,
    status: 200,
    path: shown,
    file: file.body,
    content: fileView({ file: file.body, access: access.ok ? access.body : null, commit, notice }),
  };
}

const SEARCH_PAGE = 20;

export function kbRoutes(kit: Kit) {
  const { config } = kit.s;
  const page = (tree: Html, content: Html, q = '', status = 200) =>
    htmlAnswer(documentPage(pageLayout('kb', kbPage(tree, content, q)), { debug: config.debug }), { status });
  /** htmx swaps only 2xx answers, so an error shown in place is a 200; a full page keeps the real status. */
  const answer = async (
    ctx: WebContext,
    content: Html,
    opts: {
      status?: number;
      treeDir?: string | null;
      currentFile?: string | null;
      headers?: Record<string, string>;
    },
  ) => {
    const tree =
      opts.treeDir === null || opts.treeDir === undefined
        ? null
        : await loadTree(ctx, opts.treeDir, opts.currentFile);
    if (ctx.isHtmx) return htmlAnswer(withTree(content, tree), { headers: opts.headers });
    return page(tree ?? (await loadTree(ctx, '')), content, '', opts.status ?? 200);
  };

  return new Elysia({ name: 'gaia-web-kb' })
    .get(
      '/kb',
      kit.handler('page', async (ctx) => {
        const dir = dirPath(ctx.url.searchParams.get('path'));
        const tree = await loadTree(ctx, dir);
        if (ctx.isHtmx) {
          // A folder link inside a document is boosted into the content column; the tree is its place.
          const headers: Record<string, string> =
            ctx.request.headers.get('hx-target') === 'kb-tree'
              ? {}
              : { 'hx-retarget': '#kb-tree', 'hx-reswap': 'innerHTML' };
          return htmlAnswer(tree, { headers });
        }
        return page(tree, welcomeView(dir));
      }),
    )
    .get(
      '/kb/file',
      kit.handler('page', async (ctx) => {
        const q = ctx.url.searchParams;
        const path = normalisePath(q.get('path'));
        const fallback = q.has('fallback') ? normalisePath(q.get('fallback')) : null;
        const saved = q.get('saved');
        const notice =
          saved && /^[0-9a-f]{7,40}$/.test(saved)
            ? box('success', `Saved (commit ${saved.slice(0, 7)})`)
            : null;
        const v = await loadFileView(ctx, path, fallback, notice);
        if (v.ok && v.path !== path && !ctx.isHtmx) return redirect(fileHref(v.path));
        const headers: Record<string, string> = v.path !== path ? { 'hx-push-url': fileHref(v.path) } : {};
        return answer(ctx, v.content, {
          status: v.status,
          treeDir: v.ok ? parentDir(v.path) : ctx.isHtmx ? null : parentDir(path),
          currentFile: v.path,
          headers,
        });
      }),
    )
    .get(
      '/kb/edit',
      kit.handler('page', async (ctx) => {
        const path = normalisePath(ctx.url.searchParams.get('path'));
        const treeDir = ctx.isHtmx ? null : parentDir(path);
        if (badFilePath(path))
          return answer(ctx, box('error', kbErrorText(400)), { status: 400, treeDir, currentFile: path });
        const [file, access] = await Promise.all([kbFile(ctx, path, true), kbAccess(ctx, path)]);
        if (!file.ok)
          return answer(ctx, box('error', kbErrorText(file.status, file.detail)), {
            status: file.status,
            treeDir,
            currentFile: path,
          });
        if (!access.ok || access.body.can?.write !== true)
          return answer(ctx, box('error', "You don't have permission to edit this file."), {
            status: 403,
            treeDir,
            currentFile: path,
          });
        const text = file.body.raw_content ?? file.body.content ?? '';
        return answer(
          ctx,
          editorView({ path, content: text, sha: file.body.sha, eol: text.includes('\r\n') ? 'crlf' : 'lf' }),
          { treeDir, currentFile: path },
        );
      }),
    )
    .get(
      '/kb/new',
      kit.handler('page', async (ctx) => {
        const dir = dirPath(ctx.url.searchParams.get('path'));
        const treeDir = ctx.isHtmx ? null : dir;
        if (dir.split('/').some((seg) => seg === '.' || seg === '..'))
          return answer(ctx, box('error', kbErrorText(400)), { status: 400, treeDir: null });
        const access = await kbAccess(ctx, dir || '/');
        if (!access.ok && access.status !== 403)
          return answer(ctx, box('error', kbErrorText(access.status, access.detail)), {
            status: access.status,
            treeDir,
          });
        if (!access.ok || access.body.can?.write !== true)
          return answer(ctx, box('error', "You don't have permission to create files in this folder."), {
            status: 403,
            treeDir,
          });
        return answer(
          ctx,
          editorView({ path: dir ? `${dir}/` : '', content: '', sha: null, eol: 'lf', isNew: true }),
          { treeDir },
        );
      }),
    )
    .post(
      '/kb/file',
      kit.handler('page', async (ctx) => {
        const form = await readForm(ctx.request);
        const isNew = form.new === '1';
        let path = normalisePath(form.path);
        // A new file named without an extension is a note.
        if (isNew && path && !path.endsWith('/') && !/\.[^./]+$/.test(path)) path = `${path}.md`;
        const message = (form.message ?? '').trim();
        const eol = form.eol === 'crlf' ? 'crlf' : 'lf';
        // Browsers send a textarea's lines with CRLF; the file keeps the line endings it had.
        const lf = (form.content ?? '').replace(/\r\n?/g, '\n');
        const content = eol === 'crlf' ? lf.replace(/\n/g, '\r\n') : lf;
        const expected = (form.expected_sha ?? '').trim();
        const again = (error: Html, status: number) =>
          answer(ctx, editorView({ path, content: lf, sha: expected || null, message, eol, error, isNew }), {
            status,
            treeDir: ctx.isHtmx ? null : parentDir(path),
            currentFile: path,
          });
        if (badFilePath(path)) return again(box('error', kbErrorText(400)), 400);
        if (!message) return again(box('error', 'Please enter a commit message.'), 400);
        const saved = await kbSave(ctx, path, { content, message, expected_sha: expected || null });
        if (!saved.ok) {
          if (saved.status === 409 && isNew)
            return again(box('error', 'A file with this name already exists.'), 409);
          if (saved.status === 409 && typeof saved.body?.current_sha === 'string')
            return again(conflictBox(path), 409);
          const errors = Array.isArray(saved.body?.errors)
            ? saved.body.errors.map((e: any) => `${e?.path ?? ''}: ${e?.message ?? ''}`).join('; ')
            : '';
          const text = kbErrorText(saved.status, saved.detail);
          return again(box('error', errors ? `${text} (${errors})` : text), saved.status);
        }
        const short = saved.body.commit ? saved.body.commit.slice(0, 7) : null;
        if (!ctx.isHtmx) return redirect(short ? `${fileHref(path)}&saved=${short}` : fileHref(path));
        const v = await loadFileView(ctx, path, null);
        const note = short
          ? toast(`Saved (commit ${short})`, 'success')
          : toast('No changes to save', 'info');
        return answer(ctx, v.content, {
          treeDir: parentDir(path),
          currentFile: path,
          headers: { 'hx-trigger': triggers(note), 'hx-push-url': fileHref(path) },
        });
      }),
      { parse: 'none' },
    )
    .get(
      '/kb/search',
      kit.handler('page', async (ctx) => {
        const q = ctx.url.searchParams.get('q') ?? '';
        const scope = dirPath(ctx.url.searchParams.get('path'));
        let content: Html;
        let status = 200;
        if (!q.trim()) content = searchView(q, scope, null);
        else {
          const asked = Number(ctx.url.searchParams.get('offset') ?? 0);
          const offset = Number.isSafeInteger(asked) && asked > 0 ? Math.min(asked, 10_000) : 0;
          const r = await kbSearch(ctx, q, { path: scope || undefined, offset, limit: SEARCH_PAGE });
          if (r.ok) content = searchView(q, scope, r.body);
          else {
            status = r.status;
            const text =
              r.status === 400 || r.status === 422
                ? r.detail || 'Invalid search.'
                : kbErrorText(r.status, r.detail);
            content = searchView(q, scope, null, text);
          }
        }
        if (ctx.isHtmx) return htmlAnswer(content);
        return page(await loadTree(ctx, scope), content, q, status);
      }),
    );
}
