/**
 * The legacy in-memory session history: one per user per chat instance, at most
 * CHAT_SESSION_MAX_MESSAGES, gone after 24 h idle or a restart, never written to the conversation tables.
 */

export interface SessionMessage {
  role: 'user' | 'assistant';
  content: string;
}

const IDLE_MS = 24 * 3600_000;

export class SessionHistory {
  private readonly sessions = new Map<string, { messages: SessionMessage[]; lastUsed: number }>();

  constructor(private readonly max: number) {}

  private live(userId: string) {
    const s = this.sessions.get(userId);
    if (s && Date.now() - s.lastUsed > IDLE_MS) {
      this.sessions.delete(userId);
      return undefined;
    }
    return s;
  }

  get(userId: string): SessionMessage[] {
    return [...(this.live(userId)?.messages ?? [])];
  }

  push(userId: string, msg: SessionMessage): void {
    const s = this.live(userId) ?? { messages: [], lastUsed: Date.now() };
    s.messages.push(msg);
    if (s.messages.length > this.max) s.messages.splice(0, s.messages.length - this.max);
    s.lastUsed = Date.now();
    this.sessions.set(userId, s);
    // Expired sessions of other users are swept opportunistically so memory stays bounded.
    if (this.sessions.size > 1000) for (const [k] of this.sessions) this.live(k);
  }

  clear(userId: string): void {
    this.sessions.delete(userId);
  }
}
