/**
 * Local email confirmation (GAIA_AUTH_REQUIRE_EMAIL_CONFIRMATION=true): register answers without a
 * session, the development mailer logs the link and code, login waits for confirmation, and confirm /
 * resend-verification work with either the link's token_hash or the code.
 */
import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { dropTestDatabases, testBackends } from '../support/backends.ts';
import { type StackHandle, startStack } from '../support/stack.ts';

const WEB = 'http://web.example.test:8080';
afterAll(dropTestDatabases);

describe('local provider with email confirmation', () => {
  let h: StackHandle;
  const post = (path: string, body: unknown) =>
    h.fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  /** The last confirmation mail the development mailer logged for this address. */
  const lastMail = (email: string) => {
    const line = h.logs
      .map((l) => JSON.parse(l) as Record<string, any>)
      .filter((l) => l.to === email && typeof l.link === 'string')
      .at(-1);
    if (!line) throw new Error(`no mail for ${email}`);
    return { link: new URL(line.link as string), code: line.code as string };
  };

  beforeAll(async () => {
    h = await startStack({
      databaseUrl: await testBackends()[0]!.databaseUrl(),
      env: {
        GAIA_AUTH_REQUIRE_EMAIL_CONFIRMATION: 'true',
        WEB_SERVICE_BASE_URL: WEB,
        GAIA_AUTH_RATE_LIMIT: '1000/minute',
      },
    });
  });
  afterAll(async () => {
    await h?.stop();
  });

  test('register → no session, link under WEB_SERVICE_BASE_URL → login refused → confirm by link → login', async () => {
    const res = await post('/api/v1/auth/register', {
      email: 'mail@example.com',
      password: 'confirm me 1',
      redirect_to: 'https://evil.example/',
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as any;
    expect(body.session).toBeNull();
    expect(body.user).toMatchObject({
      email: 'mail@example.com',
      email_confirmed_at: null,
      confirmed_at: null,
    });
    const { link } = lastMail('mail@example.com');
    expect(`${link.origin}${link.pathname}`).toBe(`${WEB}/auth/confirm`);
    expect(link.searchParams.get('type')).toBe('signup');

    const early = await post('/api/v1/auth/login', { email: 'mail@example.com', password: 'confirm me 1' });
    expect([early.status, await early.json()]).toEqual([
      400,
      { detail: 'Login failed: Email not confirmed' },
    ]);
    // The wrong password still says only "invalid credentials".
    const wrong = await post('/api/v1/auth/login', { email: 'mail@example.com', password: 'nope nope' });
    expect(await wrong.json()).toEqual({ detail: 'Login failed: Invalid login credentials' });

    const tokenHash = link.searchParams.get('token_hash')!;
    const tampered = `${tokenHash.slice(0, -2)}xx`;
    const bad = await post('/api/v1/auth/confirm', { token_hash: tampered });
    expect([bad.status, await bad.json()]).toEqual([
      400,
      { detail: 'Confirmation link is expired or invalid' },
    ]);
    const ok = await post('/api/v1/auth/confirm', { token_hash: tokenHash });
    expect(ok.status).toBe(200);
    const confirmed = (await ok.json()) as any;
    expect(confirmed.message).toBe('Email confirmed successfully');
    expect(confirmed.user.email_confirmed_at).toEqual(expect.any(String));
    const again = await post('/api/v1/auth/confirm', { token_hash: tokenHash });
    expect([again.status, await again.json()]).toEqual([400, { detail: 'Email is already confirmed' }]);
    const login = await post('/api/v1/auth/login', { email: 'mail@example.com', password: 'confirm me 1' });
    expect(login.status).toBe(200);
  });

  test('resend-verification sends a new code; confirm by code; resend is limited and refuses unknown or confirmed addresses', async () => {
    await post('/api/v1/auth/register', { email: 'code@example.com', password: 'confirm me 2' });
    const first = lastMail('code@example.com');
    const resend = await post('/api/v1/auth/resend-verification', { email: 'Code@example.com' });
    expect([resend.status, await resend.json()]).toEqual([
      200,
      {
        message: 'Verification email sent to code@example.com',
        result: { user: null, session: null, message_id: null },
      },
    ]);
    const limited = await post('/api/v1/auth/resend-verification', { email: 'code@example.com' });
    expect([limited.status, await limited.json()]).toEqual([
      429,
      { detail: 'Too many requests. Please wait before requesting another email' },
    ]);
    const unknown = await post('/api/v1/auth/resend-verification', { email: 'nobody@example.com' });
    expect([unknown.status, await unknown.json()]).toEqual([400, { detail: 'Email address not found' }]);
    const wrongCode = first.code === '000000' ? '000001' : '000000';
    const bad = await post('/api/v1/auth/confirm', { token: wrongCode, email: 'code@example.com' });
    expect([bad.status, await bad.json()]).toEqual([
      400,
      { detail: 'Confirmation link is expired or invalid' },
    ]);
    const ok = await post('/api/v0.3/auth/confirm', {
      token: lastMail('code@example.com').code,
      email: 'code@example.com',
    });
    expect(ok.status).toBe(200);
    const confirmedResend = await post('/api/v1/auth/resend-verification', { email: 'mail@example.com' });
    expect([confirmedResend.status, await confirmedResend.json()]).toEqual([
      400,
      { detail: 'Email is already confirmed' },
    ]);
  });

  test('no log line carries a password', () => {
    const text = h.logs.join('\n');
    expect(text).not.toContain('confirm me');
  });
});
