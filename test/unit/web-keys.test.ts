/**
 * Revoking API keys from the web UI: the page reports what auth actually did. A key id that is not the
 * caller's (another account's, or none at all) is a 404 at the gateway and changes nothing, so the page
 * must say so in place and never claim the key was revoked.
 */
import { describe, expect, test } from 'bun:test';
import { form, htmx, makeWeb, signIn, type Web, withCookie } from './web-support.ts';

async function createKey(web: Web, cookie: string, name: string): Promise<string> {
  const res = await web.request('/api/keys', withCookie(cookie, htmx(form({ name, expires_in_days: '' }))));
  expect(res.status).toBe(200);
  const key = web.gateway.keys.find((k) => k.name === name);
  if (!key) throw new Error('key not created');
  return key.id as string;
}

const revoke = (web: Web, cookie: string, id: string) =>
  web.request(`/api/keys/${encodeURIComponent(id)}`, withCookie(cookie, htmx({ method: 'DELETE' })));

describe('DELETE /api/keys/{id}', () => {
  test("another account's key: the 404 is shown in place, no success, and the key stays active", async () => {
    const web = makeWeb();
    const ada = await signIn(web, 'ada@example.com');
    const adaKey = await createKey(web, ada, 'Ada build box');
    const bob = await signIn(web, 'bob@example.com');
    await createKey(web, bob, 'Bob laptop');

    const res = await revoke(web, bob, adaKey);
    expect(res.status).toBe(200);
    expect(res.headers.get('hx-reswap')).toBeNull();
    expect(res.headers.get('hx-trigger') ?? '').not.toContain('revoked');
    const body = await res.text();
    expect(body).toContain('id="api-key-revoke-result"');
    expect(body).toContain('data-status="404"');
    expect(body).toContain('role="alert"');
    expect(body).toContain('Key not revoked: API key not found. It is not one of your keys.');
    expect(body).not.toContain('Key revoked');
    // The list that replaces the old one is Bob's own, reloaded from the gateway.
    expect(body).toContain('Bob laptop');
    expect(body).not.toContain('Ada build box');
    const call = web.gateway.requests.find((r) => r.method === 'DELETE')!;
    expect(call.path).toBe(`/api/v1/auth/api-keys/${adaKey}`);
    const stored = web.gateway.keys.find((k) => k.id === adaKey)!;
    expect(stored.is_active).toBe(true);
    expect(stored.revoked_at).toBeNull();
  });

  test('an id that is no key at all is the same 404, the id is sent encoded', async () => {
    const web = makeWeb();
    const ada = await signIn(web);
    const res = await revoke(web, ada, 'no/such key');
    const body = await res.text();
    expect(body).toContain('data-status="404"');
    expect(body).toContain('Key not revoked');
    expect(web.gateway.requests.some((r) => r.path === '/api/v1/auth/api-keys/no%2Fsuch%20key')).toBe(true);
  });

  test('your own key: revoked, shown as revoked in the list, without a toast', async () => {
    const web = makeWeb();
    const ada = await signIn(web);
    const id = await createKey(web, ada, 'Unity build machine');
    const res = await revoke(web, ada, id);
    expect(res.status).toBe(200);
    expect(res.headers.get('hx-trigger')).toBeNull();
    const body = await res.text();
    expect(body).toContain('data-status="204"');
    expect(body).toContain('role="status"');
    expect(body).toContain('Key revoked.');
    expect(body).toMatch(new RegExp(`data-key-id="${id}"[\\s\\S]*?>revoked</span>`));
    expect(body).not.toContain(`hx-delete="/api/keys/${id}"`);
    expect(web.gateway.keys.find((k) => k.id === id)!.is_active).toBe(false);
  });

  test('a gateway failure is shown in place with its reason, and the Revoke button stays to retry', async () => {
    const web = makeWeb();
    const ada = await signIn(web);
    const id = await createKey(web, ada, 'Flaky');
    const original = web.gateway.fetch;
    // Auth fails only for the revoke; the list still loads.
    (web.gateway as { fetch: (req: Request) => Promise<Response> }).fetch = async (req: Request) =>
      req.method === 'DELETE'
        ? new Response(JSON.stringify({ detail: 'Service auth unavailable' }), {
            status: 503,
            headers: { 'content-type': 'application/json' },
          })
        : original(req);
    const res = await revoke(web, ada, id);
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain('data-status="503"');
    expect(body).toContain('Key not revoked: Service auth unavailable. Please try again.');
    expect(body).toContain(`hx-delete="/api/keys/${id}"`);
    expect(web.gateway.keys.find((k) => k.id === id)!.is_active).toBe(true);
  });
});
