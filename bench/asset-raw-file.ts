/**
 * The download baseline: one file handed to `Bun.serve` as `Bun.file`, which lets Bun send it with sendfile.
 * Nothing is checked or signed, so this is the most a Bun server can do with the same bytes on this machine.
 * Usage: PORT=<port> bun bench/asset-raw-file.ts <path> [content-type]
 */
const path = process.argv[2];
if (!path) throw new Error('usage: asset-raw-file.ts <path> [content-type]');
const contentType = process.argv[3] ?? 'application/octet-stream';

const server = Bun.serve({
  port: Number(process.env.PORT ?? 0),
  hostname: '127.0.0.1',
  fetch: () => new Response(Bun.file(path), { headers: { 'content-type': contentType } }),
});
console.log(server.port);

// A module, so its top-level names do not clash with other scripts in the type check.
export {};
