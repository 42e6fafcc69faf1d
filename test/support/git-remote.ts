/**
 * A real Git remote for tests: a bare repository served over smart HTTP by git's own `git http-backend`,
 * behind a small CGI adapter on a loopback port. The kb service's Git layer talks to it exactly as it
 * would to GitHub (discovery, upload-pack, receive-pack, Basic auth), and the real `git` CLI plays the
 * "other writer" that clones, commits and pushes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const HTTP_BACKEND = '/usr/lib/git-core/git-http-backend';

export interface GitRemote {
  /** `http://127.0.0.1:<port>/kb.git`, without credentials. */
  url: string;
  /** The same URL with the token as user name (what a CLI writer uses). */
  authedUrl: string;
  /** The directory holding the bare repository (GIT_PROJECT_ROOT). */
  dir: string;
  /** The bare repository itself. */
  bareDir: string;
  token: string | undefined;
  /** Requests received so far, as `<method> <path><query>` (to prove what the client did). */
  requests: string[];
  stop(): Promise<void>;
}

export interface GitCliOptions {
  name?: string;
  email?: string;
  env?: Record<string, string>;
}

/** Runs the real git CLI as another writer; throws with stderr on failure and returns trimmed stdout. */
export async function gitCli(cwd: string, ...args: string[]): Promise<string> {
  return gitCliAs({}, cwd, ...args);
}

export async function gitCliAs(opts: GitCliOptions, cwd: string, ...args: string[]): Promise<string> {
  const proc = Bun.spawn(
    [
      'git',
      '-c',
      `user.name=${opts.name ?? 'Other Writer'}`,
      '-c',
      `user.email=${opts.email ?? 'other@example.com'}`,
      '-c',
      'init.defaultBranch=main',
      '-c',
      'commit.gpgsign=false',
      ...args,
    ],
    {
      cwd,
      stdout: 'pipe',
      stderr: 'pipe',
      env: {
        ...process.env,
        GIT_TERMINAL_PROMPT: '0',
        GIT_CONFIG_NOSYSTEM: '1',
        HOME: cwd,
        ...opts.env,
      },
    },
  );
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`git ${args.join(' ')} failed (${code}): ${err.trim() || out.trim()}`);
  return out.trim();
}

/** Whether `Authorization: Basic …` carries the token as password, or as user name (GitHub style). */
function authorised(header: string | null, token: string): boolean {
  if (!header?.startsWith('Basic ')) return false;
  let decoded: string;
  try {
    decoded = atob(header.slice(6).trim());
  } catch {
    return false;
  }
  const colon = decoded.indexOf(':');
  const user = colon === -1 ? decoded : decoded.slice(0, colon);
  const pass = colon === -1 ? '' : decoded.slice(colon + 1);
  return pass === token || user === token;
}

function indexOfHeaderEnd(buf: Uint8Array): { at: number; len: number } | null {
  for (let i = 0; i < buf.length - 1; i++) {
    if (buf[i] === 10 && buf[i + 1] === 10) return { at: i, len: 2 };
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10)
      return { at: i, len: 4 };
  }
  return null;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** Runs git http-backend for one request and turns its CGI output (headers, blank line, body) into a Response. */
async function cgi(req: Request, projectRoot: string, user: string): Promise<Response> {
  const url = new URL(req.url);
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GIT_PROJECT_ROOT: projectRoot,
    GIT_HTTP_EXPORT_ALL: '1',
    GIT_CONFIG_NOSYSTEM: '1',
    HOME: projectRoot,
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.replace(/^\?/, ''),
    REQUEST_METHOD: req.method,
    CONTENT_TYPE: req.headers.get('content-type') ?? '',
    REMOTE_USER: user,
    REMOTE_ADDR: '127.0.0.1',
    SERVER_PROTOCOL: 'HTTP/1.1',
  };
  const length = req.headers.get('content-length');
  if (length) env.CONTENT_LENGTH = length;
  // Passed on as CGI does: the backend needs Content-Encoding (gzip bodies) and Git-Protocol (v2).
  for (const [k, v] of req.headers) env[`HTTP_${k.toUpperCase().replace(/-/g, '_')}`] = v;

  const proc = Bun.spawn([HTTP_BACKEND], { env, stdin: 'pipe', stdout: 'pipe', stderr: 'pipe' });
  // Stream the request body into the backend while it runs, so large pushes are never buffered whole.
  const feeding = (async () => {
    try {
      const input = req.body?.getReader();
      for (;;) {
        if (!input) break;
        const { value, done } = await input.read();
        if (done) break;
        proc.stdin.write(value);
        await proc.stdin.flush();
      }
    } finally {
      await proc.stdin.end();
    }
  })();

  const reader = proc.stdout.getReader();
  let head: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  let end: { at: number; len: number } | null = null;
  while (!end) {
    const { value, done } = await reader.read();
    if (done) break;
    head = concat(head, value);
    end = indexOfHeaderEnd(head);
  }
  await feeding.catch(() => {});
  if (!end) {
    const err = await new Response(proc.stderr).text();
    return new Response(`git http-backend produced no headers: ${err}`, { status: 502 });
  }
  const headerText = new TextDecoder().decode(head.slice(0, end.at));
  const rest = head.slice(end.at + end.len);
  let status = 200;
  const headers = new Headers();
  for (const line of headerText.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon === -1) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 200;
    else headers.append(name, value);
  }
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      if (rest.length) controller.enqueue(rest);
    },
    async pull(controller) {
      const { value, done } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
    cancel() {
      proc.kill();
    },
  });
  return new Response(body, { status, headers });
}

/**
 * Starts a bare repository `kb.git` (default branch `main`, pushes allowed) behind git http-backend on
 * 127.0.0.1:<free port>. With a token, every request needs HTTP Basic auth carrying it.
 */
export async function startGitRemote(opts: { token?: string } = {}): Promise<GitRemote> {
  const dir = mkdtempSync(join(tmpdir(), 'gaia-git-remote-'));
  const bareDir = join(dir, 'kb.git');
  await gitCli(dir, 'init', '--bare', '--initial-branch=main', bareDir);
  await gitCli(bareDir, 'config', 'http.receivepack', 'true');
  const token = opts.token;
  const requests: string[] = [];
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(req) {
      const url = new URL(req.url);
      requests.push(`${req.method} ${url.pathname}${url.search}`);
      if (token !== undefined && !authorised(req.headers.get('authorization'), token)) {
        return new Response('Authentication required\n', {
          status: 401,
          headers: { 'WWW-Authenticate': 'Basic realm="gaia-test-git"' },
        });
      }
      return cgi(req, dir, token !== undefined ? 'writer' : 'anonymous');
    },
  });
  const url = `http://127.0.0.1:${server.port}/kb.git`;
  return {
    url,
    authedUrl:
      token !== undefined ? `http://${encodeURIComponent(token)}@127.0.0.1:${server.port}/kb.git` : url,
    dir,
    bareDir,
    token,
    requests,
    async stop() {
      await server.stop(true);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A CLI working copy of the remote: clones it into a fresh temp dir (an empty remote gives an empty
 * repository on `main`). `commitFile` writes, commits and pushes one file as this writer.
 */
export async function cliWriter(remote: GitRemote, opts: GitCliOptions = {}) {
  const work = mkdtempSync(join(tmpdir(), 'gaia-git-writer-'));
  const cwd = join(work, 'repo');
  try {
    await gitCliAs(opts, work, 'clone', remote.authedUrl, 'repo');
    await gitCliAs(opts, cwd, 'checkout', '-B', 'main');
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
  return {
    cwd,
    git: (...args: string[]) => gitCliAs(opts, cwd, ...args),
    async commitFile(path: string, content: string | null, message = `Edit ${path}`): Promise<string> {
      const full = join(cwd, path);
      if (content === null) await gitCliAs(opts, cwd, 'rm', '-q', path);
      else {
        await Bun.write(full, content);
        await gitCliAs(opts, cwd, 'add', path);
      }
      await gitCliAs(opts, cwd, 'commit', '-q', '-m', message);
      return gitCliAs(opts, cwd, 'rev-parse', 'HEAD');
    },
    async push(): Promise<void> {
      await gitCliAs(opts, cwd, 'push', '-q', 'origin', 'HEAD:refs/heads/main');
    },
    async pull(): Promise<void> {
      await gitCliAs(opts, cwd, 'pull', '-q', '--no-rebase', 'origin', 'main');
    },
    cleanup(): void {
      rmSync(work, { recursive: true, force: true });
    },
  };
}
