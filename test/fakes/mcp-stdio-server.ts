/**
 * A real MCP server over stdio, written with the SDK's own server classes, for the chat service's MCP client
 * to start as a child process. Run: `bun test/fakes/mcp-stdio-server.ts [--mode=exit]`.
 *
 * Tools: `echo` (returns its `text` argument untouched), `hang` (answers only when cancelled), `big` (a text
 * of `bytes` bytes, 5 MB by default), `fail` (an `isError` result), `crash` (the process exits mid-call),
 * `add_tool` (registers `late`, which makes the server send `notifications/tools/list_changed`).
 *
 * `--mode=exit` writes a line to stderr and exits at once, as a misconfigured server does.
 * `MCP_FAKE_EVENTS=<file>` appends one line per start (`start <pid>`) and per cancelled `hang` (`cancelled`),
 * so a test can count restarts and see that a cancellation reached the server.
 */
import { appendFileSync } from 'node:fs';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const mode = process.argv.find((a) => a.startsWith('--mode='))?.slice('--mode='.length) ?? 'normal';
const events = process.env.MCP_FAKE_EVENTS;
const note = (line: string) => {
  if (events) appendFileSync(events, `${line}\n`);
};

note(`start ${process.pid}`);
if (mode === 'exit') {
  process.stderr.write('fake mcp server: exiting at once on purpose\n');
  process.exit(1);
}

const server = new McpServer({ name: 'gaia-fake-stdio', version: '1.0.0' });
const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });

server.registerTool(
  'echo',
  { description: 'Echo the text back unchanged.', inputSchema: { text: z.string() } },
  async ({ text: t }) => text(t),
);

server.registerTool(
  'hang',
  { description: 'Never answers until cancelled.', inputSchema: {} },
  (_args, extra) =>
    new Promise((resolve) => {
      extra.signal.addEventListener('abort', () => {
        note('cancelled');
        resolve(text('cancelled'));
      });
    }),
);

server.registerTool(
  'big',
  {
    description: 'Returns a large text.',
    inputSchema: { bytes: z.number().int().positive().optional() },
  },
  async ({ bytes }) => text('x'.repeat(bytes ?? 5 * 1024 * 1024)),
);

server.registerTool('fail', { description: 'Always reports an error.', inputSchema: {} }, async () => ({
  content: [{ type: 'text' as const, text: 'the fake failed on purpose' }],
  isError: true,
}));

server.registerTool('crash', { description: 'Exits the server process.', inputSchema: {} }, async () => {
  process.exit(3);
});

server.registerTool('add_tool', { description: 'Adds the tool "late".', inputSchema: {} }, async () => {
  // Registering on a connected server sends notifications/tools/list_changed.
  server.registerTool('late', { description: 'Added at run time.', inputSchema: {} }, async () =>
    text('late tool ran'),
  );
  return text('added');
});

await server.connect(new StdioServerTransport());
