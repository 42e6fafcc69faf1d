/**
 * The `session` cookie: the session sealed with AES-256-GCM under a key derived from
 * WEB_SESSION_SECRET by HKDF-SHA256, written as `v1.<base64url(iv ‖ ciphertext ‖ tag)>`. Sealing, not
 * just signing, keeps the access token unreadable even to someone who copies the cookie out of the browser.
 */

export const COOKIE_NAME = 'session';

export interface WebSession {
  uid: string;
  email: string;
  name: string;
  /** Access token (JWT); never leaves the server except towards the gateway. */
  at: string;
  /** Access-token expiry, epoch seconds. */
  at_exp: number;
  rt: string;
  /** The token's `session_id` claim. */
  sid: string;
  /** When this web session started (epoch seconds); refreshing does not move it. */
  iat: number;
  /** `app_metadata.admin` at login: only decides whether admin-only buttons render. */
  adm?: boolean;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const IV_BYTES = 12;

function b64url(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64url');
}

export class CookieSealer {
  private readonly key: Promise<CryptoKey>;

  constructor(secret: string) {
    this.key = (async () => {
      const material = await crypto.subtle.importKey('raw', encoder.encode(secret), 'HKDF', false, [
        'deriveKey',
      ]);
      return crypto.subtle.deriveKey(
        {
          name: 'HKDF',
          hash: 'SHA-256',
          salt: encoder.encode('gaia-web-session'),
          info: encoder.encode('session cookie v1'),
        },
        material,
        { name: 'AES-GCM', length: 256 },
        false,
        ['encrypt', 'decrypt'],
      );
    })();
  }

  async seal(session: WebSession): Promise<string> {
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: 'AES-GCM', iv, additionalData: encoder.encode('v1') },
        await this.key,
        encoder.encode(JSON.stringify(session)),
      ),
    );
    const out = new Uint8Array(IV_BYTES + sealed.length);
    out.set(iv, 0);
    out.set(sealed, IV_BYTES);
    return `v1.${b64url(out)}`;
  }

  /** The session, or null for anything that does not open (tampered, other secret, malformed). */
  async open(value: string | undefined | null): Promise<WebSession | null> {
    if (!value?.startsWith('v1.')) return null;
    const body = value.slice(3);
    if (!/^[A-Za-z0-9_-]+$/.test(body)) return null;
    const bytes = new Uint8Array(Buffer.from(body, 'base64url'));
    if (bytes.length <= IV_BYTES + 16) return null;
    try {
      const plain = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: bytes.subarray(0, IV_BYTES), additionalData: encoder.encode('v1') },
        await this.key,
        bytes.subarray(IV_BYTES),
      );
      const s = JSON.parse(decoder.decode(plain)) as WebSession;
      if (typeof s?.uid !== 'string' || typeof s.at !== 'string' || typeof s.iat !== 'number') return null;
      return s;
    } catch {
      return null;
    }
  }
}

export interface CookieOptions {
  maxAge: number;
  secure: boolean;
}

export function sessionCookie(value: string, o: CookieOptions): string {
  return `${COOKIE_NAME}=${value}; HttpOnly; Path=/; SameSite=Lax; Max-Age=${o.maxAge}${o.secure ? '; Secure' : ''}`;
}

export function clearedCookie(o: CookieOptions): string {
  return `${COOKIE_NAME}=; HttpOnly; Path=/; SameSite=Lax; Max-Age=0${o.secure ? '; Secure' : ''}`;
}

export function readCookie(header: string | null, name = COOKIE_NAME): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i < 0) continue;
    if (part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}
