/**
 * A small in-memory stand-in for the gateway, speaking the shapes of spec/auth.md, spec/chat.md §2.3 and
 * §4, for server-side tests of the web UI's routing, sessions and cookies. Browser tests use the real stack.
 */

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
    created_by: string;
    personality_traits: Record<string, boolean>;
  }> = [
    {
      id: 'persona-mu',
      name: 'Mu',
      description: 'A cheerful robot',
      created_by: 'system',
      personality_traits: { cheerful: true },
    },
  ];
  current = new Map<string, string>();
  keys: Array<Record<string, any> & { uid: string }> = [];
  requests: Recorded[] = [];
  /** Seconds the next access tokens live. */
  tokenTtl = 3600;
  /** Makes every call throw, as an unreachable gateway does. */
  down = false;
  /** Delay between streamed words. */
  streamDelayMs = 0;
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
    if (p === '/api/v1/auth/resend-verification' || p === '/api/v1/auth/confirm')
      return json({ detail: 'Email confirmation is not enabled on this server' }, 400);

    const u = this.caller(req);
    if (!u) return json({ detail: 'Not authenticated. Provide a valid JWT or API Key.' }, 401);

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
    if (p === '/api/v0.2/personas' && req.method === 'POST') {
      if (this.personas.some((x) => x.name.toLowerCase() === String(j.name).toLowerCase()))
        return json({ detail: `Persona name already exists: ${j.name}` }, 409);
      const persona = {
        id: crypto.randomUUID(),
        name: j.name,
        description: j.description,
        created_by: u.id,
        personality_traits: {},
      };
      this.personas.unshift(persona);
      return json({ success: true, persona });
    }
    if (p === '/api/v0.2/personas')
      return json({ success: true, personas: this.personas, total: this.personas.length });
    const perM = /^\/api\/v0\.2\/personas\/(.+)$/.exec(p);
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
