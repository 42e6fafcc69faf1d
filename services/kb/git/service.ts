/**
 * The kb service's Git layer: the working tree is a Git repository kept in step with an optional remote.
 *
 * Every change to the repository (API writes, pulls, pushes) runs through one FIFO queue, so a commit never
 * interleaves with a merge. Credentials are handed to isomorphic-git per operation and are never stored in
 * the repository; every text that could carry them passes through the masker first. The remote's history
 * is merged without conflict markers: a local write is never lost (see merge.ts).
 */

import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, rmdir, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import git, { type ReadCommitResult } from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import type { Bus } from '../../../src/bus/types.ts';
import { HttpError } from '../../../src/http/errors.ts';
import type { Logger } from '../../../src/log.ts';
import { kbSyncs } from '../../../src/metrics.ts';
import { namespaceOf } from '../paths/namespace.ts';
import type { CommitInfo, GitChanges, KbConfig } from '../types.ts';
import { applyToTree, commitTree, PendingIndex, stageFromWorkTree } from './commit.ts';
import { gitFs as fs, removeGitTemps, removeWorktreeTemps, writeFileAtomicSync } from './fs.ts';
import { diffTrees, type MergeOutcome, mergeTrees, type RepoRef, treeOf } from './merge.ts';
import type {
  ConflictRecord,
  PullRecord,
  PullTrigger,
  PushRecord,
  SyncState,
  SyncStatus,
  SyncTrigger,
} from './model.ts';
import { createMasker, parseRemote, type RemoteSpec } from './remote.ts';
import { decideWebhook, webhookResponse } from './webhook.ts';

/** How long after the last commit the index is brought up to date. */
const INDEX_FLUSH_DELAY_MS = 1000;

export interface PulledFile {
  path: string;
  action: 'create' | 'update' | 'delete';
}

export interface GitServiceDeps {
  config: KbConfig;
  log: Logger;
  bus: Bus;
  /** Awaited after a pull changed the working tree, before its events are published (re-index here). */
  onPulled?: (changed: PulledFile[]) => Promise<void>;
  /** How long pushes are coalesced after a commit (2 s by default). */
  pushDelayMs?: number;
  /** Back-off after a failed push: first delay, doubling up to the cap (30 s and 15 min by default). */
  pushBackoffMs?: { initial: number; max: number };
}

const MAX_EVENT_FILES = 100;
const CONFLICTS_FILE = 'gaia-conflicts.json';
const AUTO_COMMIT_MESSAGE = 'Local changes (auto-commit)';
const IMPORT_MESSAGE = 'Import existing files';
const COUNT_LIMIT = 20_000;

const hidden = (path: string): boolean => path.split('/').some((s) => s.startsWith('.'));
const noop = (): void => {};
const iso = (d: Date = new Date()): string => d.toISOString();
const errText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class GitService {
  private readonly config: KbConfig;
  private readonly log: Logger;
  private readonly bus: Bus;
  private readonly onPulled?: (changed: PulledFile[]) => Promise<void>;
  private readonly dir: string;
  private readonly branch: string;
  private readonly remote: RemoteSpec | null;
  readonly mask: (text: string) => string;
  private readonly pushDelayMs: number;
  private readonly backoff: { initial: number; max: number };

  private readonly inQueue = new AsyncLocalStorage<true>();
  private tail: Promise<unknown> = Promise.resolve();
  private readonly background = new Set<Promise<unknown>>();
  private queuedPull: { promise: Promise<PullRecord | null> } | null = null;

  private hasRepo = false;
  private isReady = false;
  private closed = false;
  private state: SyncState = 'initialising';
  private error: string | null = null;
  private head: string | null = null;
  private remoteHead: string | null = null;
  private ahead = 0;
  private behind = 0;
  private lastPull: PullRecord | null = null;
  private lastPush: PushRecord | null = null;
  private conflicts: ConflictRecord[] = [];
  private nextPullAt: Date | null = null;
  private pullTimer: ReturnType<typeof setTimeout> | null = null;
  private pushTimer: ReturnType<typeof setTimeout> | null = null;
  private pushBackoff = 0;
  /** Index entries behind the branch since fast commits (see commit.ts); flushed in batches. */
  private readonly pendingIndex: PendingIndex;
  private indexTimer: ReturnType<typeof setTimeout> | null = null;
  private pushRetryAt = 0;

  constructor(deps: GitServiceDeps) {
    this.config = deps.config;
    this.log = deps.log;
    this.bus = deps.bus;
    this.onPulled = deps.onPulled;
    this.dir = deps.config.path;
    this.pendingIndex = new PendingIndex(this.dir);
    this.branch = deps.config.gitBranch;
    // A bad remote URL (an unsupported SSH host) is a configuration error at start-up, not a runtime one.
    this.remote = deps.config.gitRepoUrl
      ? parseRemote(deps.config.gitRepoUrl, deps.config.gitAuthToken)
      : null;
    const secrets = [...(this.remote?.secrets ?? [])];
    if (deps.config.gitAuthToken) secrets.push(deps.config.gitAuthToken);
    this.mask = createMasker(secrets);
    this.pushDelayMs = deps.pushDelayMs ?? 2000;
    this.backoff = deps.pushBackoffMs ?? { initial: 30_000, max: 15 * 60_000 };
  }

  /** False only while the first clone runs (the KB answers 503 then). */
  get ready(): boolean {
    return this.isReady;
  }

  // ── start and stop ──────────────────────────────────────────────────────────────────────────────────

  async start(): Promise<void> {
    const gitdir = join(this.dir, '.git');
    let pullAtStart = this.remote !== null && this.config.autoSync;
    if (existsSync(gitdir)) {
      this.hasRepo = true;
      // Index entries a previous run committed but had not written yet (it was killed in between).
      await removeGitTemps(gitdir);
      // Temporary files of working-tree writes a killed process left: swept in the background, as the
      // tree may be large; anything newer than this start belongs to a write of this process.
      const startedAt = Date.now();
      this.track(
        removeWorktreeTemps(this.dir, startedAt).then((n) => {
          if (n > 0) this.log.info('kb removed temporary files of interrupted writes', { count: n });
        }),
      );
      // A change cut before its commit is undone first, so the index entries written next record the
      // files as they are left (an entry with the cut file's size would read as modified to git).
      await this.undoCutChange();
      this.pendingIndex.load();
      await this.flushIndex();
      await this.ensureBranch();
      await this.configureRemote();
      this.loadConflicts();
    } else {
      await mkdir(this.dir, { recursive: true });
      const empty = (await readdir(this.dir)).length === 0;
      if (empty && this.remote && this.config.autoClone) {
        // The clone runs in the background; the KB answers 503 until it lands (or fails).
        this.state = 'initialising';
        this.track(
          this.exclusive(async () => {
            try {
              await this.runPull('startup', true);
            } finally {
              this.isReady = true;
            }
          }),
        );
        this.schedulePull();
        return;
      }
      if (empty) await this.initRepo();
      else {
        await this.initInPlace();
        // Existing files must meet the remote's history, whatever the schedule says.
        if (this.remote) pullAtStart = true;
      }
    }
    await this.refreshHeads();
    this.isReady = true;
    this.state = 'idle';
    if (pullAtStart) this.track(this.pull('startup'));
    // Commits left unpushed by an earlier run go out without waiting for the next write.
    else if (this.ahead > 0) this.requestPush();
    this.schedulePull();
  }

  /** Stops the timers and waits for queued work (writes, pulls, pushes) to finish. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.pullTimer) clearTimeout(this.pullTimer);
    if (this.pushTimer) clearTimeout(this.pushTimer);
    this.pullTimer = null;
    this.pushTimer = null;
    this.nextPullAt = null;
    if (this.indexTimer) clearTimeout(this.indexTimer);
    this.indexTimer = null;
    await this.idle();
    // Leave an index that agrees with the branch for whoever opens the folder with git next.
    await this.exclusive(() => this.flushIndex());
  }

  /** Brings the index up to date now rather than in the next batch (for callers about to run git). */
  syncIndex(): Promise<void> {
    return this.exclusive(() => this.flushIndex());
  }

  /** Writes the batched index entries; inside the queue, since it touches the index file. */
  private async flushIndex(): Promise<void> {
    if (!this.hasRepo || this.pendingIndex.size === 0) return;
    await this.pendingIndex
      .flush()
      .catch((err) => this.log.warn('kb index update failed', { error: this.mask(errText(err)) }));
  }

  /** Batches index updates: one write of the index a second after the last commit, not one per commit. */
  private scheduleIndexFlush(): void {
    if (this.indexTimer || this.closed) return;
    this.indexTimer = setTimeout(() => {
      this.indexTimer = null;
      // The timer was set inside the queue and would inherit that context, so `exclusive` would run the
      // flush at once, beside a write in progress (recording a file's new size against its old commit).
      this.inQueue.exit(() => this.track(this.exclusive(() => this.flushIndex())));
    }, INDEX_FLUSH_DELAY_MS);
    this.indexTimer.unref?.();
  }

  /** Resolves once background work (the clone, fired pulls and pushes) and the queue are done. */
  async idle(): Promise<void> {
    for (;;) {
      const tail = this.tail;
      await Promise.allSettled([...this.background, tail]);
      if (this.background.size === 0 && this.tail === tail) return;
    }
  }

  private track<T>(p: Promise<T>): void {
    const settled = p.then(noop, noop);
    this.background.add(settled);
    void settled.then(() => this.background.delete(settled));
  }

  // ── the queue ───────────────────────────────────────────────────────────────────────────────────────

  /**
   * Runs `fn` when everything queued before it has finished. Called again from inside `fn` it runs at
   * once (the caller already holds the queue), so helpers can be used both ways without deadlock.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inQueue.getStore()) return fn();
    const run = this.tail.then(() => this.inQueue.run(true, fn));
    this.tail = run.then(noop, noop);
    return run;
  }

  // ── commits and reads ───────────────────────────────────────────────────────────────────────────────

  /**
   * Stages exactly `add` (written files) and `remove` (deleted files) and commits them on the branch with
   * the caller as author and the configured committer. Must run inside `exclusive`.
   */
  async commit(opts: {
    add: string[];
    remove: string[];
    message: string;
    author: { name: string; email: string };
    userId?: string;
  }): Promise<string> {
    if (!this.inQueue.getStore()) throw new Error('GitService.commit must run inside exclusive()');
    await this.ensureRepo();
    const message = opts.userId ? `${opts.message}\n\nGaia-User: ${opts.userId}` : opts.message;
    let sha: string;
    try {
      const parent = await this.resolve(`refs/heads/${this.branch}`);
      const cache = {};
      const changes = await stageFromWorkTree(this.dir, opts.add, opts.remove);
      const base = parent
        ? (await git.readCommit({ fs, dir: this.dir, oid: parent, cache })).commit.tree
        : null;
      sha = await commitTree(this.dir, this.branch, {
        tree: await applyToTree(this.dir, cache, base, changes),
        parents: parent ? [parent] : [],
        message,
        author: this.signature(opts.author),
        committer: this.signature(),
      });
      this.pendingIndex.add(changes);
      this.scheduleIndexFlush();
      rmSync(this.changeFile(), { force: true });
    } catch (err) {
      // The branch did not move; the caller restores the files.
      throw new Error(this.mask(errText(err)));
    }
    this.head = sha;
    // A new commit is never on the remote yet.
    if (this.remote) this.ahead += 1;
    return sha;
  }

  /**
   * Records the paths an API change is about to touch in the working tree, before it touches them; `commit`
   * clears the record. Must run inside `exclusive`. Why: a process killed between the file change and its
   * commit would otherwise leave a change nobody was told about, served as current and never committed.
   */
  beginChange(paths: string[]): void {
    writeFileAtomicSync(this.changeFile(), JSON.stringify(paths));
  }

  private changeFile(): string {
    return join(this.dir, '.git', 'gaia-change-pending.json');
  }

  /**
   * At start: puts the paths of a change that never reached its commit back as HEAD has them, as a failed
   * commit does at run time (the client was never answered, so nothing it was told is undone).
   */
  private async undoCutChange(): Promise<void> {
    const file = this.changeFile();
    if (!existsSync(file)) return;
    let paths: string[] = [];
    try {
      paths = JSON.parse(readFileSync(file, 'utf8')) as string[];
    } catch {
      // Torn while being written: the change it announced had not started yet.
    }
    const head = await this.resolve(`refs/heads/${this.branch}`);
    for (const path of paths) {
      const abs = join(this.dir, path);
      const committed = head ? await entryOid({ dir: this.dir, cache: {} }, head, path) : null;
      const current = await readFile(abs).catch(() => null);
      if (current && committed === this.blobSha(current)) continue;
      if (committed === null) {
        if (current) await unlink(abs);
      } else {
        const { blob } = await git.readBlob({ fs, dir: this.dir, oid: committed });
        await mkdir(dirname(abs), { recursive: true });
        const tmp = `${dirname(abs)}/.${basename(abs)}.restore.tmp`;
        await writeFile(tmp, blob);
        await rename(tmp, abs);
      }
      this.log.warn('kb change cut before its commit was undone', { path });
    }
    rmSync(file, { force: true });
  }

  /** The Git blob id of a content (what `sha` means in file objects and `expected_sha`). */
  blobSha(content: string | Uint8Array): string {
    const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    return createHash('sha1').update(`blob ${bytes.byteLength}\0`).update(bytes).digest('hex');
  }

  /** The blob id of a file as committed at HEAD, or null when HEAD has no such file. */
  async headBlobSha(path: string): Promise<string | null> {
    const head = await this.resolve(`refs/heads/${this.branch}`);
    if (!head) return null;
    return entryOid({ dir: this.dir, cache: {} }, head, path);
  }

  async headSha(): Promise<string | null> {
    return this.resolve(`refs/heads/${this.branch}`);
  }

  /** Commits on the branch, newest first; with a path, only those that changed it. */
  async history(path: string | undefined, limit: number): Promise<CommitInfo[]> {
    const head = await this.resolve(`refs/heads/${this.branch}`);
    if (!head || limit <= 0) return [];
    const repo: RepoRef = { dir: this.dir, cache: {} };
    const out: CommitInfo[] = [];
    const seen = new Set<string>([head]);
    // Newest first by committer time, as `git log` orders them.
    const queue: ReadCommitResult[] = [
      await git.readCommit({ fs, dir: this.dir, oid: head, cache: repo.cache }),
    ];
    const entryAt = async (commitOid: string, treeOid: string): Promise<string | null> =>
      path ? entryOid(repo, treeOid, path) : commitOid;
    while (queue.length > 0 && out.length < limit) {
      const c = queue.shift()!;
      let include = true;
      if (path) {
        const mine = await entryAt(c.oid, c.commit.tree);
        if (c.commit.parent.length === 0) include = mine !== null;
        else {
          // Like `git log -- path`: a commit shows when the path differs from every parent.
          include = true;
          for (const p of c.commit.parent) {
            const pc = await git.readCommit({ fs, dir: this.dir, oid: p, cache: repo.cache });
            if ((await entryAt(pc.oid, pc.commit.tree)) === mine) {
              include = false;
              break;
            }
          }
        }
      }
      if (include) out.push(toCommitInfo(c));
      for (const p of c.commit.parent) {
        if (seen.has(p)) continue;
        seen.add(p);
        const pc = await git.readCommit({ fs, dir: this.dir, oid: p, cache: repo.cache });
        const at = queue.findIndex((q) => q.commit.committer.timestamp < pc.commit.committer.timestamp);
        if (at === -1) queue.push(pc);
        else queue.splice(at, 0, pc);
      }
    }
    return out;
  }

  /** The working tree against HEAD (hidden paths and symbolic links left out, as they are never served). */
  async status(): Promise<GitChanges> {
    const out: GitChanges = { modified: [], added: [], deleted: [], untracked: [] };
    if (!this.hasRepo) return out;
    for (const [path, h, w, s] of await this.matrix()) {
      if (h === 1 && w === 0) out.deleted.push(path);
      else if (h === 1 && w === 2) out.modified.push(path);
      else if (h === 0 && w === 2) (s === 0 ? out.untracked : out.added).push(path);
    }
    return out;
  }

  // ── pull ────────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Pulls from the remote: auto-commit local changes, fetch, fast-forward or merge, re-index, announce.
   * A request made while a pull is waiting in the queue joins that pull. Never rejects: the outcome is
   * the returned record (also `last_pull`); null when no remote is configured.
   */
  pull(trigger: PullTrigger): Promise<PullRecord | null> {
    if (this.inQueue.getStore()) return this.runPull(trigger);
    if (this.queuedPull) return this.queuedPull.promise;
    const entry: { promise: Promise<PullRecord | null> } = { promise: Promise.resolve(null) };
    entry.promise = this.exclusive(() => {
      // From here on the pull is running; a new request must queue a new pull to see later remote changes.
      if (this.queuedPull === entry) this.queuedPull = null;
      return this.runPull(trigger);
    });
    this.queuedPull = entry;
    return entry.promise;
  }

  private async runPull(trigger: SyncTrigger, initial = false): Promise<PullRecord | null> {
    const remote = this.remote;
    if (!remote) return null;
    const started = Date.now();
    const repo: RepoRef = { dir: this.dir, cache: {} };
    this.state = initial ? 'initialising' : 'pulling';
    let from: string | null = null;
    let emptyStart = false;
    try {
      if (!this.hasRepo) {
        const empty = !existsSync(this.dir) || (await readdir(this.dir)).length === 0;
        if (empty) {
          await this.cloneRepo(remote);
          emptyStart = true;
        } else await this.initInPlace();
      }
      if (!emptyStart) from = await this.resolve(`refs/heads/${this.branch}`);
      await this.autoCommit(repo);
      const local = await this.resolve(`refs/heads/${this.branch}`);
      if (!emptyStart) await this.fetch(remote);
      const theirs = await this.resolve(`refs/remotes/origin/${this.branch}`);
      let merge: MergeOutcome | null = null;
      if (theirs && theirs !== local) {
        const bases = local
          ? ((await git.findMergeBase({
              fs,
              dir: this.dir,
              oids: [local, theirs],
              cache: repo.cache,
            })) as string[])
          : [];
        const base = bases[0] ?? null;
        if (!local || base === local) await this.moveBranch(theirs);
        else if (base !== theirs) {
          merge = await mergeTrees(
            repo,
            base ? await treeOf(repo, base) : null,
            await treeOf(repo, local),
            await treeOf(repo, theirs),
            theirs,
          );
          const sha = await git.commit({
            fs,
            dir: this.dir,
            ref: `refs/heads/${this.branch}`,
            message: mergeMessage(this.branch, merge),
            tree: merge.tree,
            parent: [local, theirs],
            author: this.signature(),
            committer: this.signature(),
            cache: repo.cache,
          });
          await this.moveBranch(sha);
        }
      }
      const to = await this.resolve(`refs/heads/${this.branch}`);
      const changes = (
        await diffTrees(repo, from ? await treeOf(repo, from) : null, to ? await treeOf(repo, to) : null)
      ).filter((c) => !hidden(c.path));
      const changed: PulledFile[] = changes.map((c) => ({ path: c.path, action: c.action }));
      if (changed.length > 0 && this.onPulled) {
        // The tree is already updated and committed; a failed re-index must not report the pull as failed.
        await this.onPulled(changed).catch((err) =>
          this.log.error('kb re-index after pull failed', { error: this.mask(errText(err)) }),
        );
      }

      const now = iso();
      if (merge && merge.conflicts.length > 0) {
        const fresh = merge.conflicts.map((c) => ({ ...c, at: now }));
        this.conflicts = [...this.conflicts.filter((c) => !fresh.some((f) => f.copy === c.copy)), ...fresh];
        this.saveConflicts();
      }
      await this.refreshHeads();
      const conflictPaths = merge?.conflicts.map((c) => c.path) ?? [];
      const record: PullRecord = {
        at: iso(new Date(started)),
        trigger,
        result: conflictPaths.length > 0 ? 'conflicts' : 'ok',
        from,
        to,
        changed: changed.length,
      };
      this.lastPull = record;
      this.state = 'idle';
      this.error = null;
      this.log.info('kb pull completed', {
        trigger,
        result: record.result,
        from,
        to,
        changed: changed.length,
        conflicts: conflictPaths.length,
      });
      if (to && changed.length <= MAX_EVENT_FILES) {
        for (const c of changed) {
          this.publish('gaia.kb.file.changed', {
            path: c.path,
            old_path: null,
            action: c.action,
            namespace: namespaceOf(c.path).name,
            commit: to,
            user_id: null,
            source: 'pull',
            timestamp: now,
          });
        }
      }
      this.publish('gaia.kb.sync.completed', {
        direction: 'pull',
        trigger,
        result: record.result,
        from,
        to,
        changed_count: changed.length,
        changed: changed.slice(0, MAX_EVENT_FILES).map((c) => c.path),
        conflicts: conflictPaths,
        error: null,
        duration_ms: Date.now() - started,
        timestamp: now,
      });
      // A merge commit (or local commits the remote has not seen) is pushed like any other commit.
      if (this.ahead > 0) this.requestPush();
      return record;
    } catch (err) {
      const message = this.mask(this.explain(err));
      this.state = 'error';
      this.error = message;
      const record: PullRecord = {
        at: iso(new Date(started)),
        trigger,
        result: 'error',
        from,
        to: from,
        changed: 0,
        error: message,
      };
      this.lastPull = record;
      this.log.warn('kb pull failed', { trigger, error: message });
      this.publish('gaia.kb.sync.completed', {
        direction: 'pull',
        trigger,
        result: 'error',
        from,
        to: from,
        changed_count: 0,
        changed: [],
        conflicts: [],
        error: message,
        duration_ms: Date.now() - started,
        timestamp: iso(),
      });
      await this.refreshHeads().catch(noop);
      return record;
    }
  }

  // ── push ────────────────────────────────────────────────────────────────────────────────────────────

  /** Asks for a push soon; pushes asked for within the coalescing delay (or a back-off) share one. */
  requestPush(): void {
    if (!this.config.pushEnabled || !this.remote || this.closed || this.pushTimer) return;
    const wait = Math.max(this.pushDelayMs, this.pushRetryAt - Date.now());
    this.armPush(wait);
  }

  /** Pushes now (the admin route); the outcome is the returned record, also `last_push`. */
  pushNow(): Promise<PushRecord> {
    if (!this.remote) return Promise.reject(new HttpError(409, 'No Git remote is configured'));
    if (this.pushTimer) clearTimeout(this.pushTimer);
    this.pushTimer = null;
    this.pushBackoff = 0;
    this.pushRetryAt = 0;
    return this.exclusive(() => this.runPush('manual'));
  }

  private armPush(wait: number): void {
    this.pushTimer = setTimeout(() => {
      this.pushTimer = null;
      if (this.closed) return;
      this.track(this.exclusive(() => this.runPush('commit')));
    }, wait);
    this.pushTimer.unref?.();
  }

  private async runPush(trigger: SyncTrigger): Promise<PushRecord> {
    const remote = this.remote!;
    const started = Date.now();
    const from = await this.resolve(`refs/remotes/origin/${this.branch}`);
    let to = await this.resolve(`refs/heads/${this.branch}`);
    // A coalesced push that finds nothing new (an earlier push took it along) is no event.
    if (trigger === 'commit' && (!to || to === from))
      return { at: iso(new Date(started)), trigger, result: 'ok', from, to };
    this.state = 'pushing';
    try {
      if (to && to !== from) {
        try {
          await this.pushOnce(remote);
        } catch (err) {
          if (!isRejection(err)) throw err;
          // Someone pushed first: merge their commits, then try once more.
          this.log.info('kb push rejected; pulling before one retry', { error: this.mask(errText(err)) });
          const pulled = await this.runPull('commit');
          if (pulled?.result === 'error')
            throw new Error(`push rejected and the pull failed: ${pulled.error}`);
          this.state = 'pushing';
          to = await this.resolve(`refs/heads/${this.branch}`);
          await this.pushOnce(remote);
        }
      }
      this.pushBackoff = 0;
      this.pushRetryAt = 0;
      await this.refreshHeads();
      const record: PushRecord = { at: iso(new Date(started)), trigger, result: 'ok', from, to };
      this.lastPush = record;
      this.state = this.error ? 'error' : 'idle';
      this.publishPush(record, started);
      return record;
    } catch (err) {
      const message = this.mask(errText(err));
      this.pushBackoff = this.pushBackoff
        ? Math.min(this.pushBackoff * 2, this.backoff.max)
        : this.backoff.initial;
      this.pushRetryAt = Date.now() + this.pushBackoff;
      const record: PushRecord = {
        at: iso(new Date(started)),
        trigger,
        result: 'error',
        from,
        to,
        error: message,
        retry_at: iso(new Date(this.pushRetryAt)),
      };
      this.lastPush = record;
      // A failed push is reported in last_push; the KB itself is fine, so the state does not turn to error.
      this.state = this.error ? 'error' : 'idle';
      this.log.warn('kb push failed', { trigger, error: message, retry_in_ms: this.pushBackoff });
      this.publishPush(record, started);
      if (!this.closed && !this.pushTimer) this.armPush(this.pushBackoff);
      await this.refreshHeads().catch(noop);
      return record;
    }
  }

  private async pushOnce(remote: RemoteSpec): Promise<void> {
    await git.push({
      fs,
      http,
      dir: this.dir,
      remote: 'origin',
      url: remote.url,
      ref: this.branch,
      remoteRef: this.branch,
      onAuth: () => this.credentials(),
    });
  }

  private publishPush(r: PushRecord, started: number): void {
    this.publish('gaia.kb.sync.completed', {
      direction: 'push',
      trigger: r.trigger,
      result: r.result,
      from: r.from,
      to: r.to,
      changed_count: 0,
      changed: [],
      conflicts: [],
      error: r.error ?? null,
      duration_ms: Date.now() - started,
      timestamp: iso(),
    });
  }

  // ── status and webhook ──────────────────────────────────────────────────────────────────────────────

  /** What `GET /sync/status` answers: the remote without credentials, heads, schedule, last results. */
  syncStatus(): SyncStatus {
    const out: SyncStatus = {
      remote: this.remote?.url ?? null,
      branch: this.branch,
      state: this.state,
      head: this.head,
      remote_head: this.remoteHead,
      ahead: this.ahead,
      behind: this.behind,
      push_enabled: this.config.pushEnabled,
      next_pull_at: this.nextPullAt ? iso(this.nextPullAt) : null,
      last_pull: this.lastPull,
      last_push: this.lastPush,
      conflicts: this.liveConflicts(),
    };
    if (this.state === 'error') out.error = this.error ?? 'unknown error';
    return out;
  }

  /**
   * Verifies a push webhook from the raw body and, when it is genuine and about our branch, starts a pull
   * without waiting for it (the host only needs to know it was accepted).
   */
  verifyWebhook(headers: Headers, rawBody: Uint8Array): { status: number; body: Record<string, unknown> } {
    const decision = decideWebhook(this.config.webhookSecret, this.branch, headers, rawBody);
    if (decision.kind === 'accepted') this.track(this.pull('webhook'));
    return webhookResponse(decision);
  }

  // ── internals ───────────────────────────────────────────────────────────────────────────────────────

  private signature(who?: { name: string; email: string }) {
    return {
      name: who?.name ?? this.config.committerName,
      email: who?.email ?? this.config.committerEmail,
      timestamp: Math.floor(Date.now() / 1000),
      timezoneOffset: 0,
    };
  }

  /** isomorphic-git's "Could not find main." says nothing about where; name the remote branch. */
  private explain(err: unknown): string {
    const e = err as { code?: string; data?: { what?: string } } | null;
    if (
      e?.code === 'NotFoundError' &&
      [this.branch, `refs/heads/${this.branch}`].includes(e.data?.what ?? '')
    )
      return `Remote branch "${this.branch}" not found at ${this.remote?.url ?? 'the remote'}`;
    return errText(err);
  }

  private credentials(): { username: string; password?: string } | undefined {
    return this.remote?.auth ?? undefined;
  }

  private publish(subject: string, data: Record<string, unknown>): void {
    if (subject === 'gaia.kb.sync.completed')
      kbSyncs.inc({ kind: String(data.direction ?? 'unknown'), outcome: String(data.result ?? 'unknown') });
    this.bus
      .publish(subject, data)
      .catch((err) => this.log.warn('kb event not published', { subject, error: errText(err) }));
  }

  private async resolve(ref: string): Promise<string | null> {
    if (!this.hasRepo) return null;
    try {
      return await git.resolveRef({ fs, dir: this.dir, ref });
    } catch {
      return null;
    }
  }

  private schedulePull(): void {
    const seconds = this.config.syncIntervalS;
    if (!this.remote || !this.config.autoSync || seconds <= 0 || this.closed) return;
    const ms = Math.max(1, Math.round(seconds * 1000));
    this.nextPullAt = new Date(Date.now() + ms);
    this.pullTimer = setTimeout(() => {
      this.pullTimer = null;
      if (this.closed) return;
      const run = this.pull('schedule');
      this.track(run);
      void run.finally(() => this.schedulePull());
    }, ms);
    this.pullTimer.unref?.();
  }

  /** Rows of isomorphic-git's status matrix for served paths only (no hidden names, no symbolic links). */
  private async matrix(): Promise<Array<[string, number, number, number]>> {
    const rows = (await git.statusMatrix({
      fs,
      dir: this.dir,
      ref: (await this.resolve(`refs/heads/${this.branch}`)) ?? undefined,
      filter: (p) => !hidden(p),
    })) as Array<[string, number, number, number]>;
    return rows.filter(([path, , w]) => {
      if (w === 0) return true;
      try {
        return !lstatSync(join(this.dir, path)).isSymbolicLink();
      } catch {
        return false;
      }
    });
  }

  /** Commits whatever changed in the working tree outside the API, as the service. */
  private async autoCommit(repo: RepoRef): Promise<string | null> {
    // The index must agree with the branch before it is compared with the working tree.
    await this.flushIndex();
    const rows = (await this.matrix()).filter(
      ([, h, w, s]) => !(h === w && w === s) && !(h === 0 && w === 0 && s === 0),
    );
    if (rows.length === 0) return null;
    let differs = false;
    for (const [filepath, h, w, s] of rows) {
      if (w === 0) {
        if (s !== 0) await git.remove({ fs, dir: this.dir, filepath, cache: repo.cache });
      } else await git.add({ fs, dir: this.dir, filepath, cache: repo.cache });
      if ((h === 1 && w !== 1) || (h === 0 && w === 2)) differs = true;
    }
    if (!differs) return null;
    const sha = await git.commit({
      fs,
      dir: this.dir,
      ref: `refs/heads/${this.branch}`,
      message: AUTO_COMMIT_MESSAGE,
      author: this.signature(),
      committer: this.signature(),
      cache: repo.cache,
    });
    this.log.info('kb auto-committed local changes', { files: rows.length, commit: sha });
    return sha;
  }

  private async fetch(remote: RemoteSpec): Promise<void> {
    await git.fetch({
      fs,
      http,
      dir: this.dir,
      remote: 'origin',
      url: remote.url,
      ref: this.branch,
      remoteRef: this.branch,
      singleBranch: true,
      tags: false,
      onAuth: () => this.credentials(),
    });
  }

  /** Points the branch at `sha` and brings the working tree and index to it. */
  private async moveBranch(sha: string): Promise<void> {
    await git.writeRef({ fs, dir: this.dir, ref: `refs/heads/${this.branch}`, value: sha, force: true });
    await git.checkout({ fs, dir: this.dir, ref: this.branch, force: true });
  }

  /**
   * Clones into a sibling temporary directory and renames it into place, so a half-finished clone is
   * never mistaken for the KB.
   */
  private async cloneRepo(remote: RemoteSpec): Promise<void> {
    const parent = dirname(this.dir);
    await mkdir(parent, { recursive: true });
    const tmp = await mkdtemp(join(parent, `.${basename(this.dir)}.clone-`));
    try {
      await git.clone({
        fs,
        http,
        dir: tmp,
        url: remote.url,
        ref: this.branch,
        singleBranch: true,
        noTags: true,
        onAuth: () => this.credentials(),
      });
      // An empty remote clones to a repository without commits: make sure it is on our branch.
      await git.writeRef({
        fs,
        dir: tmp,
        ref: 'HEAD',
        value: `refs/heads/${this.branch}`,
        symbolic: true,
        force: true,
      });
      if (existsSync(this.dir)) {
        if ((await readdir(this.dir)).length > 0)
          throw new Error('the KB folder was written to during the clone');
        await rmdir(this.dir);
      }
      await rename(tmp, this.dir);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true }).catch(noop);
      await mkdir(this.dir, { recursive: true }).catch(noop);
      throw err;
    }
    this.hasRepo = true;
    this.loadConflicts();
  }

  private async initRepo(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await git.init({ fs, dir: this.dir, defaultBranch: this.branch });
    this.hasRepo = true;
    await this.configureRemote();
  }

  /** A folder with files but no repository: never delete anything, commit what is there as the service. */
  private async initInPlace(): Promise<void> {
    await this.initRepo();
    const rows = await this.matrix();
    const cache = {};
    const paths = rows.filter(([, , w]) => w !== 0).map(([p]) => p);
    for (const filepath of paths) await git.add({ fs, dir: this.dir, filepath, cache });
    if (paths.length === 0) return;
    const sha = await git.commit({
      fs,
      dir: this.dir,
      ref: `refs/heads/${this.branch}`,
      message: IMPORT_MESSAGE,
      author: this.signature(),
      committer: this.signature(),
      cache,
    });
    this.log.info('kb initialised a repository over existing files', { files: paths.length, commit: sha });
  }

  /** A write into a KB whose clone failed creates the repository it commits to. */
  private async ensureRepo(): Promise<void> {
    if (this.hasRepo) return;
    if (existsSync(join(this.dir, '.git'))) {
      this.hasRepo = true;
      return;
    }
    await this.initRepo();
  }

  private async configureRemote(): Promise<void> {
    if (!this.remote) return;
    // The stored URL is the clean one, even if an older configuration left credentials in it.
    await git.addRemote({ fs, dir: this.dir, remote: 'origin', url: this.remote.url, force: true });
  }

  /** An existing repository is brought onto the configured branch. */
  private async ensureBranch(): Promise<void> {
    const current = await git.currentBranch({ fs, dir: this.dir, fullname: false }).catch(() => undefined);
    if (current === this.branch) return;
    const exists = await this.resolve(`refs/heads/${this.branch}`);
    const head = await this.resolve('HEAD');
    if (exists) await git.checkout({ fs, dir: this.dir, ref: this.branch });
    else if (head) await git.branch({ fs, dir: this.dir, ref: this.branch, checkout: true });
    else
      await git.writeRef({
        fs,
        dir: this.dir,
        ref: 'HEAD',
        value: `refs/heads/${this.branch}`,
        symbolic: true,
        force: true,
      });
  }

  /** Caches head, remote head and the ahead/behind counts that `syncStatus()` reports synchronously. */
  private async refreshHeads(): Promise<void> {
    this.head = await this.resolve(`refs/heads/${this.branch}`);
    this.remoteHead = await this.resolve(`refs/remotes/origin/${this.branch}`);
    // Without a remote there is nothing to be ahead of (and no reason to walk the whole history).
    const { ahead, behind } = this.remote
      ? await this.aheadBehind(this.head, this.remoteHead)
      : { ahead: 0, behind: 0 };
    this.ahead = ahead;
    this.behind = behind;
  }

  /**
   * Commits only on our side and only on theirs, as `git rev-list --left-right --count` finds them: both
   * tips are walked newest first, each commit marked with the sides that reach it, and the walk stops as
   * soon as everything left in the queue is reachable from both (their shared history is not opened).
   */
  private async aheadBehind(
    ours: string | null,
    theirs: string | null,
  ): Promise<{ ahead: number; behind: number }> {
    if (ours === theirs) return { ahead: 0, behind: 0 };
    const cache = {};
    const OURS = 1;
    const THEIRS = 2;
    const BOTH = 3;
    const marks = new Map<string, number>();
    const times = new Map<string, number>();
    const parents = new Map<string, string[]>();
    const queue: string[] = [];
    const enqueue = async (oid: string, mark: number): Promise<void> => {
      const had = marks.get(oid) ?? 0;
      if ((had | mark) === had) return;
      marks.set(oid, had | mark);
      if (!times.has(oid)) {
        const { commit } = await git.readCommit({ fs, dir: this.dir, oid, cache });
        times.set(oid, commit.committer.timestamp);
        parents.set(oid, commit.parent);
      }
      if (!queue.includes(oid)) {
        const t = times.get(oid)!;
        const at = queue.findIndex((q) => times.get(q)! < t);
        if (at === -1) queue.push(oid);
        else queue.splice(at, 0, oid);
      }
    };
    if (ours) await enqueue(ours, OURS);
    if (theirs) await enqueue(theirs, THEIRS);
    while (queue.some((q) => marks.get(q) !== BOTH) && marks.size < COUNT_LIMIT) {
      const oid = queue.shift()!;
      const mark = marks.get(oid)!;
      for (const p of parents.get(oid)!) await enqueue(p, mark);
    }
    let ahead = 0;
    let behind = 0;
    for (const m of marks.values()) {
      if (m === OURS) ahead++;
      else if (m === THEIRS) behind++;
    }
    return { ahead, behind };
  }

  private conflictsFile(): string {
    return join(this.dir, '.git', CONFLICTS_FILE);
  }

  /** Conflicts survive restarts: they live beside the repository's own metadata, never served. */
  private loadConflicts(): void {
    try {
      const parsed = JSON.parse(readFileSync(this.conflictsFile(), 'utf8')) as unknown;
      if (Array.isArray(parsed)) this.conflicts = parsed as ConflictRecord[];
    } catch {
      this.conflicts = [];
    }
  }

  private saveConflicts(): void {
    try {
      writeFileAtomicSync(this.conflictsFile(), JSON.stringify(this.conflicts));
    } catch (err) {
      this.log.warn('kb conflicts not saved', { error: errText(err) });
    }
  }

  /** A conflict is resolved once its copy has been deleted or moved away. */
  private liveConflicts(): ConflictRecord[] {
    const live = this.conflicts.filter((c) => {
      try {
        lstatSync(join(this.dir, c.copy));
        return true;
      } catch {
        return false;
      }
    });
    if (live.length !== this.conflicts.length) {
      this.conflicts = live;
      this.saveConflicts();
    }
    return live.map((c) => ({ ...c }));
  }
}

/** The oid of the entry at `path` in a tree, or null. */
async function entryOid(repo: RepoRef, tree: string, path: string): Promise<string | null> {
  const slash = path.lastIndexOf('/');
  try {
    const { tree: entries } = await git.readTree({
      fs,
      dir: repo.dir,
      oid: tree,
      filepath: slash === -1 ? undefined : path.slice(0, slash),
      cache: repo.cache,
    });
    return entries.find((e) => e.path === path.slice(slash + 1))?.oid ?? null;
  } catch {
    return null;
  }
}

function toCommitInfo(c: ReadCommitResult): CommitInfo {
  return {
    sha: c.oid,
    author: c.commit.author.name,
    email: c.commit.author.email,
    date: new Date(c.commit.author.timestamp * 1000).toISOString(),
    message: c.commit.message.replace(/\s+$/, ''),
  };
}

function isRejection(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return code === 'PushRejectedError' || code === 'GitPushError';
}

function mergeMessage(branch: string, m: MergeOutcome): string {
  const lines = [`Merge origin/${branch} into ${branch}`];
  if (m.conflicts.length > 0) {
    lines.push('', 'Conflicts (local version kept, remote version saved beside it):');
    for (const c of m.conflicts) lines.push(`  ${c.path} -> ${c.copy}`);
  }
  if (m.keptLocal.length > 0) {
    lines.push('', 'Modified locally, deleted on the remote (local file kept):');
    for (const p of m.keptLocal) lines.push(`  ${p}`);
  }
  if (m.keptRemote.length > 0) {
    lines.push('', 'Deleted locally, modified on the remote (remote file kept):');
    for (const p of m.keptRemote) lines.push(`  ${p}`);
  }
  if (m.typeClashes.length > 0) {
    lines.push('', 'File on one side, folder on the other (local entry kept):');
    for (const p of m.typeClashes) lines.push(`  ${p}`);
  }
  return lines.join('\n');
}
