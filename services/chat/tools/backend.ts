/**
 * What the tools that call another Gaia service share: whether that service answers (checked at most every
 * 30 s, so a chat never waits on a dead service's timeout), and the identity the call carries, which is the
 * chatting user's own, so a tool can never do more than the user could.
 */
import type { ServiceClient } from '../../../src/http/client.ts';
import type { Identity } from '../../../src/http/identity.ts';
import type { User } from '../../../src/http/service.ts';

const HEALTH_TTL_MS = 30_000;

export class HealthGate {
  private last: { at: number; ok: boolean } | null = null;

  constructor(private readonly client: ServiceClient) {}

  async up(): Promise<boolean> {
    if (!this.last || Date.now() - this.last.at > HEALTH_TTL_MS) {
      let ok = false;
      try {
        const res = await this.client.fetch('/health', { method: 'GET', timeoutMs: 1000 });
        ok = res.ok;
        await res.body?.cancel();
      } catch {
        ok = false;
      }
      this.last = { at: Date.now(), ok };
    }
    return this.last.ok;
  }
}

/** The chatting user as the identity of a service call made for them. */
export function identityOf(user: User, rid: string): Identity {
  return {
    auth_type: user.authType,
    sub: user.id,
    email: user.email ?? undefined,
    name: user.name ?? undefined,
    admin: user.admin,
    session_id: user.sessionId,
    key_id: user.keyId,
    rid,
    ip: '',
  };
}
