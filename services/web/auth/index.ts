/**
 * Sign-in, registration, email confirmation and logout. Every call
 * is an ordinary gateway call; the session cookie is set only after a real login.
 */
import { Elysia } from 'elysia';
import { detailOf, htmlAnswer, isLocalPath, json, readForm, redirect, type WebContext } from '../context.ts';
import { GatewayUnreachable } from '../gateway-client.ts';
import type { Html } from '../html.ts';
import type { Kit } from '../kit.ts';
import { authLayout, box, documentPage } from '../layout.ts';
import type { AuthResponse } from '../session/service.ts';
import {
  authFormContainer,
  authPage,
  checkEmailPanel,
  confirmProcessingPage,
  confirmResultPage,
  loginSuccess,
  registeredPanel,
  resendPanel,
  unverifiedPanel,
  verificationPage,
} from './views.ts';

const DEV_EMAIL = 'dev@gaia.local';
const DEV_PASSWORD = 'testtest';

type Outcome =
  | { kind: 'ok'; auth: AuthResponse }
  | { kind: 'unverified' }
  | { kind: 'error'; message: string };

/** Maps a registration failure to the text the user sees. */
export function registerErrorText(status: number, detail: string): string {
  const d = detail.toLowerCase();
  if (status === 429 || d.includes('too many')) return 'Too many attempts. Please try again later.';
  if (d.includes('valid email')) return 'Please enter a valid email address.';
  const min = /at least (\d+) characters/.exec(d);
  if (min) return `Password must be at least ${min[1]} characters long.`;
  if (d.includes('already registered')) return 'This email is already registered. Please login instead.';
  if (d.includes('email domain'))
    return 'Registration is not allowed for this email domain. Please use a different email.';
  if (status === 503) return 'Connection error. Please try again.';
  return 'Registration failed. Please check your email and password.';
}

export function loginErrorText(status: number): string {
  if (status === 400 || status === 401) return 'Invalid email or password';
  if (status === 503) return 'Connection error. Please try again.';
  if (status === 429) return 'Too many attempts. Please try again later.';
  return 'Login failed. Please try again.';
}

async function callLogin(ctx: WebContext, email: string, password: string): Promise<Outcome> {
  let res: Response;
  let body: any;
  try {
    ({ res, body } = await ctx.apiJson<any>('/api/v1/auth/login', {
      json: { email, password },
      auth: false,
    }));
  } catch (err) {
    if (err instanceof GatewayUnreachable) return { kind: 'error', message: loginErrorText(503) };
    throw err;
  }
  if (res.ok && body?.user) {
    if (body.user.email_confirmed_at === null) return { kind: 'unverified' };
    return { kind: 'ok', auth: body as AuthResponse };
  }
  if (res.status === 400 && detailOf(body).includes('Email not confirmed')) return { kind: 'unverified' };
  return { kind: 'error', message: loginErrorText(res.status) };
}

export function authRoutes(kit: Kit) {
  const { config } = kit.s;
  const page = (body: Html, noHistory = false) =>
    htmlAnswer(documentPage(body, { debug: config.debug, noHistory }));

  /** The login form again, with the email kept and a box above it. */
  const loginFailure = (ctx: WebContext, email: string, next: string | undefined, message: string) =>
    ctx.isHtmx
      ? htmlAnswer(authFormContainer('login', { email, next, error: message }))
      : page(authPage('login', { email, next, error: message, debug: config.debug }));

  const login = async (ctx: WebContext, emailIn: string, password: string, nextIn: string | undefined) => {
    const email = emailIn.trim().toLowerCase();
    const next = isLocalPath(nextIn) ? nextIn : undefined;
    if (!email || !password) return loginFailure(ctx, email, next, 'Invalid email or password');
    const outcome = await callLogin(ctx, email, password);
    if (outcome.kind === 'unverified') {
      const panel = unverifiedPanel(email);
      return ctx.isHtmx ? htmlAnswer(panel) : page(authLayout(panel));
    }
    if (outcome.kind === 'error') return loginFailure(ctx, email, next, outcome.message);
    const session = kit.s.sessions.fromAuth(outcome.auth);
    if (!session) return loginFailure(ctx, email, next, 'Login failed. Please try again.');
    await ctx.setSession(session);
    const target = next ?? '/chat';
    if (!ctx.isHtmx) return redirect(target);
    return htmlAnswer(loginSuccess(), { headers: { 'hx-redirect': target } });
  };

  const register = async (ctx: WebContext) => {
    const form = await readForm(ctx.request);
    const email = (form.email ?? '').trim().toLowerCase();
    const password = form.password ?? '';
    const fail = (message: string) =>
      ctx.isHtmx
        ? htmlAnswer(authFormContainer('register', { email, error: message }))
        : page(authPage('register', { email, error: message }));
    if (!email) return fail('Please enter a valid email address.');
    if (!password) return fail('Password must be at least 6 characters long.');
    let res: Response;
    let body: any;
    try {
      ({ res, body } = await ctx.apiJson<any>('/api/v1/auth/register', {
        json: { email, password },
        auth: false,
      }));
    } catch (err) {
      if (err instanceof GatewayUnreachable) return fail('Connection error. Please try again.');
      throw err;
    }
    if (!res.ok || !body?.user) return fail(registerErrorText(res.status, detailOf(body)));
    const confirmed = !!body.user.email_confirmed_at || !!body.session;
    const panel = confirmed ? registeredPanel(email) : checkEmailPanel(email);
    if (ctx.isHtmx) return htmlAnswer(panel);
    if (!confirmed) return redirect(`/email-verification?email=${encodeURIComponent(email)}`);
    return redirect(`/login?email=${encodeURIComponent(email)}`);
  };

  return new Elysia({ name: 'gaia-web-auth' })
    .get(
      '/',
      kit.handler('public', (ctx) => redirect(ctx.session ? '/chat' : '/login')),
    )
    .get(
      '/login',
      kit.handler('public', (ctx) => {
        if (ctx.session) return redirect('/chat');
        const q = ctx.url.searchParams;
        const next = q.get('next');
        return page(
          authPage('login', {
            email: q.get('email') ?? '',
            next: isLocalPath(next) ? next : undefined,
            verified: q.get('verified') === 'true',
            debug: config.debug,
          }),
        );
      }),
    )
    .get(
      '/register',
      kit.handler('public', () => page(authPage('register'))),
    )
    .get(
      '/email-verification',
      kit.handler('public', (ctx) => page(verificationPage(ctx.url.searchParams.get('email') ?? ''))),
    )
    .post(
      '/auth/login',
      kit.handler('public', async (ctx) => {
        const form = await readForm(ctx.request);
        return login(ctx, form.email ?? '', form.password ?? '', form.next);
      }),
      { parse: 'none' },
    )
    .post('/auth/register', kit.handler('public', register), { parse: 'none' })
    .post('/auth/signup', kit.handler('public', register), { parse: 'none' })
    .post(
      '/auth/resend-verification',
      kit.handler('public', async (ctx) => {
        const form = await readForm(ctx.request);
        const email = (form.email ?? '').trim().toLowerCase();
        let result: Html;
        try {
          const { res, body } = await ctx.apiJson('/api/v1/auth/resend-verification', {
            json: { email },
            auth: false,
          });
          result = res.ok
            ? box('info', `ℹ️ Verification email sent to ${email}`, null, 'status')
            : box('error', detailOf(body) || 'Failed to resend verification email. Please try again.');
        } catch (err) {
          if (!(err instanceof GatewayUnreachable)) throw err;
          result = box('error', 'Connection error. Please try again.');
        }
        const target = ctx.request.headers.get('hx-target');
        return htmlAnswer(target === 'auth-form-container' ? resendPanel(result) : result);
      }),
      { parse: 'none' },
    )
    .get(
      '/auth/confirm',
      kit.handler('public', async (ctx) => {
        const q = ctx.url.searchParams;
        const token = q.get('token');
        const tokenHash = q.get('token_hash');
        const email = q.get('email') ?? '';
        if (!token && !tokenHash) return page(confirmProcessingPage());
        const payload = tokenHash
          ? { token_hash: tokenHash, type: q.get('type') ?? 'signup' }
          : { token, email };
        const { res, body } = await ctx.apiJson('/api/v1/auth/confirm', { json: payload, auth: false });
        if (res.ok) {
          const confirmedEmail = (body as any)?.user?.email ?? email;
          return redirect(`/login?verified=true&email=${encodeURIComponent(confirmedEmail)}`);
        }
        if (detailOf(body).toLowerCase().includes('already confirmed'))
          return page(confirmResultPage('Email is already confirmed.', true));
        return page(confirmResultPage('Confirmation link is expired or invalid.', false));
      }),
    )
    .post(
      '/auth/dev-login',
      kit.handler('public', async (ctx) => {
        if (!config.debug) return kit.notFoundPage(!!ctx.session);
        const form = await readForm(ctx.request);
        return login(ctx, form.email || DEV_EMAIL, DEV_PASSWORD, form.next);
      }),
      { parse: 'none' },
    )
    .get('/logout', kit.handler('public', logout))
    .post('/logout', kit.handler('public', logout), { parse: 'none' })
    .post(
      '/api/v1/auth/login',
      kit.handler('public', (ctx) => passThrough(ctx, '/api/v1/auth/login')),
      { parse: 'none' },
    )
    .post(
      '/api/v1/auth/register',
      kit.handler('public', (ctx) => passThrough(ctx, '/api/v1/auth/register')),
      { parse: 'none' },
    );
}

async function logout(ctx: WebContext): Promise<Response> {
  const s = ctx.session;
  if (s) {
    try {
      // One direct call: a refresh here would only create a session to revoke.
      const res = await ctx.app.gateway.fetch(
        new Request('http://gateway.internal/api/v1/auth/logout', {
          method: 'POST',
          headers: {
            authorization: `Bearer ${s.at}`,
            'content-type': 'application/json',
            'x-forwarded-for': ctx.ip,
            'x-request-id': ctx.rid,
          },
          body: '{}',
        }),
      );
      await res.body?.cancel();
    } catch (err) {
      ctx.app.log.warn('logout call failed', { rid: ctx.rid, error: err });
    }
    // Final on this instance at once, whatever auth answered; other instances ask auth.
    ctx.app.sessions.markEnded(s);
  }
  ctx.endSession();
  return redirect('/login');
}

/** The JSON login and register helpers: the gateway's answer as is. */
async function passThrough(ctx: WebContext, path: string): Promise<Response> {
  let body: Record<string, unknown> | null = null;
  try {
    body = (await ctx.request.json()) as Record<string, unknown>;
  } catch {
    body = null;
  }
  const email = body?.email;
  const password = body?.password;
  if (typeof email !== 'string' || !email || typeof password !== 'string' || !password)
    return json({ detail: 'Email and password are required' }, 400);
  const res = await ctx.api(path, { json: { ...body, email: email.trim().toLowerCase() }, auth: false });
  return new Response(await res.arrayBuffer(), {
    status: res.status,
    headers: { 'content-type': res.headers.get('content-type') ?? 'application/json' },
  });
}
