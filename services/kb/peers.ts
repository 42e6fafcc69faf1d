/**
 * Several kb instances may share one remote (each with its own working tree). They learn about each
 * other's commits over the bus: a peer's `gaia.kb.file.changed` means its push is on the way (pushes are
 * coalesced for a couple of seconds), and a peer's successful push announcement means the remote has it
 * now. Either one makes this instance pull, so a write through any instance is readable through all.
 */
import type { Bus, Subscription } from '../../src/bus/types.ts';
import type { Logger } from '../../src/log.ts';
import type { GitService } from './git/service.ts';

const RECENT_LIMIT = 500;

export class PeerSync {
  private readonly own = new Set<string>();
  private readonly subs: Subscription[] = [];
  private delayed: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly git: GitService,
    private readonly bus: Bus,
    private readonly log: Logger,
    /** How long after a peer's commit its push should have landed. */
    private readonly pushLagMs: number,
  ) {}

  /** Remembers a commit made here, so its own event does not trigger a pull. */
  noteOwnCommit(sha: string): void {
    this.own.add(sha);
    if (this.own.size > RECENT_LIMIT) this.own.delete(this.own.values().next().value!);
  }

  start(): void {
    this.subs.push(
      this.bus.subscribe('gaia.kb.file.changed', (m) => {
        const commit = typeof m.data.commit === 'string' ? m.data.commit : '';
        if (m.data.source === 'pull' || !commit || this.own.has(commit)) return;
        this.pullLater();
      }),
      this.bus.subscribe('gaia.kb.sync.completed', async (m) => {
        if (m.data.direction !== 'push' || m.data.result !== 'ok') return;
        const to = typeof m.data.to === 'string' ? m.data.to : '';
        if (!to || this.own.has(to) || (await this.git.headSha().catch(() => null)) === to) return;
        this.pullNow();
      }),
    );
  }

  private pullLater(): void {
    if (this.delayed) return;
    this.delayed = setTimeout(() => {
      this.delayed = null;
      this.pullNow();
    }, this.pushLagMs);
    this.delayed.unref?.();
  }

  private pullNow(): void {
    this.git
      .pull('webhook')
      .catch((err) => this.log.warn('peer-triggered pull failed', { error: String(err) }));
  }

  stop(): void {
    for (const s of this.subs) s.unsubscribe();
    if (this.delayed) clearTimeout(this.delayed);
    this.delayed = null;
  }
}
