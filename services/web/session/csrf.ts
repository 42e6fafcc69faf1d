/**
 * The cross-site check for state-changing requests. Together with the SameSite=Lax cookie it is the
 * CSRF defence: a POST, PUT, PATCH or DELETE is accepted only when the browser says it comes from this
 * site. "This site" is a whole origin, scheme, host and port: `https://host:8080` is another site than
 * `http://host:8080`, and a page there must not act on this one.
 */

const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The serialised origin of a URL, or null when the value is not an absolute http(s) URL. */
function originOf(value: string): string | null {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
    return u.origin;
  } catch {
    return null;
  }
}

/** The origins the site answers on: the request's own (scheme of the listener, Host header) and the base URL. */
export function ownOrigins(request: Request, baseOrigin: string): Set<string> {
  const out = new Set<string>([baseOrigin]);
  const url = new URL(request.url);
  const host = request.headers.get('host');
  const own = host ? originOf(`${url.protocol}//${host}`) : url.origin;
  if (own) out.add(own);
  return out;
}

/**
 * True for a state-changing request another site could have made. The `Origin` header decides when
 * present; `Origin: null` (a sandboxed frame, a `data:` page, a cross-origin redirect) is never ours.
 * Without it, the `Referer` decides (our pages send it in full to ourselves). With neither, a browser's
 * `Sec-Fetch-Site` still tells a cross-site request apart; a request with none of the three is not from
 * a browser page and passes.
 */
export function isCrossSite(request: Request, baseOrigin: string): boolean {
  if (!UNSAFE.has(request.method)) return false;
  const h = request.headers;
  const origin = h.get('origin');
  const referer = h.get('referer');
  let claimed: string | null;
  if (origin !== null) {
    if (origin.trim() === 'null') return true;
    claimed = originOf(origin.trim());
  } else if (referer !== null) {
    claimed = originOf(referer.trim());
  } else {
    const site = h.get('sec-fetch-site');
    return site === 'cross-site' || site === 'same-site';
  }
  if (claimed === null) return true;
  return !ownOrigins(request, baseOrigin).has(claimed);
}
