/**
 * A small in-memory stand-in for the gateway, speaking the shapes of spec/auth.md, spec/chat.md §2.3 and
 * §4, for server-side tests of the web UI's routing, sessions and cookies. Browser tests use the real stack.
 */

import { parse as parseYaml } from 'yaml';
import { checkPersonaTools } from '../../services/chat/personas/model.ts';
import { HttpError } from '../../src/http/errors.ts';

export interface FakeUser {
  id: string;
  email: string;
  password: string;
  name?: string;
  confirmed: boolean;
}

interface Token {
  uid: string;
  sid: string;
  exp: number;
}

interface Conv {
  id: string;
  uid: string;
  title: string;
  preview: string;
  created_at: string;
  updated_at: string;
  deleted: boolean;
  messages: Array<{ id: string; role: string; content: string; created_at: string; status: string }>;
}

export interface Recorded {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

export class FakeGateway {
  users = new Map<string, FakeUser>();
  tokens = new Map<string, Token>();
  refreshTokens = new Map<string, { uid: string; sid: string; used: boolean }>();
  revokedSessions = new Set<string>();
  conversations = new Map<string, Conv>();
  personas: Array<{
    id: string;
    name: string;
    description: string;
    system_prompt: string;
    created_by: string;
    personality_traits: Record<string, boolean>;
    tools: string[] | null;
  }> = [
    {
      id: 'persona-mu',
      name: 'Mu',
      description: 'A cheerful robot',
      system_prompt: 'You are Mu.\n\n{tools_section}',
      created_by: 'system',
      personality_traits: { cheerful: true },
      tools: null,
    },
  ];
  current = new Map<string, string>();
  /** When set, persona creates and updates answer this instead (a service with stricter rules than the page). */
  personaRefusal: { status: number; body: unknown } | null = null;
  keys: Array<Record<string, any> & { uid: string }> = [];
  requests: Recorded[] = [];
  /** Seconds the next access tokens live. */
  tokenTtl = 3600;
  /** Makes every call throw, as an unreachable gateway does. */
  down = false;
  /** Delay between streamed words. */
  streamDelayMs = 0;
  /** The knowledge base behind `/api/v1/kb` (kb.md §5), for the web UI's /kb pages. */
  kb = new FakeKb();
  refreshCalls = 0;

  addUser(email: string, password: string, confirmed = true): FakeUser {
    const u = { id: crypto.randomUUID(), email, password, confirmed };
    this.users.set(email, u);
    return u;
  }

  private issue(u: FakeUser, sid: string = crypto.randomUUID()) {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + this.tokenTtl;
    const at = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: u.id, email: u.email, session_id: sid, exp })}.${Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url')}`;
    const rt = crypto.randomUUID().replace(/-/g, '');
    this.tokens.set(at, { uid: u.id, sid, exp });
    this.refreshTokens.set(rt, { uid: u.id, sid, used: false });
    const user = this.userJson(u);
    return {
      user,
      session: {
        access_token: at,
        token_type: 'bearer',
        expires_in: this.tokenTtl,
        expires_at: exp,
        refresh_token: rt,
        user,
      },
    };
  }

  userJson(u: FakeUser) {
    return {
      id: u.id,
      email: u.email,
      email_confirmed_at: u.confirmed ? '2025-08-01T12:00:00.000Z' : null,
      user_metadata: u.name ? { name: u.name } : {},
      app_metadata: { provider: 'email' },
    };
  }

  private caller(req: Request): FakeUser | null {
    const m = /^Bearer (.+)$/.exec(req.headers.get('authorization') ?? '');
    if (!m) return null;
    const t = this.tokens.get(m[1]!);
    if (!t || t.exp <= Date.now() / 1000 || this.revokedSessions.has(t.sid)) return null;
    return [...this.users.values()].find((u) => u.id === t.uid) ?? null;
  }

  readonly fetch = async (req: Request): Promise<Response> => {
    if (this.down) throw new TypeError('fetch failed: connection refused');
    const url = new URL(req.url);
    const body = req.body ? await req.text() : '';
    this.requests.push({ method: req.method, path: url.pathname + url.search, headers: req.headers, body });
    const j = body ? JSON.parse(body) : {};
    const p = url.pathname;
    const json = (v: unknown, status = 200, headers: Record<string, string> = {}) =>
      new Response(JSON.stringify(v), {
        status,
        headers: { 'content-type': 'application/json', ...headers },
      });

    if (p === '/health') return json({ status: 'healthy', services: {} });
    if (p === '/api/v1/auth/register') {
      if (!/^[^@\s]+@[^@\s]+\.[a-z]{2,}$/i.test(j.email ?? ''))
        return json({ detail: 'Please enter a valid email address' }, 400);
      if ((j.password ?? '').length < 6)
        return json({ detail: 'Password must be at least 6 characters long' }, 400);
      if (this.users.has(j.email)) return json({ detail: 'This email is already registered' }, 400);
      return json(this.issue(this.addUser(j.email, j.password)));
    }
    if (p === '/api/v1/auth/login') {
      const u = this.users.get(j.email);
      if (!u || u.password !== j.password)
        return json({ detail: 'Login failed: Invalid login credentials' }, 400);
      if (!u.confirmed) return json({ detail: 'Login failed: Email not confirmed' }, 400);
      return json(this.issue(u));
    }
    if (p === '/api/v1/auth/refresh') {
      this.refreshCalls++;
      const r = this.refreshTokens.get(j.refresh_token);
      if (!r || r.used || this.revokedSessions.has(r.sid))
        return json({ detail: 'Token refresh failed: Invalid Refresh Token' }, 400);
      r.used = true;
      const u = [...this.users.values()].find((x) => x.id === r.uid)!;
      return json(this.issue(u, r.sid));
    }
    if (p === '/api/v1/auth/logout') {
      const m = /^Bearer (.+)$/.exec(req.headers.get('authorization') ?? '');
      const t = m ? this.tokens.get(m[1]!) : undefined;
      if (t) this.revokedSessions.add(t.sid);
      return json({ message: 'Logged out successfully' });
    }
    if (p === '/api/v1/auth/validate') {
      // Auth's answer as data: the token's user when it is live (revocation included), else invalid.
      const t = typeof j.token === 'string' ? this.tokens.get(j.token) : undefined;
      const live = !!t && t.exp > Date.now() / 1000 && !this.revokedSessions.has(t.sid);
      return json(
        live
          ? { valid: true, auth_type: 'jwt', user_id: t!.uid, error: null }
          : {
              valid: false,
              auth_type: 'none',
              user_id: null,
              error: 'No valid authentication credentials provided',
            },
      );
    }
    if (p === '/api/v1/auth/resend-verification' || p === '/api/v1/auth/confirm')
      return json({ detail: 'Email confirmation is not enabled on this server' }, 400);

    const u = this.caller(req);
    if (!u) return json({ detail: 'Not authenticated. Provide a valid JWT or API Key.' }, 401);

    if (p.startsWith('/api/v1/kb/')) return this.kb.handle(u, req.method, url, j);
    if (p === '/api/v1/auth/user' && req.method === 'PATCH') {
      u.name = j.name;
      return json(this.userJson(u));
    }
    if (p === '/api/v1/auth/api-keys' && req.method === 'POST') {
      const key = `gaia_dev_${crypto.randomUUID().replace(/-/g, '')}`;
      const row = {
        id: crypto.randomUUID(),
        uid: u.id,
        name: j.name,
        prefix: key.slice(0, 13),
        created_at: new Date().toISOString(),
        expires_at: j.expires_in_days
          ? new Date(Date.now() + j.expires_in_days * 86400_000).toISOString()
          : null,
        last_used_at: null,
        is_active: true,
        revoked_at: null,
      };
      this.keys.push(row);
      const { uid: _u, ...rest } = row;
      return json({ ...rest, key }, 201);
    }
    if (p === '/api/v1/auth/api-keys')
      return json({ api_keys: this.keys.filter((k) => k.uid === u.id).map(({ uid: _u, ...k }) => k) });
    const keyM = /^\/api\/v1\/auth\/api-keys\/(.+)$/.exec(p);
    if (keyM && req.method === 'DELETE') {
      const k = this.keys.find((x) => x.id === keyM[1] && x.uid === u.id);
      if (!k) return json({ detail: 'API key not found' }, 404);
      k.is_active = false;
      k.revoked_at = new Date().toISOString();
      return new Response(null, { status: 204 });
    }

    const mine = () =>
      [...this.conversations.values()]
        .filter((c) => c.uid === u.id && !c.deleted)
        .sort((a, b) => b.updated_at.localeCompare(a.updated_at));
    const pub = (c: Conv) => ({
      id: c.id,
      title: c.title,
      preview: c.preview,
      created_at: c.created_at,
      updated_at: c.updated_at,
    });
    if (p === '/api/v1/conversations/stats')
      return json({
        total_conversations: mine().length,
        total_messages: mine().reduce((n, c) => n + c.messages.length, 0),
      });
    if (p === '/api/v1/conversations' && req.method === 'POST') {
      const now = new Date().toISOString();
      const c: Conv = {
        id: crypto.randomUUID(),
        uid: u.id,
        title: j.title || 'New Conversation',
        preview: '',
        created_at: now,
        updated_at: now,
        deleted: false,
        messages: [],
      };
      this.conversations.set(c.id, c);
      return json(pub(c), 201);
    }
    if (p === '/api/v1/conversations') {
      const q = (url.searchParams.get('q') ?? '').toLowerCase();
      const all = mine().filter(
        (c) =>
          !q ||
          c.title.toLowerCase().includes(q) ||
          c.messages.some((m) => m.content.toLowerCase().includes(q)),
      );
      const limit = Number(url.searchParams.get('limit') ?? 100);
      const offset = Number(url.searchParams.get('offset') ?? 0);
      return json({ conversations: all.slice(offset, offset + limit).map(pub) }, 200, {
        'x-total-count': String(all.length),
      });
    }
    const convM = /^\/api\/v1\/conversations\/([^/]+)(\/messages)?$/.exec(p);
    if (convM) {
      const c = this.conversations.get(convM[1]!);
      if (!c || c.deleted || c.uid !== u.id)
        return json({ detail: `Conversation ${convM[1]} not found` }, 404);
      if (req.method === 'DELETE') {
        c.deleted = true;
        return new Response(null, { status: 204 });
      }
      return convM[2] ? json({ messages: c.messages }) : json(pub(c));
    }
    if (p === '/api/v0.3/chat') {
      let c = j.conversation_id ? this.conversations.get(j.conversation_id) : undefined;
      if (j.conversation_id && (!c || c.deleted || c.uid !== u.id))
        return json({ detail: `Conversation ${j.conversation_id} not found` }, 404);
      if (!c) {
        const now = new Date().toISOString();
        c = {
          id: crypto.randomUUID(),
          uid: u.id,
          title: j.message,
          preview: '',
          created_at: now,
          updated_at: now,
          deleted: false,
          messages: [],
        };
        this.conversations.set(c.id, c);
      }
      const conv = c;
      conv.messages.push({
        id: crypto.randomUUID(),
        role: 'user',
        content: j.message,
        created_at: new Date().toISOString(),
        status: 'complete',
      });
      const words = `Reply to: ${j.message}`.split(/(?<=\s)/);
      const fail = String(j.message).includes('[[fail]]');
      const delay = this.streamDelayMs;
      const enc = new TextEncoder();
      const stream = new ReadableStream<Uint8Array>({
        async start(ctrl) {
          const send = (v: unknown) =>
            ctrl.enqueue(enc.encode(`data: ${typeof v === 'string' ? v : JSON.stringify(v)}\n\n`));
          send({ type: 'metadata', conversation_id: conv.id, model: 'unified-chat', timestamp: 1 });
          let text = '';
          for (const [i, w] of words.entries()) {
            if (fail && i === 2) {
              send({
                type: 'error',
                error: { message: 'The language model provider failed.', type: 'provider_error' },
              });
              send({ type: 'done', finish_reason: 'error' });
              send('[DONE]');
              ctrl.close();
              return;
            }
            if (delay) await Bun.sleep(delay);
            text += w;
            send({ type: 'content', content: w });
          }
          conv.messages.push({
            id: crypto.randomUUID(),
            role: 'assistant',
            content: text,
            created_at: new Date().toISOString(),
            status: 'complete',
          });
          conv.preview = text.slice(0, 100);
          conv.updated_at = new Date().toISOString();
          send({ type: 'done', finish_reason: 'stop' });
          send('[DONE]');
          ctrl.close();
        },
      });
      return new Response(stream, { headers: { 'content-type': 'text/event-stream; charset=utf-8' } });
    }
    if (p === '/api/v0.2/personas/current') {
      const id = this.current.get(u.id) ?? 'persona-mu';
      return json({ success: true, persona: this.personas.find((x) => x.id === id) ?? this.personas[0] });
    }
    if (p === '/api/v0.2/personas/set') {
      const persona = this.personas.find((x) => x.id === j.persona_id);
      if (!persona) return json({ detail: `Persona not found: ${j.persona_id}` }, 404);
      this.current.set(u.id, persona.id);
      return json({ success: true, persona_id: persona.id, persona_name: persona.name });
    }
    // The chat service's own rule for `tools`, so the web UI meets the same 422s as against the real one.
    const toolsOf = (v: unknown): { tools?: string[] | null; error?: Response } => {
      if (this.personaRefusal) return { error: json(this.personaRefusal.body, this.personaRefusal.status) };
      try {
        return { tools: checkPersonaTools(v) };
      } catch (err) {
        if (err instanceof HttpError) return { error: json(err.body, err.status) };
        throw err;
      }
    };
    if (p === '/api/v0.2/personas' && req.method === 'POST') {
      if (this.personas.some((x) => x.name.toLowerCase() === String(j.name).toLowerCase()))
        return json({ detail: `Persona name already exists: ${j.name}` }, 409);
      const { tools, error } = toolsOf(j.tools);
      if (error) return error;
      const persona = {
        id: crypto.randomUUID(),
        name: j.name,
        description: j.description,
        system_prompt: j.system_prompt,
        created_by: u.id,
        personality_traits: {},
        tools: tools ?? null,
      };
      this.personas.unshift(persona);
      return json({ success: true, persona });
    }
    if (p === '/api/v0.2/personas')
      return json({ success: true, personas: this.personas, total: this.personas.length });
    const perM = /^\/api\/v0\.2\/personas\/(.+)$/.exec(p);
    if (perM && req.method === 'GET') {
      const persona = this.personas.find((x) => x.id === perM[1]);
      if (!persona) return json({ detail: `Persona not found: ${perM[1]}` }, 404);
      return json({ success: true, message: 'Persona retrieved successfully', persona });
    }
    if (perM && req.method === 'PUT') {
      const persona = this.personas.find((x) => x.id === perM[1]);
      if (!persona) return json({ detail: `Persona not found: ${perM[1]}` }, 404);
      if (persona.created_by !== u.id) return json({ detail: 'Not allowed to modify this persona' }, 403);
      const { tools, error } = toolsOf(j.tools);
      if (error) return error;
      if (
        typeof j.name === 'string' &&
        this.personas.some((x) => x !== persona && x.name.toLowerCase() === j.name.toLowerCase())
      )
        return json({ detail: `Persona name already exists: ${j.name}` }, 409);
      for (const k of ['name', 'description', 'system_prompt'] as const)
        if (typeof j[k] === 'string') persona[k] = j[k];
      if (tools !== undefined) persona.tools = tools;
      return json({ success: true, message: 'Persona updated successfully', persona });
    }
    if (perM && req.method === 'DELETE') {
      const i = this.personas.findIndex((x) => x.id === perM[1]);
      if (i < 0) return json({ detail: `Persona not found: ${perM[1]}` }, 404);
      if (this.personas[i]!.created_by !== u.id)
        return json({ detail: 'Not allowed to modify this persona' }, 403);
      this.personas.splice(i, 1);
      return json({ success: true, persona_id: perM[1] });
    }
    if (p === '/api/v0.2/models')
      return json({ models: [{ id: 'gaia-local', provider: 'local' }], total: 1 });
    return json({ detail: 'Not Found' }, 404);
  };
}

export interface FakeCommit {
  sha: string;
  author: string;
  email: string;
  date: string;
  message: string;
}

/**
 * A small knowledge base with the JSON shapes and access answers of kb.md §3 and §5: the caller's own
 * `users/<id>/` is writable, `shared/` and the root are readable, other users' folders are forbidden
 * (403 whether or not the file exists), teams follow `teams` roles. Versions are Git blob ids.
 */
export class FakeKb {
  files = new Map<string, string>();
  commits = new Map<string, FakeCommit[]>();
  teams = new Map<string, string>();
  /** Set to answer every call with this status (e.g. 503 while cloning). */
  failWith: number | null = null;

  static blobSha(content: string): string {
    const bytes = Buffer.from(content, 'utf8');
    const h = new Bun.CryptoHasher('sha1');
    h.update(`blob ${bytes.length}\0`);
    h.update(bytes);
    return h.digest('hex');
  }

  /** Writes a file as a commit by `author` (test set-up, or a change made "by someone else"). */
  put(path: string, content: string, author = 'Seed Bot', message = 'seed'): FakeCommit {
    this.files.set(path, content);
    const commit = {
      sha: FakeKb.blobSha(`${path}\n${content}\n${Math.random()}`),
      author,
      email: `${author.toLowerCase().replace(/\s+/g, '.')}@example.com`,
      date: new Date().toISOString(),
      message,
    };
    this.commits.set(path, [commit, ...(this.commits.get(path) ?? [])]);
    return commit;
  }

  private badPath(path: string): string | null {
    if (/%[0-9a-f]{2}/i.test(path)) return 'Encoded characters are not allowed in paths';
    if (/[\u0000-\u001f\\:*?"<>|]/.test(path)) return 'forbidden character';
    const segs = path.replace(/\/+$/, '').split('/');
    for (const s of segs) {
      if (s === '..' || s === '.') return s;
      if (s === '') return 'empty segment';
      if (s.startsWith('.')) return 'hidden segment';
    }
    return null;
  }

  private can(uid: string, path: string): { read: boolean; write: boolean } {
    const segs = path.split('/');
    if (segs[0] === 'users' && segs.length >= 2 && segs[1] !== '') {
      const mine = segs[1] === uid;
      return { read: mine, write: mine };
    }
    if (segs[0] === 'teams' && segs.length >= 2 && segs[1] !== '') {
      const role = this.teams.get(segs[1]!);
      return { read: !!role, write: !!role && role !== 'viewer' };
    }
    return { read: true, write: false };
  }

  private parse(path: string, raw: string) {
    let frontmatter: Record<string, unknown> = {};
    let content = raw;
    const m = /^---\r?\n([\s\S]*?)\r?\n(?:---|\.\.\.)\r?\n?/.exec(raw);
    if (path.endsWith('.md') && m) {
      try {
        const y = parseYaml(m[1]!);
        if (y && typeof y === 'object' && !Array.isArray(y)) {
          frontmatter = y as Record<string, unknown>;
          content = raw.slice(m[0].length);
        }
      } catch {
        // bad YAML: the whole file is the body
      }
    }
    const name = path.slice(path.lastIndexOf('/') + 1);
    const heading = /^# (.+)$/m.exec(content)?.[1];
    const title =
      typeof frontmatter.title === 'string' ? frontmatter.title : (heading ?? name.replace(/\.[^.]+$/, ''));
    const tags = [...content.matchAll(/(?:^|[\s(])#([A-Za-z0-9_-]+)/g)].map((x) => x[1]!);
    const keywords = [...new Set([...tags, ...(Array.isArray(frontmatter.tags) ? frontmatter.tags : [])])];
    return { frontmatter, content, title, keywords: keywords.map(String) };
  }

  private fileObject(path: string, raw: string, includeRaw: boolean) {
    const p = this.parse(path, raw);
    return {
      path,
      namespace: path.startsWith('users/') ? path.split('/').slice(0, 2).join('/') : 'root',
      title: p.title,
      frontmatter: p.frontmatter,
      content: p.content,
      keywords: p.keywords,
      wiki_links: [...p.content.matchAll(/\[\[([^\]|#]+)/g)].map((x) => x[1]!),
      size: Buffer.byteLength(raw),
      modified: this.commits.get(path)?.[0]?.date ?? new Date().toISOString(),
      is_index: /(^|\/)\+[^/]*\.md$/.test(path),
      sha: FakeKb.blobSha(raw),
      ...(includeRaw ? { raw_content: raw } : {}),
    };
  }

  handle(u: FakeUser, method: string, url: URL, j: any): Response {
    const json = (v: unknown, status = 200) =>
      new Response(JSON.stringify(v), { status, headers: { 'content-type': 'application/json' } });
    if (this.failWith) return json({ detail: 'Knowledge base is starting' }, this.failWith);
    const route = url.pathname.slice('/api/v1/kb'.length);
    const clean = (raw: string) => raw.replace(/^\/kb\//, '/').replace(/^\/+/, '');
    const invalid = (why: string) => json({ detail: `Invalid path: ${why}` }, 400);
    const forbidden = (action: string, path: string) =>
      json({ detail: `Forbidden: no ${action} access to ${path}` }, 403);

    if (route === '/me')
      return json({
        user_id: u.id,
        admin: false,
        namespaces: [
          { path: `users/${u.id}/`, access: ['read', 'write', 'delete', 'share'] },
          { path: 'shared/', access: ['read'] },
          ...[...this.teams].map(([t, role]) => ({
            path: `teams/${t}/`,
            access: role === 'viewer' ? ['read'] : ['read', 'write', 'delete'],
          })),
        ],
        teams: [...this.teams].map(([name, role]) => ({ name, role })),
        workspaces: [],
      });

    if (route === '/list') {
      const dir = clean(url.searchParams.get('path') ?? '/').replace(/\/+$/, '');
      if (dir) {
        const bad = this.badPath(dir);
        if (bad) return invalid(bad);
        if (!this.can(u.id, `${dir}/x`).read) return forbidden('read', dir);
      }
      const prefix = dir ? `${dir}/` : '';
      const dirs = new Map<string, string>();
      const files: any[] = [];
      for (const [path, raw] of this.files) {
        if (!path.startsWith(prefix)) continue;
        const rest = path.slice(prefix.length).split('/');
        if (rest.length > 1) {
          const d = prefix + rest[0]!;
          if (this.can(u.id, `${d}/x`).read || d === 'users' || d === 'teams') dirs.set(rest[0]!, d);
        } else if (this.can(u.id, path).read) {
          const f = this.fileObject(path, raw, false);
          files.push({ name: rest[0], path, size: f.size, modified: f.modified, is_index: f.is_index });
        }
      }
      if (dir && dirs.size === 0 && files.length === 0) return json({ detail: `Not found: ${dir}` }, 404);
      return json({
        path: dir,
        directories: [...dirs].sort().map(([name, path]) => ({ name, path })),
        files: files.sort((a, b) => a.name.localeCompare(b.name)),
      });
    }

    if (route === '/access') {
      const path = clean(url.searchParams.get('path') ?? '');
      const bad = this.badPath(path);
      if (bad) return invalid(bad);
      const c = this.can(u.id, path);
      return json({
        path,
        namespace: path.split('/')[0] === 'users' ? path.split('/').slice(0, 2).join('/') : 'root',
        can: {
          read: c.read,
          list: c.read,
          search: c.read,
          write: c.write,
          move: c.write,
          delete: c.write,
          share: c.write,
        },
      });
    }

    if (route === '/history') {
      const path = clean(url.searchParams.get('path') ?? '');
      if (path && !this.can(u.id, path).read) return forbidden('read', path);
      const limit = Number(url.searchParams.get('limit') ?? 20);
      return json({ commits: (this.commits.get(path) ?? []).slice(0, limit) });
    }

    if (route === '/search') {
      const q = url.searchParams.get('q') ?? '';
      if (!q.trim()) return json({ detail: 'Query must not be empty' }, 400);
      if (q.length > 500) return json({ detail: 'Query is longer than 500 characters' }, 400);
      const terms = [
        ...new Set(
          q
            .toLowerCase()
            .split(/[^\p{L}\p{N}]+/u)
            .filter(Boolean),
        ),
      ];
      const scope = url.searchParams.get('contexts');
      if (scope && !this.can(u.id, `${clean(scope)}/x`).read) return forbidden('read', clean(scope));
      const run = (mode: 'all' | 'any') => {
        const hits: any[] = [];
        for (const [path, raw] of this.files) {
          if (!path.endsWith('.md') || !this.can(u.id, path).read) continue;
          if (scope && !path.startsWith(`${clean(scope).replace(/\/+$/, '')}/`)) continue;
          const p = this.parse(path, raw);
          const words = p.content.toLowerCase().split(/[^\p{L}\p{N}]+/u);
          const matched = terms.filter((t) => words.includes(t));
          if (mode === 'all' ? matched.length < terms.length : matched.length === 0) continue;
          const lines = p.content.split('\n');
          let best = 0;
          let bestCount = -1;
          lines.forEach((line, i) => {
            const lw = line.toLowerCase().split(/[^\p{L}\p{N}]+/u);
            const n = lw.filter((w) => matched.includes(w)).length;
            if (n > bestCount) {
              best = i;
              bestCount = n;
            }
          });
          const score = words.filter((w) => matched.includes(w)).length;
          hits.push({
            path,
            namespace: 'root',
            context: path.includes('/') ? path.split('/')[0] : null,
            title: p.title,
            score,
            line_number: best + 1,
            excerpt: lines[best]!.slice(0, 200),
            matched_terms: matched,
            keywords: p.keywords,
            modified: new Date().toISOString(),
          });
        }
        return hits.sort((a, b) => b.score - a.score || a.path.localeCompare(b.path));
      };
      let match: 'all' | 'any' = 'all';
      let hits = run('all');
      if (hits.length === 0) {
        match = 'any';
        hits = run('any');
      }
      const limit = Number(url.searchParams.get('limit') ?? 20);
      const offset = Number(url.searchParams.get('offset') ?? 0);
      return json({
        query: q,
        match,
        total: hits.length,
        limit,
        offset,
        took_ms: 1,
        results: hits.slice(offset, offset + limit),
      });
    }

    if (route.startsWith('/files/')) {
      let path: string;
      try {
        path = clean(decodeURIComponent(route.slice('/files/'.length)));
      } catch {
        return invalid('bad encoding');
      }
      if (!path) return invalid('empty');
      const bad = this.badPath(path);
      if (bad) return invalid(bad);
      const c = this.can(u.id, path);
      if (method === 'PUT') {
        if (!c.write) return forbidden('write', path);
        const current = this.files.get(path);
        const currentSha = current === undefined ? null : FakeKb.blobSha(current);
        if (j.expected_sha !== undefined && j.expected_sha !== currentSha)
          return json({ detail: 'File changed since it was read', current_sha: currentSha }, 409);
        if (current === j.content)
          return json({ path, action: 'unchanged', commit: null, sha: currentSha, warnings: [] });
        const commit = this.put(path, String(j.content), u.name ?? u.email, j.message ?? 'via Gaia API');
        return json(
          {
            path,
            action: current === undefined ? 'create' : 'update',
            commit: commit.sha,
            sha: FakeKb.blobSha(String(j.content)),
            warnings: [],
          },
          current === undefined ? 201 : 200,
        );
      }
      if (!c.read) return forbidden('read', path);
      const raw = this.files.get(path);
      if (raw === undefined) return json({ detail: `File not found: ${path}` }, 404);
      return json(this.fileObject(path, raw, url.searchParams.get('include') === 'raw'));
    }
    return json({ detail: 'Not Found' }, 404);
  }
}
