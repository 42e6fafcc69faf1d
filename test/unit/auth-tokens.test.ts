/** Token derivation, confirmation codes, the login throttle and the email rule of the auth service. */
import { describe, expect, test } from 'bun:test';
import { decodeJwt, jwtVerify } from 'jose';
import { isValidEmail } from '../../services/auth/sessions/model.ts';
import { LoginThrottle } from '../../services/auth/sessions/throttle.ts';
import { hashRefreshToken, randomRefreshToken, TokenService } from '../../services/auth/tokens/service.ts';
import { loadConfig } from '../../src/config.ts';
import { HttpError } from '../../src/http/errors.ts';

const SECRET = 'unit-test-jwt-secret-0123456789abcdef0123';
const config = (env: Record<string, string> = {}) =>
  loadConfig({ GAIA_ENV: 'test', GAIA_JWT_SECRET: SECRET, GAIA_DATA_DIR: '/tmp/gaia-auth-unit', ...env });

describe('TokenService', () => {
  const tokens = new TokenService(config({ GAIA_JWT_TTL_S: '120' }));
  const subject = {
    userId: crypto.randomUUID(),
    email: 'a@b.co',
    appMetadata: { provider: 'email' },
    userMetadata: {},
  };

  test('access tokens are HS256 under the signing secret, with the configured TTL and issuer', async () => {
    const sid = crypto.randomUUID();
    const t = await tokens.accessToken(subject, sid, 1000);
    expect(t.exp - t.iat).toBe(120);
    const { payload, protectedHeader } = await jwtVerify(t.token, new TextEncoder().encode(SECRET));
    expect(protectedHeader).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(payload).toMatchObject({
      iss: 'gaia',
      sub: subject.userId,
      session_id: sid,
      amr: [{ method: 'password', timestamp: 1000 }],
    });
    const custom = new TokenService(config({ GAIA_JWT_ISSUER: 'https://auth.example' }));
    expect(decodeJwt((await custom.accessToken(subject, sid, 1)).token).iss).toBe('https://auth.example');
  });

  test('api-key tokens last 900 s and name their key', async () => {
    const t = await tokens.apiKeyToken(subject, 'key-1');
    expect(t.exp - t.iat).toBe(900);
    expect(decodeJwt(t.token)).toMatchObject({ gaia_key_id: 'key-1', user_id: subject.userId });
    expect(decodeJwt(t.token).session_id).toBeUndefined();
  });

  test('refresh tokens: 43 base64url characters; successors are deterministic per secret and unguessable without it', () => {
    const r = randomRefreshToken();
    expect(r).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(hashRefreshToken(r)).toMatch(/^[0-9a-f]{64}$/);
    expect(tokens.successorOf(r)).toBe(tokens.successorOf(r));
    expect(tokens.successorOf(r)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(tokens.successorOf(r)).not.toBe(tokens.successorOf(randomRefreshToken()));
    const other = new TokenService(config({ GAIA_JWT_SECRET: 'another-secret-0123456789abcdef0123456789' }));
    expect(other.successorOf(r)).not.toBe(tokens.successorOf(r));
  });

  test('confirmation link tokens: round trip; forged, truncated and expired ones are refused', () => {
    const id = crypto.randomUUID();
    const tok = tokens.confirmationLinkToken(id, 'a@b.co');
    expect(tok.split('.')).toHaveLength(2);
    expect(tokens.readConfirmationLinkToken(tok)).toEqual({ userId: id, email: 'a@b.co' });
    const [payload, mac] = tok.split('.');
    const swapped = Buffer.from(JSON.stringify({ u: crypto.randomUUID(), e: 'a@b.co', x: 9e9 })).toString(
      'base64url',
    );
    expect(tokens.readConfirmationLinkToken(`${swapped}.${mac}`)).toBeNull();
    expect(tokens.readConfirmationLinkToken(payload!)).toBeNull();
    expect(tokens.readConfirmationLinkToken(`${tok}.x`)).toBeNull();
    expect(tokens.readConfirmationLinkToken(tokens.confirmationLinkToken(id, 'a@b.co', -1))).toBeNull();
    const other = new TokenService(config({ GAIA_JWT_SECRET: 'another-secret-0123456789abcdef0123456789' }));
    expect(other.readConfirmationLinkToken(tok)).toBeNull();
  });

  test('confirmation codes: six digits, valid this hour and the previous one only', () => {
    const id = crypto.randomUUID();
    const code = tokens.confirmationCode(id, 'a@b.co');
    expect(code).toMatch(/^\d{6}$/);
    expect(tokens.checkConfirmationCode(id, 'a@b.co', code)).toBe(true);
    expect(
      tokens.checkConfirmationCode(
        id,
        'a@b.co',
        tokens.confirmationCode(id, 'a@b.co', Date.now() - 3_600_000),
      ),
    ).toBe(true);
    const old = tokens.confirmationCode(id, 'a@b.co', Date.now() - 3 * 3_600_000);
    if (old !== code) expect(tokens.checkConfirmationCode(id, 'a@b.co', old)).toBe(false);
    expect(tokens.checkConfirmationCode(id, 'other@b.co', code)).toBe(
      tokens.confirmationCode(id, 'other@b.co') === code,
    );
    expect(tokens.checkConfirmationCode(id, 'a@b.co', '12345')).toBe(false);
    expect(tokens.checkConfirmationCode(id, 'a@b.co', `${code}0`)).toBe(false);
  });
});

describe('LoginThrottle', () => {
  test('5 failures lock the (address, email) pair for 15 minutes; other pairs are free; success clears', () => {
    const th = new LoginThrottle();
    const t0 = 1_000_000;
    for (let i = 0; i < 4; i++) th.fail('1.1.1.1', 'a@b.co', t0);
    th.check('1.1.1.1', 'a@b.co', t0);
    th.fail('1.1.1.1', 'a@b.co', t0);
    let err: unknown;
    try {
      th.check('1.1.1.1', 'a@b.co', t0 + 1000);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(429);
    expect((err as HttpError).detail).toBe('Rate limit exceeded: 5 per 15 minutes');
    expect((err as HttpError).headers['retry-after']).toBe('899');
    th.check('1.1.1.1', 'other@b.co', t0);
    th.check('2.2.2.2', 'a@b.co', t0);
    th.check('1.1.1.1', 'a@b.co', t0 + 15 * 60_000);
    th.succeed('1.1.1.1', 'a@b.co');
    th.check('1.1.1.1', 'a@b.co', t0 + 1000);
  });
});

describe('isValidEmail', () => {
  test('accepts ordinary addresses (trimmed) and refuses malformed, long or control-character ones', () => {
    for (const ok of ['ada@example.com', ' Ada@Example.com ', 'a.b+c@sub.example.co.uk'])
      expect(isValidEmail(ok)).toBe(true);
    for (const bad of [
      '',
      'ada',
      'ada@',
      '@example.com',
      'a b@example.com',
      'ada@example',
      'a\u0000@b.co',
      'a@b.co\n',
      `${'a'.repeat(250)}@b.co`,
    ])
      expect(isValidEmail(bad)).toBe(false);
  });
});
