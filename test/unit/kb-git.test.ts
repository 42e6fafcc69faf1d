/**
 * The kb Git layer against a real smart-HTTP remote (git http-backend) and the real git CLI as a second
 * writer: start-up forms, commits, pushes, pulls, conflict handling and failure reporting.
 */
import { afterAll, afterEach, describe, expect, test } from 'bun:test';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GitService, type PulledFile } from '../../services/kb/git/service.ts';
import type { KbConfig } from '../../services/kb/types.ts';
import { MemoryBus } from '../../src/bus/memory.ts';
import type { BusMessage } from '../../src/bus/types.ts';
import { createLogger } from '../../src/log.ts';
import { cliWriter, type GitRemote, gitCli, startGitRemote } from '../support/git-remote.ts';

const TOKEN = 'tok_S3cr3tValue42';
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function tempRoot(): string {
  const d = mkdtempSync(join(tmpdir(), 'gaia-kb-git-'));
  roots.push(d);
  return d;
}

function config(over: Partial<KbConfig> = {}): KbConfig {
  return {
    path: join(tempRoot(), 'kb'),
    gitRepoUrl: undefined,
    gitAuthToken: undefined,
    gitBranch: 'main',
    autoClone: true,
    autoSync: true,
    syncIntervalS: 0,
    pushEnabled: false,
    webhookSecret: undefined,
    committerName: 'KB Service',
    committerEmail: 'kb@gaia.dev',
    maxFileBytes: 10_485_760,
    mcpEnabled: true,
    ...over,
  };
}

interface Harness {
  git: GitService;
  bus: MemoryBus;
  events: BusMessage[];
  lines: string[];
  pulled: PulledFile[][];
  dir: string;
}

function harness(
  cfg: KbConfig,
  opts: { pushDelayMs?: number; backoff?: { initial: number; max: number } } = {},
): Harness {
  const bus = new MemoryBus();
  const events: BusMessage[] = [];
  bus.subscribe('gaia.kb.>', (m) => {
    events.push(m);
  });
  const lines: string[] = [];
  const log = createLogger({ service: 'kb', level: 'debug', json: true, sink: (l) => lines.push(l) });
  const pulled: PulledFile[][] = [];
  const git = new GitService({
    config: cfg,
    log,
    bus,
    onPulled: async (changed) => {
      pulled.push(changed);
    },
    pushDelayMs: opts.pushDelayMs ?? 50,
    pushBackoffMs: opts.backoff ?? { initial: 60_000, max: 120_000 },
  });
  cleanups.push(async () => {
    await git.close();
    await bus.drain();
  });
  return { git, bus, events, lines, pulled, dir: cfg.path };
}

async function remote(token?: string): Promise<GitRemote> {
  const r = await startGitRemote({ token });
  cleanups.push(() => r.stop());
  return r;
}

async function writer(r: GitRemote) {
  const w = await cliWriter(r);
  cleanups.push(() => w.cleanup());
  return w;
}

function put(dir: string, path: string, text: string): void {
  mkdirSync(dirname(join(dir, path)), { recursive: true });
  writeFileSync(join(dir, path), text);
}

const read = (dir: string, path: string): string => readFileSync(join(dir, path), 'utf8');
const flushBus = () => new Promise((r) => setTimeout(r, 20));
const user = { name: 'Ada Lovelace', email: 'ada@example.com' };

/** Writes and commits like the operations layer does: inside the queue, file then commit. */
function write(h: Harness, path: string, text: string, userId = 'u-1'): Promise<string> {
  return h.git.exclusive(async () => {
    const existed = existsSync(join(h.dir, path));
    put(h.dir, path, text);
    return h.git.commit({
      add: [path],
      remove: [],
      message: `${existed ? 'Update' : 'Create'} ${path}: test`,
      author: user,
      userId,
    });
  });
}

async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('start', () => {
  test('without a remote an empty repository is created on the branch', async () => {
    const h = harness(config({ gitBranch: 'main' }));
    await h.git.start();
    expect(h.git.ready).toBe(true);
    expect(existsSync(join(h.dir, '.git'))).toBe(true);
    expect(await gitCli(h.dir, 'symbolic-ref', 'HEAD')).toBe('refs/heads/main');
    expect(await h.git.headSha()).toBeNull();
    expect(await h.git.history(undefined, 10)).toEqual([]);
    const s = h.git.syncStatus();
    expect(s).toMatchObject({ remote: null, branch: 'main', state: 'idle', head: null, conflicts: [] });
    expect(s.next_pull_at).toBeNull();
  });

  test('temporary files of writes a killed process left in the working tree are removed at the next start', async () => {
    const first = harness(config());
    await first.git.start();
    await first.git.close();
    const dir = first.dir;
    const stale = ['.a.md.0123456789ab.tmp', 'notes/.b.md.restore.tmp', 'notes/deep/.c.md.abcdefabcdef.tmp'];
    const kept = ['.obsidian/workspace.json', 'notes/.keep', 'notes/d.md', 'notes/.e.md.notatemp.tmp'];
    const old = new Date(Date.now() - 60_000);
    for (const p of [...stale, ...kept]) {
      put(dir, p, 'x');
      utimesSync(join(dir, p), old, old);
    }
    // Written after the start: a write of the new process, in flight.
    const future = new Date(Date.now() + 60_000);
    put(dir, 'notes/.f.md.fedcba987654.tmp', 'in flight');
    utimesSync(join(dir, 'notes/.f.md.fedcba987654.tmp'), future, future);
    const h = harness(config({ path: dir }));
    await h.git.start();
    await h.git.idle();
    for (const p of stale) expect(existsSync(join(dir, p))).toBe(false);
    for (const p of [...kept, 'notes/.f.md.fedcba987654.tmp']) expect(existsSync(join(dir, p))).toBe(true);
    expect(
      h.lines.some((l) => l.includes('temporary files of interrupted writes') && l.includes('"count":3')),
    ).toBe(true);
  });

  test('a folder with files and no repository is initialised in place, nothing deleted', async () => {
    const cfg = config();
    put(cfg.path, 'notes/a.md', '# A\n');
    put(cfg.path, 'README.md', 'hello\n');
    put(cfg.path, '.obsidian/workspace.json', '{}');
    const h = harness(cfg);
    await h.git.start();
    expect(read(h.dir, 'notes/a.md')).toBe('# A\n');
    expect(read(h.dir, 'README.md')).toBe('hello\n');
    expect(read(h.dir, '.obsidian/workspace.json')).toBe('{}');
    const files = (await gitCli(h.dir, 'ls-tree', '-r', '--name-only', 'HEAD')).split('\n');
    expect(files.sort()).toEqual(['README.md', 'notes/a.md']);
    expect(await gitCli(h.dir, 'log', '-1', '--format=%an <%ae>|%cn <%ce>')).toBe(
      'KB Service <kb@gaia.dev>|KB Service <kb@gaia.dev>',
    );
    expect(await h.git.status()).toEqual({ modified: [], added: [], deleted: [], untracked: [] });
  });

  test('in place with a remote: local files committed, then merged with the remote history', async () => {
    const r = await remote();
    const w = await writer(r);
    await w.commitFile('remote.md', 'from remote\n');
    await w.commitFile('both.md', 'remote version\n');
    await w.push();
    const cfg = config({ gitRepoUrl: r.url });
    put(cfg.path, 'local.md', 'local only\n');
    put(cfg.path, 'both.md', 'local version\n');
    const h = harness(cfg);
    await h.git.start();
    await h.git.idle();
    expect(read(h.dir, 'local.md')).toBe('local only\n');
    expect(read(h.dir, 'remote.md')).toBe('from remote\n');
    expect(read(h.dir, 'both.md')).toBe('local version\n');
    const remoteSha = await gitCli(w.cwd, 'rev-parse', 'HEAD');
    expect(read(h.dir, `both.remote-${remoteSha.slice(0, 7)}.md`)).toBe('remote version\n');
    const parents = (await gitCli(h.dir, 'log', '-1', '--format=%P')).split(' ');
    expect(parents).toHaveLength(2);
    expect(parents).toContain(remoteSha);
  });

  test('clone runs in the background into place; ready flips; files re-indexed and announced', async () => {
    const r = await remote(TOKEN);
    const w = await writer(r);
    await w.commitFile('notes/a.md', '# A\n');
    await w.commitFile('users/u1/b.md', '# B\n');
    await w.push();
    const cfg = config({ gitRepoUrl: r.url, gitAuthToken: TOKEN });
    const h = harness(cfg);
    await h.git.start();
    expect(h.git.ready).toBe(false);
    expect(h.git.syncStatus().state).toBe('initialising');
    await until(() => h.git.ready);
    await h.git.idle();
    expect(read(h.dir, 'notes/a.md')).toBe('# A\n');
    expect(h.git.syncStatus()).toMatchObject({
      remote: r.url,
      state: 'idle',
      head: await gitCli(w.cwd, 'rev-parse', 'HEAD'),
      ahead: 0,
      behind: 0,
      last_pull: { trigger: 'startup', result: 'ok', from: null, changed: 2 },
    });
    expect(h.pulled.flat().map((c) => `${c.action} ${c.path}`)).toEqual([
      'create notes/a.md',
      'create users/u1/b.md',
    ]);
    // The stored remote never holds the token; no temp clone dir is left beside the KB.
    expect(await gitCli(h.dir, 'config', 'remote.origin.url')).toBe(r.url);
    expect(readFileSync(join(h.dir, '.git/config'), 'utf8')).not.toContain(TOKEN);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(dirname(h.dir))).toEqual(['kb']);
    await flushBus();
    const changed = h.events.filter((e) => e.subject === 'gaia.kb.file.changed').map((e) => e.data);
    expect(changed).toContainEqual(
      expect.objectContaining({
        path: 'users/u1/b.md',
        namespace: 'users/u1',
        source: 'pull',
        user_id: null,
      }),
    );
  });

  test('clone with a bad token: state error, token masked everywhere, the next pull retries', async () => {
    const r = await remote(TOKEN);
    const w = await writer(r);
    await w.commitFile('a.md', 'a\n');
    await w.push();
    const bad = 'tok_WrongWrongWrong';
    const h = harness(config({ gitRepoUrl: `http://${bad}@${r.url.slice('http://'.length)}` }));
    await h.git.start();
    await until(() => h.git.ready);
    await h.git.idle();
    const s = h.git.syncStatus();
    expect(s.state).toBe('error');
    expect(s.error).toContain('401');
    expect(s.remote).toBe(r.url);
    expect(existsSync(join(h.dir, '.git'))).toBe(false);
    await flushBus();
    const everything = JSON.stringify([s, h.lines, h.events.map((e) => e.data)]);
    expect(everything).not.toContain(bad);
    expect(everything).not.toContain(TOKEN);
    const done = h.events.find((e) => e.subject === 'gaia.kb.sync.completed');
    expect(done?.data).toMatchObject({ direction: 'pull', trigger: 'startup', result: 'error' });
    // The retry (here with the remote now open) finds the folder empty and clones.
    await r.stop();
    const open = await remote();
    const w2 = await writer(open);
    await w2.commitFile('b.md', 'b\n');
    await w2.push();
    const h2 = harness(config({ gitRepoUrl: open.url, path: h.dir }));
    await h2.git.start();
    await until(() => h2.git.ready);
    await h2.git.idle();
    expect(read(h2.dir, 'b.md')).toBe('b\n');
  });

  test('a branch the remote lacks is an error that names it', async () => {
    const r = await remote();
    const w = await writer(r);
    await w.commitFile('a.md', 'a\n');
    await w.push();
    const h = harness(config({ gitRepoUrl: r.url, gitBranch: 'kb' }));
    await h.git.start();
    await h.git.idle();
    expect(h.git.ready).toBe(true);
    expect(h.git.syncStatus()).toMatchObject({
      state: 'error',
      error: `Remote branch "kb" not found at ${r.url}`,
    });
  });

  test('existing files and an empty remote: the import commit is pushed', async () => {
    const r = await remote(TOKEN);
    const cfg = config({ gitRepoUrl: r.url, gitAuthToken: TOKEN, pushEnabled: true });
    put(cfg.path, 'notes/a.md', '# A\n');
    const h = harness(cfg);
    await h.git.start();
    await until(() => h.git.syncStatus().last_push !== null);
    await h.git.idle();
    expect(h.git.syncStatus()).toMatchObject({ state: 'idle', ahead: 0, last_push: { result: 'ok' } });
    expect(await gitCli(r.bareDir, 'show', 'main:notes/a.md')).toBe('# A');
  });

  test('a token-bearing error text is masked', async () => {
    const h = harness(config({ gitRepoUrl: 'https://github.com/o/r', gitAuthToken: TOKEN }));
    expect(h.git.mask(`fetch https://x:${TOKEN}@github.com/o/r failed: ${TOKEN}`)).toBe(
      'fetch https://***@github.com/o/r failed: ***',
    );
  });
});

describe('commits', () => {
  test('stage exactly the given paths, author is the caller, committer the service, trailer added', async () => {
    const h = harness(config({ committerName: 'KB Bot', committerEmail: 'bot@kb.test' }));
    await h.git.start();
    put(h.dir, 'stray.md', 'not staged\n');
    const sha = await write(h, 'notes/a.md', '# A\n', 'user-42');
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    expect(await gitCli(h.dir, 'rev-parse', 'HEAD')).toBe(sha);
    expect(await gitCli(h.dir, 'log', '-1', '--format=%an <%ae>|%cn <%ce>')).toBe(
      'Ada Lovelace <ada@example.com>|KB Bot <bot@kb.test>',
    );
    expect(await gitCli(h.dir, 'log', '-1', '--format=%B')).toBe(
      'Create notes/a.md: test\n\nGaia-User: user-42',
    );
    expect(await gitCli(h.dir, 'show', '--name-only', '--format=', 'HEAD')).toBe('notes/a.md');
    expect(await h.git.status()).toEqual({ modified: [], added: [], deleted: [], untracked: ['stray.md'] });

    // Delete and move record the removals.
    const del = await h.git.exclusive(async () => {
      rmSync(join(h.dir, 'notes/a.md'));
      put(h.dir, 'notes/b.md', '# A\n');
      return h.git.commit({ add: ['notes/b.md'], remove: ['notes/a.md'], message: 'Move', author: user });
    });
    expect(await gitCli(h.dir, 'show', '--name-status', '--format=', del)).toContain('notes/b.md');
    expect(await gitCli(h.dir, 'ls-tree', '-r', '--name-only', 'HEAD')).toBe('notes/b.md');
    expect(await gitCli(h.dir, 'log', '-1', '--format=%B')).toBe('Move');
  });

  test('a failed commit leaves nothing staged for the next one', async () => {
    const h = harness(config());
    await h.git.start();
    await write(h, 'base.md', 'base\n');
    put(h.dir, 'a.md', 'half-done\n');
    await expect(
      h.git.exclusive(() =>
        h.git.commit({ add: ['a.md', 'missing.md'], remove: [], message: 'Create a.md: x', author: user }),
      ),
    ).rejects.toThrow();
    rmSync(join(h.dir, 'a.md'));
    await write(h, 'b.md', 'b\n');
    expect(await gitCli(h.dir, 'show', '--name-only', '--format=', 'HEAD')).toBe('b.md');
    // API commits update the index in batches; once written, it agrees with the branch.
    await h.git.syncIndex();
    expect(await gitCli(h.dir, 'status', '--porcelain')).toBe('');
  });

  test('commit outside the queue is refused', async () => {
    const h = harness(config());
    await h.git.start();
    put(h.dir, 'a.md', 'a');
    await expect(h.git.commit({ add: ['a.md'], remove: [], message: 'x', author: user })).rejects.toThrow(
      /exclusive/,
    );
  });

  test('blob ids match git; head blob id, history and status', async () => {
    const h = harness(config());
    await h.git.start();
    put(h.dir, 'x.md', 'héllo\n');
    expect(h.git.blobSha('héllo\n')).toBe(await gitCli(h.dir, 'hash-object', 'x.md'));
    await write(h, 'a.md', 'one\n');
    await write(h, 'b.md', 'other\n');
    await write(h, 'a.md', 'two\n');
    expect(await h.git.headBlobSha('a.md')).toBe(h.git.blobSha('two\n'));
    expect(await h.git.headBlobSha('missing.md')).toBeNull();
    const all = await h.git.history(undefined, 10);
    expect(all.map((c) => c.message.split('\n')[0])).toEqual([
      'Update a.md: test',
      'Create b.md: test',
      'Create a.md: test',
    ]);
    expect(all[0]).toMatchObject({ author: 'Ada Lovelace', email: 'ada@example.com' });
    expect(all[0]!.date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    const forA = await h.git.history('a.md', 10);
    expect(forA.map((c) => c.message.split('\n')[0])).toEqual(['Update a.md: test', 'Create a.md: test']);
    expect(await h.git.history('a.md', 1)).toHaveLength(1);
    writeFileSync(join(h.dir, 'a.md'), 'changed on disk\n');
    rmSync(join(h.dir, 'b.md'));
    symlinkSync('/etc/passwd', join(h.dir, 'link.md'));
    put(h.dir, '.hidden/x.md', 'h');
    expect(await h.git.status()).toEqual({
      modified: ['a.md'],
      added: [],
      deleted: ['b.md'],
      untracked: ['x.md'],
    });
  });

  test('writes queue one at a time, in order', async () => {
    const h = harness(config());
    await h.git.start();
    const order: string[] = [];
    const a = h.git.exclusive(async () => {
      await new Promise((r) => setTimeout(r, 30));
      order.push('a');
    });
    const b = h.git.exclusive(async () => {
      order.push('b');
    });
    const c = h.git.exclusive(async () => {
      throw new Error('boom');
    });
    const d = h.git.exclusive(async () => order.push('d'));
    await Promise.all([a, b, c.catch(() => {}), d]);
    expect(order).toEqual(['a', 'b', 'd']);
  });
});

describe('sync with a remote', () => {
  async function cloned(r: GitRemote, over: Partial<KbConfig> = {}, opts?: Parameters<typeof harness>[1]) {
    const h = harness(config({ gitRepoUrl: r.url, gitAuthToken: r.token, ...over }), opts);
    await h.git.start();
    await until(() => h.git.ready);
    await h.git.idle();
    return h;
  }

  test('pushes are coalesced and reach the remote', async () => {
    const r = await remote(TOKEN);
    const w = await writer(r);
    await w.commitFile('seed.md', 'seed\n');
    await w.push();
    const h = await cloned(r, { pushEnabled: true }, { pushDelayMs: 150 });
    const seen = r.requests.length;
    await write(h, 'a.md', 'a\n');
    h.git.requestPush();
    await write(h, 'b.md', 'b\n');
    h.git.requestPush();
    expect(h.git.syncStatus().ahead).toBe(2);
    await until(() => h.git.syncStatus().last_push !== null);
    await h.git.idle();
    expect(h.git.syncStatus()).toMatchObject({
      ahead: 0,
      behind: 0,
      last_push: { result: 'ok', trigger: 'commit' },
    });
    const receives = r.requests.slice(seen).filter((q) => q === 'POST /kb.git/git-receive-pack');
    expect(receives).toHaveLength(1);
    await w.pull();
    expect(await w.git('log', '--format=%s', '-2')).toBe('Create b.md: test\nCreate a.md: test');
    await flushBus();
    const pushes = h.events.filter(
      (e) => e.subject === 'gaia.kb.sync.completed' && e.data.direction === 'push',
    );
    expect(pushes).toHaveLength(1);
    expect(pushes[0]!.data).toMatchObject({ result: 'ok', to: await w.git('rev-parse', 'HEAD') });
  });

  test('a rejected push pulls, merges and retries once', async () => {
    const r = await remote();
    const w = await writer(r);
    await w.commitFile('seed.md', 'seed\n');
    await w.push();
    const h = await cloned(r, { pushEnabled: true });
    await w.commitFile('other.md', 'theirs\n');
    await w.push();
    await write(h, 'mine.md', 'mine\n');
    const rec = await h.git.pushNow();
    expect(rec).toMatchObject({ result: 'ok', trigger: 'manual' });
    await w.pull();
    expect(read(w.cwd, 'mine.md')).toBe('mine\n');
    expect(read(h.dir, 'other.md')).toBe('theirs\n');
    expect(h.git.syncStatus()).toMatchObject({
      ahead: 0,
      behind: 0,
      last_pull: { trigger: 'commit', result: 'ok' },
    });
  });

  test('a failed push never throws into the writer and backs off', async () => {
    const r = await remote(TOKEN);
    const w = await writer(r);
    await w.commitFile('seed.md', 'seed\n');
    await w.push();
    const h = await cloned(r, { pushEnabled: true });
    await r.stop();
    const sha = await write(h, 'a.md', 'a\n');
    expect(sha).toMatch(/^[0-9a-f]{40}$/);
    h.git.requestPush();
    await until(() => h.git.syncStatus().last_push !== null);
    const s = h.git.syncStatus();
    expect(s.last_push).toMatchObject({ result: 'error', trigger: 'commit' });
    expect(Date.parse(s.last_push!.retry_at!) - Date.now()).toBeGreaterThan(50_000);
    expect(s.state).toBe('idle');
    expect(s.ahead).toBe(1);
    expect(JSON.stringify([s, h.lines])).not.toContain(TOKEN);
    // A manual push is still answered (with the error), not thrown.
    expect((await h.git.pushNow()).result).toBe('error');
  });

  test('a CLI writer pushes; the pull fast-forwards, re-indexes, then announces', async () => {
    const r = await remote();
    const w = await writer(r);
    await w.commitFile('notes/a.md', 'v1\n');
    await w.commitFile('notes/gone.md', 'bye\n');
    await w.push();
    const h = await cloned(r);
    const before = await h.git.headSha();
    await w.commitFile('notes/a.md', 'v2\n');
    await w.commitFile('notes/new.md', 'new\n');
    await w.commitFile('notes/gone.md', null);
    await w.push();
    h.pulled.length = 0;
    h.events.length = 0;
    const rec = await h.git.pull('manual');
    expect(rec).toMatchObject({ trigger: 'manual', result: 'ok', from: before, changed: 3 });
    expect(await h.git.headSha()).toBe(await w.git('rev-parse', 'HEAD'));
    expect(read(h.dir, 'notes/a.md')).toBe('v2\n');
    expect(read(h.dir, 'notes/new.md')).toBe('new\n');
    expect(existsSync(join(h.dir, 'notes/gone.md'))).toBe(false);
    expect(await h.git.status()).toEqual({ modified: [], added: [], deleted: [], untracked: [] });
    expect(h.pulled).toEqual([
      [
        { path: 'notes/a.md', action: 'update' },
        { path: 'notes/gone.md', action: 'delete' },
        { path: 'notes/new.md', action: 'create' },
      ],
    ]);
    await flushBus();
    expect(h.events.map((e) => e.subject)).toEqual([
      'gaia.kb.file.changed',
      'gaia.kb.file.changed',
      'gaia.kb.file.changed',
      'gaia.kb.sync.completed',
    ]);
    const done = h.events[3]!.data;
    expect(done).toMatchObject({
      direction: 'pull',
      trigger: 'manual',
      result: 'ok',
      from: before,
      to: rec!.to,
      changed_count: 3,
      changed: ['notes/a.md', 'notes/gone.md', 'notes/new.md'],
      conflicts: [],
      error: null,
    });
    expect(typeof done.duration_ms).toBe('number');
  });

  test('local uncommitted edits are auto-committed before the pull', async () => {
    const r = await remote();
    const w = await writer(r);
    await w.commitFile('a.md', 'a\n');
    await w.push();
    const h = await cloned(r);
    put(h.dir, 'dropped-in.md', 'by hand\n');
    await h.git.pull('manual');
    expect(await gitCli(h.dir, 'log', '-1', '--format=%s|%an')).toBe(
      'Local changes (auto-commit)|KB Service',
    );
    expect(await h.git.status()).toEqual({ modified: [], added: [], deleted: [], untracked: [] });
  });

  test('both sides edited a file: local kept, remote copied beside it, conflicts reported', async () => {
    const r = await remote();
    const w = await writer(r);
    await w.commitFile('notes/a.md', 'base\n');
    await w.commitFile('data/c.json', '{"v":0}\n');
    await w.push();
    const h = await cloned(r);
    await write(h, 'notes/a.md', 'local text\n');
    await write(h, 'data/c.json', '{"v":1}\n');
    await w.commitFile('notes/a.md', 'remote text\n');
    await w.commitFile('data/c.json', '{"v":2}\n');
    await w.commitFile('notes/other.md', 'other\n');
    await w.push();
    const remoteSha = await w.git('rev-parse', 'HEAD');
    const short = remoteSha.slice(0, 7);
    h.events.length = 0;
    const rec = await h.git.pull('webhook');
    expect(rec?.result).toBe('conflicts');
    expect(read(h.dir, 'notes/a.md')).toBe('local text\n');
    expect(read(h.dir, `notes/a.remote-${short}.md`)).toBe('remote text\n');
    expect(read(h.dir, 'data/c.json')).toBe('{"v":1}\n');
    expect(read(h.dir, `data/c.remote-${short}.json`)).toBe('{"v":2}\n');
    expect(read(h.dir, 'notes/other.md')).toBe('other\n');
    const msg = await gitCli(h.dir, 'log', '-1', '--format=%B');
    expect(msg).toContain(`notes/a.md -> notes/a.remote-${short}.md`);
    expect((await gitCli(h.dir, 'log', '-1', '--format=%P')).split(' ')).toHaveLength(2);
    const s = h.git.syncStatus();
    expect(s.conflicts.map((c) => [c.path, c.copy])).toEqual([
      ['data/c.json', `data/c.remote-${short}.json`],
      ['notes/a.md', `notes/a.remote-${short}.md`],
    ]);
    expect(s.conflicts[0]!.at).toMatch(/Z$/);
    expect(s).toMatchObject({ ahead: 3, behind: 0, last_pull: { result: 'conflicts', trigger: 'webhook' } });
    await flushBus();
    const done = h.events.find((e) => e.subject === 'gaia.kb.sync.completed')!.data;
    expect(done).toMatchObject({ result: 'conflicts', conflicts: ['data/c.json', 'notes/a.md'] });
    // Deleting the copy resolves the conflict; the other stays, also across a restart.
    rmSync(join(h.dir, `notes/a.remote-${short}.md`));
    expect(h.git.syncStatus().conflicts.map((c) => c.path)).toEqual(['data/c.json']);
    const again = harness(config({ path: h.dir }));
    await again.git.start();
    expect(again.git.syncStatus().conflicts.map((c) => c.copy)).toEqual([`data/c.remote-${short}.json`]);
    // Writes go on after a conflict.
    await write(h, 'notes/a.md', 'resolved\n');
    expect(read(h.dir, 'notes/a.md')).toBe('resolved\n');
  });

  test('remote deleted a file edited locally: the local file stays', async () => {
    const r = await remote();
    const w = await writer(r);
    await w.commitFile('keep.md', 'base\n');
    await w.commitFile('dropped.md', 'base\n');
    await w.push();
    const h = await cloned(r);
    await write(h, 'keep.md', 'edited locally\n');
    await w.commitFile('keep.md', null);
    await w.commitFile('dropped.md', null);
    await w.push();
    const rec = await h.git.pull('manual');
    expect(rec?.result).toBe('ok');
    expect(read(h.dir, 'keep.md')).toBe('edited locally\n');
    expect(existsSync(join(h.dir, 'dropped.md'))).toBe(false);
    expect(await gitCli(h.dir, 'ls-tree', '-r', '--name-only', 'HEAD')).toBe('keep.md');
    expect(await gitCli(h.dir, 'log', '-1', '--format=%B')).toContain('keep.md');
  });

  test('a merge commit is pushed like any other commit', async () => {
    const r = await remote();
    const w = await writer(r);
    await w.commitFile('seed.md', 'seed\n');
    await w.push();
    const h = await cloned(r, { pushEnabled: true });
    await write(h, 'mine.md', 'mine\n');
    await w.commitFile('theirs.md', 'theirs\n');
    await w.push();
    await h.git.pull('manual');
    await until(() => h.git.syncStatus().last_push !== null);
    await h.git.idle();
    expect(h.git.syncStatus()).toMatchObject({ ahead: 0, behind: 0, last_push: { result: 'ok' } });
    await w.pull();
    expect(read(w.cwd, 'mine.md')).toBe('mine\n');
    expect((await w.git('log', '-1', '--format=%P')).split(' ')).toHaveLength(2);
  });

  test('a pull of more than 100 files announces only the count', async () => {
    const r = await remote();
    const w = await writer(r);
    await w.commitFile('seed.md', 'seed\n');
    await w.push();
    const h = await cloned(r);
    for (let i = 0; i < 101; i++) put(w.cwd, `bulk/f${i}.md`, `${i}\n`);
    await w.git('add', 'bulk');
    await w.git('commit', '-q', '-m', 'bulk');
    await w.push();
    h.events.length = 0;
    await h.git.pull('manual');
    await flushBus();
    expect(h.events.filter((e) => e.subject === 'gaia.kb.file.changed')).toHaveLength(0);
    const done = h.events.find((e) => e.subject === 'gaia.kb.sync.completed')!.data;
    expect(done.changed_count).toBe(101);
    expect(done.changed as string[]).toHaveLength(100);
    expect(h.pulled.at(-1)).toHaveLength(101);
  });

  test('a pull with a bad token sets state error with the token masked; a good pull clears it', async () => {
    const r = await remote(TOKEN);
    const w = await writer(r);
    await w.commitFile('a.md', 'a\n');
    await w.push();
    const h = await cloned(r);
    const bad = new GitService({
      config: { ...config({ gitRepoUrl: r.url, gitAuthToken: 'tok_BadBadBad1' }), path: h.dir },
      log: createLogger({ service: 'kb', json: true, sink: (l) => h.lines.push(l) }),
      bus: h.bus,
    });
    await bad.start();
    const rec = await bad.pull('manual');
    expect(rec?.result).toBe('error');
    const s = bad.syncStatus();
    expect(s.state).toBe('error');
    expect(s.error).toContain('401');
    expect(JSON.stringify([s, h.lines])).not.toContain('tok_BadBadBad1');
    await bad.close();
    expect((await h.git.pull('manual'))?.result).toBe('ok');
    expect(h.git.syncStatus().state).toBe('idle');
    expect(h.git.syncStatus().error).toBeUndefined();
  });

  test('pull requests made while one is queued join it; the schedule pulls on its own', async () => {
    const r = await remote();
    const w = await writer(r);
    await w.commitFile('a.md', 'a\n');
    await w.push();
    const h = await cloned(r);
    let release: (() => void) | undefined;
    const blocker = h.git.exclusive(() => new Promise<void>((res) => (release = res)));
    await until(() => release !== undefined);
    const p1 = h.git.pull('manual');
    const p2 = h.git.pull('webhook');
    expect(p2).toBe(p1);
    release!();
    await blocker;
    await p1;
    const before = r.requests.length;
    const p3 = h.git.pull('manual');
    expect(p3).not.toBe(p1);
    await p3;
    expect(r.requests.length).toBeGreaterThan(before);

    const s = harness(config({ gitRepoUrl: r.url, path: h.dir, syncIntervalS: 0.15 }));
    await s.git.start();
    expect(Date.parse(s.git.syncStatus().next_pull_at!)).toBeGreaterThan(Date.now());
    await w.commitFile('b.md', 'b\n');
    await w.push();
    await until(() => existsSync(join(h.dir, 'b.md')));
    await until(() => s.git.syncStatus().last_pull?.trigger === 'schedule');
  });

  test('webhook: a genuine push for our branch starts a pull', async () => {
    const r = await remote();
    const w = await writer(r);
    await w.commitFile('a.md', 'a\n');
    await w.push();
    const h = await cloned(r, { webhookSecret: 'hook-secret' });
    await w.commitFile('hooked.md', 'via webhook\n');
    await w.push();
    const body = new TextEncoder().encode(JSON.stringify({ ref: 'refs/heads/main' }));
    const sig = new Bun.CryptoHasher('sha256', 'hook-secret').update(body).digest('hex');
    const res = h.git.verifyWebhook(new Headers({ 'x-hub-signature-256': `sha256=${sig}` }), body);
    expect(res).toEqual({ status: 202, body: { status: 'accepted' } });
    await h.git.idle();
    expect(read(h.dir, 'hooked.md')).toBe('via webhook\n');
    expect(h.git.syncStatus().last_pull?.trigger).toBe('webhook');
  });
});
