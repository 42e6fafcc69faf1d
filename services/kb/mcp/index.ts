export { createKbMcpHandler, type KbMcpOptions, MCP_SERVER_NAME } from './server.ts';
export { runLimited } from './tasks.ts';
export { KB_MCP_TOOLS, linkCandidates } from './tools.ts';
