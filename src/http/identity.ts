/**
 * The signed identity the gateway passes to services (spec/gateway.md §5): a 60 s HS256 JWT in
 * `X-Gaia-Identity`. Services trust nothing else about the caller.
 */
import { jwtVerify, SignJWT } from 'jose';

export type AuthType = 'jwt' | 'api_key' | 'anonymous';

export interface Identity {
  auth_type: AuthType;
  sub?: string;
  email?: string;
  name?: string;
  admin: boolean;
  session_id?: string | null;
  key_id?: string | null;
  /** Request id (gateway.md §12). */
  rid: string;
  /** Client address (gateway.md §10). */
  ip: string;
}

export const IDENTITY_HEADER = 'x-gaia-identity';
export const IDENTITY_ISSUERS = [
  'gaia-gateway',
  'gaia-auth',
  'gaia-chat',
  'gaia-kb',
  'gaia-asset',
  'gaia-web',
];
const AUDIENCE = 'gaia-services';

const keys = new Map<string, Uint8Array>();
function keyFor(secret: string): Uint8Array {
  let k = keys.get(secret);
  if (!k) {
    k = new TextEncoder().encode(secret);
    if (keys.size > 16) keys.clear();
    keys.set(secret, k);
  }
  return k;
}

export function anonymousIdentity(rid: string, ip: string): Identity {
  return { auth_type: 'anonymous', admin: false, rid, ip };
}

export async function signIdentity(secret: string, id: Identity, issuer = 'gaia-gateway'): Promise<string> {
  const claims: Record<string, unknown> = {
    auth_type: id.auth_type,
    admin: id.admin,
    rid: id.rid,
    ip: id.ip,
  };
  if (id.auth_type !== 'anonymous') {
    claims.sub = id.sub;
    claims.email = id.email ?? null;
    claims.name = id.name ?? null;
    claims.session_id = id.session_id ?? null;
    claims.key_id = id.key_id ?? null;
  }
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuer(issuer)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('60s')
    .sign(keyFor(secret));
}

export async function verifyIdentity(secret: string, token: string | null): Promise<Identity | null> {
  if (!token || token.length > 8192) return null;
  try {
    const { payload } = await jwtVerify(token, keyFor(secret), {
      algorithms: ['HS256'],
      audience: AUDIENCE,
      issuer: IDENTITY_ISSUERS,
      clockTolerance: 5,
      requiredClaims: ['exp', 'iat'],
    });
    const authType = payload.auth_type;
    if (authType !== 'jwt' && authType !== 'api_key' && authType !== 'anonymous') return null;
    if (authType !== 'anonymous' && (typeof payload.sub !== 'string' || payload.sub === '')) return null;
    const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
    return {
      auth_type: authType,
      sub: authType === 'anonymous' ? undefined : str(payload.sub),
      email: str(payload.email),
      name: str(payload.name),
      admin: payload.admin === true,
      session_id: str(payload.session_id) ?? null,
      key_id: str(payload.key_id) ?? null,
      rid: str(payload.rid) ?? '',
      ip: str(payload.ip) ?? '',
    };
  } catch {
    return null;
  }
}
