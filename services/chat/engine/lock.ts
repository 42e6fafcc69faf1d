/**
 * Serializes requests to one conversation: they run in arrival order, so the second
 * sees the first exchange in its history. A wait past the timeout is a 409 before any stream starts.
 * The queue lives in this chat instance; requests for one conversation reach one instance per user session
 * in practice, and the per-conversation `seq` unique index keeps storage consistent if they do not.
 */
import { HttpError } from '../../../src/http/errors.ts';

type Waiter = { grant: () => void };

export class ConversationLocks {
  private readonly queues = new Map<string, Waiter[]>();

  /** Resolves with a release function once every earlier request for `id` has finished. */
  async acquire(id: string, timeoutMs: number): Promise<() => void> {
    let queue = this.queues.get(id);
    if (!queue) {
      queue = [];
      this.queues.set(id, queue);
    }
    let granted = false;
    const release = () => {
      const q = this.queues.get(id);
      if (!q) return;
      const i = q.indexOf(waiter);
      if (i === -1) return;
      q.splice(i, 1);
      if (i === 0) q[0]?.grant();
      if (q.length === 0) this.queues.delete(id);
    };
    let grant!: () => void;
    const ready = new Promise<void>((r) => {
      grant = () => {
        granted = true;
        r();
      };
    });
    const waiter: Waiter = { grant };
    queue.push(waiter);
    if (queue.length === 1) grant();
    if (granted) return release;

    let timer: ReturnType<typeof setTimeout> | undefined;
    const timedOut = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), timeoutMs);
    });
    const outcome = await Promise.race([ready.then(() => 'ready' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout' && !granted) {
      release();
      throw new HttpError(409, `Conversation ${id} is busy`);
    }
    return release;
  }
}
