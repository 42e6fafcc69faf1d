/**
 * Connections to the operator's MCP servers, on the official SDK client. A server is connected the first time
 * a chat needs it and kept. A stdio server that crashes or cannot start is started again after a pause that
 * doubles from 1 s to 60 s; while it waits its tools are absent, and the log says why once per pause rather
 * than once per chat. Tool lists follow `notifications/tools/list_changed` and are re-read every 10 minutes.
 */

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  type CallToolResult,
  ErrorCode,
  McpError,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import type { User } from '../../../src/http/service.ts';
import type { Logger } from '../../../src/log.ts';
import type { HttpServerConfig, McpServerConfig, StdioServerConfig } from './config.ts';

export const BACKOFF_START_MS = 1_000;
export const BACKOFF_MAX_MS = 60_000;
export const REFRESH_MS = 10 * 60_000;
/** A connection that stayed up this long counts as healthy: its next failure starts the back-off afresh. */
const HEALTHY_MS = 60_000;
/** Per-identity HTTP connections kept at most (least recently used are closed first). */
const MAX_IDENTITY_LINKS = 100;
/**
 * How long listing a chat's tools waits for a server still connecting. A slow first start (an `npx` server
 * downloading itself) keeps going in the background and its tools join later chats; this chat goes on
 * without them rather than waiting for the whole timeout.
 */
const LIST_WAIT_MS = 10_000;
/** How many `tools/list` pages one refresh follows. */
const MAX_LIST_PAGES = 20;

export type LinkState = 'connected' | 'starting' | 'error';

/** What Gaia keeps of a server's tool. */
export interface McpToolInfo {
  name: string;
  description: string;
  inputSchema: Record<string, unknown>;
}

export interface McpCallResult {
  ok: boolean;
  text: string;
}

const TEMPLATE_RE = /\{\{\s*(user_id|user_email)\s*\}\}/g;

/** Fills `{{user_id}}` / `{{user_email}}` in header values; line breaks can never reach a header. */
export function fillHeaders(headers: Record<string, string>, user: User): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers))
    out[k] = v
      .replace(TEMPLATE_RE, (_m, which: string) => (which === 'user_id' ? user.id : (user.email ?? '')))
      .replace(/[\r\n]/g, '');
  return out;
}

export function hasTemplates(headers: Record<string, string>): boolean {
  return Object.values(headers).some((v) => new RegExp(TEMPLATE_RE.source).test(v));
}

/**
 * One connection (one MCP session, or one child process) and its lifecycle. `get()` answers the connected
 * client, waits for a connect already under way, or answers null while backing off.
 */
class Link {
  state: LinkState = 'starting';
  error: string | null = null;
  tools: McpToolInfo[] = [];
  /** When state, error or tools last changed: a server's status reports its freshest link. */
  changedAt = 0;
  lastUsed = Date.now();
  private client: Client | null = null;
  private pending: Promise<Client | null> | null = null;
  private failures = 0;
  private retryAt = 0;
  private upSince = 0;
  private restartTimer: ReturnType<typeof setTimeout> | null = null;
  private refreshTimer: ReturnType<typeof setInterval> | null = null;
  private closed = false;
  /** The last lines a stdio child wrote to stderr, for the log when it dies. */
  private stderrTail: string[] = [];

  constructor(
    private readonly cfg: McpServerConfig,
    private readonly headers: Record<string, string>,
    private readonly log: Logger,
    private readonly version: string,
  ) {}

  async get(): Promise<Client | null> {
    this.lastUsed = Date.now();
    if (this.closed) return null;
    if (this.client && this.state === 'connected') return this.client;
    if (this.pending) return this.pending;
    if (Date.now() < this.retryAt) return null;
    return this.connect();
  }

  private connect(): Promise<Client | null> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.setState('starting', null);
    this.pending = this.open().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  private async open(): Promise<Client | null> {
    const client = new Client({ name: 'gaia-chat', version: this.version }, { capabilities: {} });
    let exited = false;
    const transport = this.transport();
    client.onclose = () => {
      exited = true;
      // Only the live client's end matters; a replaced or deliberately closed one is already handled.
      if (this.client === client && !this.closed) {
        this.client = null;
        this.stopRefresh();
        this.fail(this.cfg.transport === 'stdio' ? 'the server process exited' : 'the connection closed');
      }
    };
    // Transport hiccups (a dropped notification stream) are not failures by themselves.
    client.onerror = () => {};
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      await this.refresh(client).catch((err) =>
        this.log.warn('MCP tool list refresh failed', { server: this.cfg.name, error: message(err) }),
      );
    });
    try {
      await client.connect(transport, { timeout: this.cfg.timeoutMs });
      if (this.closed) {
        await client.close().catch(() => {});
        return null;
      }
      this.client = client;
      this.upSince = Date.now();
      await this.refresh(client);
      this.setState('connected', null);
      this.refreshTimer = setInterval(() => {
        this.refresh(client).catch((err) => this.dropAfter(client, err));
      }, REFRESH_MS);
      this.refreshTimer.unref?.();
      this.log.info('MCP server connected', { server: this.cfg.name, tools: this.tools.length });
      return client;
    } catch (err) {
      this.client = null;
      await client.close().catch(() => {});
      if (this.closed) return null;
      const why =
        exited && this.cfg.transport === 'stdio' ? 'the server process exited during startup' : message(err);
      this.fail(why);
      return null;
    }
  }

  private transport() {
    if (this.cfg.transport === 'stdio') {
      const c = this.cfg as StdioServerConfig;
      this.stderrTail = [];
      const t = new StdioClientTransport({
        command: c.command,
        args: c.args,
        // Merged over the SDK's short list of safe variables (PATH, HOME, …): Gaia's own secrets never
        // reach a child unless the operator passes them on in `env`.
        env: c.env,
        cwd: c.cwd,
        stderr: 'pipe',
      });
      t.stderr?.on('data', (chunk: Buffer) => {
        for (const line of String(chunk).split('\n')) {
          const l = line.trim();
          if (!l) continue;
          this.stderrTail.push(l.slice(0, 300));
          if (this.stderrTail.length > 3) this.stderrTail.shift();
        }
      });
      return t;
    }
    const c = this.cfg as HttpServerConfig;
    return new StreamableHTTPClientTransport(new URL(c.url), { requestInit: { headers: this.headers } });
  }

  /** Re-reads the tool list (all pages). */
  async refresh(client = this.client): Promise<void> {
    if (!client) return;
    const tools: McpToolInfo[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const res = await client.listTools(cursor ? { cursor } : undefined, { timeout: this.cfg.timeoutMs });
      for (const t of res.tools)
        tools.push({
          name: t.name,
          description: t.description ?? t.title ?? '',
          inputSchema: (t.inputSchema as Record<string, unknown>) ?? { type: 'object' },
        });
      cursor = res.nextCursor;
      if (!cursor) break;
    }
    this.tools = tools;
    this.changedAt = Date.now();
  }

  async call(tool: string, args: Record<string, unknown>, signal: AbortSignal): Promise<McpCallResult> {
    const client = await this.get();
    if (!client)
      return {
        ok: false,
        text: `MCP server "${this.cfg.name}" is unavailable: ${this.error ?? 'not connected'}`,
      };
    try {
      const res = (await client.callTool({ name: tool, arguments: args }, undefined, {
        signal,
        timeout: this.cfg.timeoutMs,
      })) as CallToolResult;
      const text = resultText(res);
      return res.isError ? { ok: false, text: text || 'The tool reported an error.' } : { ok: true, text };
    } catch (err) {
      if (signal.aborted) return { ok: false, text: 'The call was cancelled.' };
      if (err instanceof McpError && err.code === ErrorCode.RequestTimeout)
        return { ok: false, text: `The tool did not answer within ${this.cfg.timeoutMs} ms.` };
      // A JSON-RPC error is the server's answer to this call; anything else means the connection broke.
      if (!(err instanceof McpError) || err.code === ErrorCode.ConnectionClosed) this.dropAfter(client, err);
      return { ok: false, text: `The tool failed: ${message(err)}` };
    }
  }

  /** Gives up a client whose connection broke, so the next use reconnects (after the back-off). */
  private dropAfter(client: Client, err: unknown): void {
    if (this.client !== client || this.closed) return;
    this.client = null;
    this.stopRefresh();
    this.fail(message(err));
    client.close().catch(() => {});
  }

  private fail(reason: string): void {
    if (this.upSince && Date.now() - this.upSince >= HEALTHY_MS) this.failures = 0;
    this.upSince = 0;
    this.failures++;
    const delay = Math.min(BACKOFF_START_MS * 2 ** (this.failures - 1), BACKOFF_MAX_MS);
    this.retryAt = Date.now() + delay;
    this.tools = [];
    this.setState('error', reason);
    // One line per back-off step: requests during the pause get null without logging.
    this.log.warn('MCP server unavailable', {
      server: this.cfg.name,
      error: reason,
      retry_in_ms: delay,
      ...(this.stderrTail.length ? { stderr: this.stderrTail.join(' | ') } : {}),
    });
    // A stdio server is Gaia's own child: bring it back without waiting for a chat to ask. An HTTP server is
    // retried by the next chat after the pause (it may be one of many per-identity sessions).
    if (this.cfg.transport === 'stdio') {
      this.restartTimer = setTimeout(() => {
        this.restartTimer = null;
        if (!this.closed && !this.pending) this.connect();
      }, delay);
      this.restartTimer.unref?.();
    }
  }

  private setState(state: LinkState, error: string | null): void {
    this.state = state;
    this.error = error;
    this.changedAt = Date.now();
  }

  private stopRefresh(): void {
    if (this.refreshTimer) clearInterval(this.refreshTimer);
    this.refreshTimer = null;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.stopRefresh();
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const pending = this.pending;
    const client = this.client;
    this.client = null;
    await client?.close().catch(() => {});
    // A connect under way notices `closed` and closes its own client.
    await pending?.catch(() => null);
  }
}

/**
 * One configured server. stdio servers and HTTP servers without templates have a single connection.
 * An HTTP server whose headers name the user gets one connection per distinct filled header set: a
 * Streamable HTTP session is stateful, and a server that authorises (or lists tools) per user must see one
 * identity for a session's whole life. The SDK also sends requests of its own outside any call (initialize,
 * the notification stream, reconnects), so a fetch wrapper that picked headers from the calling context
 * (AsyncLocalStorage) would send those with no identity or a stale one. A connection per identity keeps
 * the session and the identity one to one; idle ones are closed once the cap is reached.
 */
export class McpServer {
  readonly name: string;
  readonly transport: 'stdio' | 'http';
  private readonly perIdentity: boolean;
  private readonly links = new Map<string, Link>();
  private closed = false;

  constructor(
    readonly cfg: McpServerConfig,
    private readonly log: Logger,
    private readonly version: string,
  ) {
    this.name = cfg.name;
    this.transport = cfg.transport;
    this.perIdentity = cfg.transport === 'http' && hasTemplates(cfg.headers);
  }

  /** The connection a user's calls go through. */
  link(user: User): Link {
    const headers = this.cfg.transport === 'http' ? fillHeaders(this.cfg.headers, user) : {};
    const key = this.perIdentity ? JSON.stringify(headers) : '';
    let link = this.links.get(key);
    if (link) {
      // Re-inserting keeps the map in least-recently-used order.
      this.links.delete(key);
      this.links.set(key, link);
      return link;
    }
    link = new Link(this.cfg, headers, this.log, this.version);
    this.links.set(key, link);
    while (this.links.size > MAX_IDENTITY_LINKS) {
      const [oldKey, old] = this.links.entries().next().value as [string, Link];
      this.links.delete(oldKey);
      old.close().catch(() => {});
    }
    return link;
  }

  /** The server's tools as this user's connection sees them ([] while unreachable). */
  async tools(user: User): Promise<McpToolInfo[]> {
    if (this.closed) return [];
    const link = this.link(user);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gaveUp = new Promise<null>((done) => {
      timer = setTimeout(() => done(null), Math.min(LIST_WAIT_MS, this.cfg.timeoutMs));
    });
    try {
      return (await Promise.race([link.get(), gaveUp])) ? link.tools : [];
    } finally {
      clearTimeout(timer);
    }
  }

  call(user: User, tool: string, args: Record<string, unknown>, signal: AbortSignal): Promise<McpCallResult> {
    if (this.closed) return Promise.resolve({ ok: false, text: `MCP server "${this.name}" is shut down` });
    return this.link(user).call(tool, args, signal);
  }

  /** The freshest connection's state; a server nobody has used yet is still `starting`. */
  status(): { state: LinkState; error: string | null; tools: number } {
    let best: Link | undefined;
    for (const l of this.links.values()) if (!best || l.changedAt > best.changedAt) best = l;
    if (!best) return { state: 'starting', error: null, tools: 0 };
    return { state: best.state, error: best.error, tools: best.tools.length };
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.links.values()];
    this.links.clear();
    await Promise.all(all.map((l) => l.close()));
  }
}

/** A call result as text: text parts joined, embedded text resources included, other media named. */
export function resultText(res: CallToolResult): string {
  const parts: string[] = [];
  for (const c of res.content ?? []) {
    if (c.type === 'text') parts.push(c.text);
    else if (c.type === 'resource' && 'text' in c.resource) parts.push(String(c.resource.text));
    else if (c.type === 'resource_link') parts.push(`[resource ${c.uri}]`);
    else parts.push(`[${c.type}]`);
  }
  if (parts.length === 0 && res.structuredContent !== undefined) return JSON.stringify(res.structuredContent);
  return parts.join('\n');
}

/** An error as one short line; an HTTP failure leads with its status so admins see it at a glance. */
function message(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const line = err instanceof StreamableHTTPError && err.code ? `HTTP ${err.code}: ${text}` : text;
  return line.replace(/\s+/g, ' ').slice(0, 300);
}
