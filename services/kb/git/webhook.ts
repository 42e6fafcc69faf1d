/**
 * Verifying a Git host's push webhook. Each host signs differently; all comparisons are constant-time
 * (both sides are hashed to equal length first, so not even the length of a guess leaks).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const MAX_WEBHOOK_BYTES = 1024 * 1024;

export type WebhookDecision =
  | { kind: 'not_found' }
  | { kind: 'too_large' }
  | { kind: 'invalid' }
  | { kind: 'ping' }
  | { kind: 'ignored' }
  | { kind: 'accepted'; provider: Provider };

type Provider = 'github' | 'gitlab' | 'bitbucket' | 'other';

function sameSecret(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}

function hmacHex(secret: string, body: Uint8Array): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

/** `sha256=<hex>` against the HMAC of the raw body; the hex is compared case-insensitively. */
function signatureMatches(header: string, secret: string, body: Uint8Array): boolean {
  const m = /^sha256=([0-9a-fA-F]+)$/.exec(header.trim());
  const given = m ? m[1]!.toLowerCase() : '';
  // Always compute and compare, so a malformed header costs the same as a wrong one.
  return sameSecret(given, hmacHex(secret, body)) && m !== null;
}

function provider(
  headers: Headers,
): { provider: Provider; ok: (secret: string, body: Uint8Array) => boolean } | null {
  const gh = headers.get('x-hub-signature-256');
  if (gh !== null) return { provider: 'github', ok: (s, b) => signatureMatches(gh, s, b) };
  const gl = headers.get('x-gitlab-token');
  if (gl !== null) return { provider: 'gitlab', ok: (s) => sameSecret(gl, s) };
  const bb = headers.get('x-hub-signature');
  if (bb !== null) return { provider: 'bitbucket', ok: (s, b) => signatureMatches(bb, s, b) };
  const other = headers.get('x-gaia-signature');
  if (other !== null) return { provider: 'other', ok: (s, b) => signatureMatches(other, s, b) };
  return null;
}

function isPing(headers: Headers): boolean {
  const gh = headers.get('x-github-event');
  const key = headers.get('x-event-key');
  return gh === 'ping' || key === 'diagnostics:ping';
}

/**
 * The branches a push payload touches, or null when the payload does not say (then the pull runs: a
 * needless pull is cheap, a missed one leaves the KB stale).
 */
function pushedBranches(body: Uint8Array): string[] | null {
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder().decode(body));
  } catch {
    return null;
  }
  if (!payload || typeof payload !== 'object') return null;
  const p = payload as Record<string, unknown>;
  // GitHub, GitLab, Gitea and the generic form: `"ref": "refs/heads/<branch>"`.
  if (typeof p.ref === 'string') {
    return [p.ref.startsWith('refs/heads/') ? p.ref.slice('refs/heads/'.length) : `\0${p.ref}`];
  }
  // Bitbucket: `push.changes[].new|old = {type: "branch", name}`.
  const push = p.push as { changes?: unknown } | undefined;
  if (push && Array.isArray(push.changes)) {
    const names: string[] = [];
    for (const c of push.changes as Array<Record<string, { type?: string; name?: string } | null>>) {
      for (const side of [c?.new, c?.old]) {
        if (side && typeof side.name === 'string')
          names.push(side.type === 'branch' ? side.name : `\0${side.name}`);
      }
    }
    return names;
  }
  return null;
}

export function decideWebhook(
  secret: string | undefined,
  branch: string,
  headers: Headers,
  body: Uint8Array,
): WebhookDecision {
  if (!secret) return { kind: 'not_found' };
  if (body.byteLength > MAX_WEBHOOK_BYTES) return { kind: 'too_large' };
  const p = provider(headers);
  if (!p?.ok(secret, body)) return { kind: 'invalid' };
  if (isPing(headers)) return { kind: 'ping' };
  const branches = pushedBranches(body);
  if (branches !== null && !branches.includes(branch)) return { kind: 'ignored' };
  return { kind: 'accepted', provider: p.provider };
}

/** The HTTP answer for each decision. */
export function webhookResponse(d: WebhookDecision): { status: number; body: Record<string, unknown> } {
  switch (d.kind) {
    case 'not_found':
      return { status: 404, body: { detail: 'Not Found' } };
    case 'too_large':
      return { status: 413, body: { detail: 'Webhook body too large' } };
    case 'invalid':
      return { status: 401, body: { detail: 'Invalid webhook signature' } };
    case 'ping':
      return { status: 200, body: { status: 'pong' } };
    case 'ignored':
      return { status: 200, body: { status: 'ignored', reason: 'branch' } };
    case 'accepted':
      return { status: 202, body: { status: 'accepted' } };
  }
}
