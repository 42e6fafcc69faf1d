/**
 * An async mutex, and one per SQLite file for the whole process.
 *
 * SQLite allows one writer per file. Between processes, `BEGIN IMMEDIATE` plus `busy_timeout` make the
 * second writer wait. Inside one process that wait would be fatal: bun:sqlite blocks the event loop while
 * it retries, so the connection holding the lock (which needs that same loop to finish its async work)
 * can never commit, and the waiter fails with SQLITE_BUSY after 5 s. So every writer transaction on a file
 * first takes this in-process mutex, keyed by the file's path, and only then issues `BEGIN IMMEDIATE`.
 * This is process-wide on purpose: it stands for the file, which two stacks in one process really share.
 */
import { realpathSync } from 'node:fs';

export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  /** Runs `fn` once every earlier caller has finished, one at a time. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    let release!: () => void;
    const next = new Promise<void>((r) => {
      release = r;
    });
    const prev = this.tail;
    this.tail = prev.then(() => next);
    await prev;
    try {
      return await fn();
    } finally {
      release();
    }
  }
}

const fileLocks = new Map<string, { mutex: Mutex; users: number }>();

function keyOf(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** Takes a reference to the mutex of a SQLite file; call `release` when the connection closes. */
export function acquireFileMutex(path: string): { mutex: Mutex; release: () => void } {
  // An in-memory database is private to its connection, so it needs no sharing.
  if (path === ':memory:') return { mutex: new Mutex(), release: () => {} };
  const key = keyOf(path);
  let entry = fileLocks.get(key);
  if (!entry) {
    entry = { mutex: new Mutex(), users: 0 };
    fileLocks.set(key, entry);
  }
  entry.users++;
  const e = entry;
  let released = false;
  return {
    mutex: e.mutex,
    release: () => {
      if (released) return;
      released = true;
      if (--e.users === 0 && fileLocks.get(key) === e) fileLocks.delete(key);
    },
  };
}
