/**
 * One browser request as the web UI handles it: who is signed in, whether htmx asked for a fragment, and
 * gateway calls that carry the user's token, refresh it when it is about to expire, and retry once after
 * a 401. The cookie is re-issued when the session changes.
 */
import type { Config } from '../../src/config.ts';
import type { Logger } from '../../src/log.ts';
import { GATEWAY_ORIGIN, type GatewayLike, GatewayUnreachable } from './gateway-client.ts';
import type { Html } from './html.ts';
import type { WebSession } from './session/cookie.ts';
import { provesSession } from './session/liveness.ts';
import type { Sessions } from './session/service.ts';

/** No valid session (or it could not be refreshed): the wrapper answers per request kind. */
export class Unauthenticated extends Error {
  constructor() {
    super('Not authenticated');
    this.name = 'Unauthenticated';
  }
}

export interface ApiInit {
  method?: string;
  json?: unknown;
  signal?: AbortSignal;
  /** Send the session's token (default true when there is a session). */
  auth?: boolean;
  headers?: Record<string, string>;
}

export interface AppServices {
  config: Config;
  log: Logger;
  gateway: GatewayLike;
  sessions: Sessions;
}

export class WebContext {
  readonly url: URL;
  /** htmx asked for a fragment (a history restore wants the whole page). */
  readonly isHtmx: boolean;
  /** Set-Cookie to add to the answer (a refreshed, new or cleared session). */
  setCookie: string | null = null;
  /** Auth has vouched for the session during this request (see session/liveness.ts). */
  sessionConfirmed = false;
  private sessionValue: WebSession | null;
  private refreshed = false;

  constructor(
    readonly app: AppServices,
    readonly request: Request,
    readonly ip: string,
    readonly rid: string,
    session: WebSession | null,
    /** The request carried a cookie that did not open, or whose session ended: clear it. */
    staleCookie: boolean,
  ) {
    this.url = new URL(request.url);
    this.isHtmx =
      request.headers.get('hx-request') === 'true' &&
      request.headers.get('hx-history-restore-request') !== 'true';
    this.sessionValue = session;
    if (staleCookie) this.setCookie = app.sessions.clearCookie();
  }

  get session(): WebSession | null {
    return this.sessionValue;
  }

  requireSession(): WebSession {
    if (!this.sessionValue) throw new Unauthenticated();
    return this.sessionValue;
  }

  /** Starts (or replaces) the session and re-issues the cookie. */
  async setSession(session: WebSession): Promise<void> {
    this.sessionValue = session;
    this.setCookie = await this.app.sessions.cookieFor(session);
  }

  endSession(): void {
    this.sessionValue = null;
    this.sessionConfirmed = false;
    this.setCookie = this.app.sessions.clearCookie();
  }

  /** The id of the conversation open in the page that sent this htmx request (`HX-Current-URL`). */
  currentConversationId(): string | null {
    const cur = this.request.headers.get('hx-current-url');
    if (!cur) return null;
    try {
      const m = /^\/chat\/([^/?#]+)$/.exec(new URL(cur).pathname);
      return m ? decodeURIComponent(m[1]!) : null;
    } catch {
      return null;
    }
  }

  private async refresh(): Promise<void> {
    const s = this.sessionValue;
    if (!s) throw new Unauthenticated();
    const next = await this.app.sessions.refresh(s, { ip: this.ip, rid: this.rid });
    if (!next) {
      this.endSession();
      throw new Unauthenticated();
    }
    this.refreshed = true;
    await this.setSession(next);
  }

  private build(path: string, init: ApiInit): Request {
    const headers: Record<string, string> = {
      accept: 'application/json',
      'x-forwarded-for': this.ip,
      'x-request-id': this.rid,
      ...init.headers,
    };
    const ua = this.request.headers.get('user-agent');
    if (ua) headers['user-agent'] = ua;
    if (init.auth !== false && this.sessionValue) headers.authorization = `Bearer ${this.sessionValue.at}`;
    let body: string | undefined;
    if (init.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(init.json);
    }
    return new Request(GATEWAY_ORIGIN + path, {
      method: init.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      body,
      signal: init.signal,
    });
  }

  private async send(path: string, init: ApiInit): Promise<Response> {
    try {
      return await this.app.gateway.fetch(this.build(path, init));
    } catch (err) {
      if (init.signal?.aborted) throw err;
      throw new GatewayUnreachable(err);
    }
  }

  /**
   * A gateway call. With a session it refreshes first when the token is about to expire, and after a 401
   * refreshes once and retries; when that fails the session ends (Unauthenticated).
   */
  async api(path: string, init: ApiInit = {}): Promise<Response> {
    const authed = init.auth !== false && this.sessionValue !== null;
    if (authed && !this.refreshed && this.app.sessions.needsRefresh(this.sessionValue!)) await this.refresh();
    const res = await this.send(path, init);
    if (authed && provesSession(path, res.status)) this.sessionConfirmed = true;
    if (!authed || res.status !== 401) return res;
    await res.body?.cancel();
    if (this.refreshed) {
      this.endSession();
      throw new Unauthenticated();
    }
    await this.refresh();
    const again = await this.send(path, init);
    if (provesSession(path, again.status)) this.sessionConfirmed = true;
    if (again.status === 401) {
      await again.body?.cancel();
      this.endSession();
      throw new Unauthenticated();
    }
    return again;
  }

  /** A gateway call whose JSON body is wanted; `body` is null when it is not JSON. */
  async apiJson<T = any>(path: string, init: ApiInit = {}): Promise<{ res: Response; body: T | null }> {
    const res = await this.api(path, init);
    const text = await res.text();
    let body: T | null = null;
    try {
      body = text ? (JSON.parse(text) as T) : null;
    } catch {
      body = null;
    }
    return { res, body };
  }
}

/** `{"detail": …}` of a gateway error, as text. */
export function detailOf(body: unknown): string {
  if (body && typeof body === 'object') {
    const d = (body as Record<string, unknown>).detail ?? (body as Record<string, unknown>).error;
    if (typeof d === 'string') return d;
    if (d && typeof d === 'object' && typeof (d as any).message === 'string') return (d as any).message;
  }
  return '';
}

/* ---------- answers ---------- */

export interface AnswerInit {
  status?: number;
  headers?: Record<string, string>;
}

export function htmlAnswer(body: Html | string, init: AnswerInit = {}): Response {
  return new Response(String(body), {
    status: init.status ?? 200,
    headers: { 'content-type': 'text/html; charset=utf-8', ...init.headers },
  });
}

export function redirect(location: string, status = 303): Response {
  return new Response(null, { status, headers: { location } });
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

export type ToastVariant = 'success' | 'error' | 'warning' | 'info';

/** An `HX-Trigger` value: events with details, e.g. a toast. */
export function triggers(events: Record<string, unknown>): string {
  // Header values must be ASCII-safe: escape everything outside printable ASCII.
  return JSON.stringify(events).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export function toast(message: string, variant: ToastVariant, ms?: number): Record<string, unknown> {
  return { 'gaia:toast': ms ? { message, variant, ms } : { message, variant } };
}

/** True for a path inside this site (`/chat`), never `//evil` or `/\evil`. */
export function isLocalPath(p: string | null | undefined): p is string {
  return !!p && p.startsWith('/') && !p.startsWith('//') && !p.includes('\\') && !/[\r\n]/.test(p);
}

/** Form fields of a urlencoded or multipart body (an unreadable body counts as empty). */
export async function readForm(request: Request): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const type = request.headers.get('content-type') ?? '';
  try {
    if (type.includes('application/json')) {
      const j = (await request.json()) as Record<string, unknown>;
      if (j && typeof j === 'object')
        for (const [k, v] of Object.entries(j)) if (typeof v === 'string') out[k] = v;
      return out;
    }
    const text = await request.text();
    for (const [k, v] of new URLSearchParams(text)) out[k] = v;
  } catch {
    // an unreadable body is an empty form
  }
  return out;
}
