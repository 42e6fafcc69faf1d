/** The baseline: the least a Bun HTTP server can do. */
const server = Bun.serve({
  port: Number(process.env.PORT ?? 0),
  hostname: '127.0.0.1',
  fetch: () => new Response('{"hello":"world"}', { headers: { 'content-type': 'application/json' } }),
});
console.log(server.port);
