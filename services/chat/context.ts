/**
 * Everything one chat instance holds, built once per app so two stacks in one process share nothing:
 * stores, providers and their health, the engine, per-conversation locks and the session history.
 */
import type { ServiceDeps, ServiceKernel } from '../../src/http/service.ts';
import { readChatToolsConfig } from './config.ts';
import { ConversationStore } from './conversations/service.ts';
import { ConversationLocks } from './engine/lock.ts';
import { ChatEngine } from './engine/pipeline.ts';
import { SessionHistory } from './engine/session.ts';
import { UsageLedger } from './engine/usage.ts';
import { readMcpConfig } from './mcp/config.ts';
import type { McpTools } from './mcp/tools.ts';
import { PersonaStore } from './personas/service.ts';
import { ProviderSet } from './providers/service.ts';
import { AssetTool } from './tools/asset.ts';
import { ToolRegistry } from './tools/registry.ts';
import { KbTools } from './tools/service.ts';

export interface ChatContext {
  deps: ServiceDeps;
  kernel: ServiceKernel;
  conversations: ConversationStore;
  personas: PersonaStore;
  providers: ProviderSet;
  sessions: SessionHistory;
  usage: UsageLedger;
  engine: ChatEngine;
  /** Every tool source of this instance (KB, MCP servers, the asset tool). */
  tools: ToolRegistry;
  /** The operator's MCP servers, when any are configured (closed on shutdown). */
  mcp: McpTools | null;
}

export function createChatContext(deps: ServiceDeps, kernel: ServiceKernel): ChatContext {
  const log = deps.log;
  const conversations = new ConversationStore(deps.db);
  const personas = new PersonaStore(deps.db);
  const providers = new ProviderSet(deps.config, log);
  const sessions = new SessionHistory(deps.config.chat.sessionMaxMessages);
  const usage = new UsageLedger(deps.db, log);
  const tools = new ToolRegistry(log);
  if (deps.clients.kb) tools.add(new KbTools(deps.clients.kb, log));
  const mcpServers = readMcpConfig(deps.config);
  // The MCP SDK (and the schema libraries it brings, ~25 MB) is loaded only when servers are configured.
  const mcp = mcpServers.length
    ? new (require('./mcp/tools.ts') as typeof import('./mcp/tools.ts')).McpTools(
        mcpServers,
        log,
        deps.config.version,
      )
    : null;
  if (mcp) tools.add(mcp);
  if (deps.clients.asset) tools.add(new AssetTool(deps.clients.asset, log));
  const engine = new ChatEngine({
    config: deps.config,
    log,
    bus: deps.bus,
    conversations,
    personas,
    providers,
    locks: new ConversationLocks(),
    sessions,
    usage,
    tools,
    ...readChatToolsConfig(deps.config),
  });
  return { deps, kernel, conversations, personas, providers, sessions, usage, engine, tools, mcp };
}

/** The `X-Request-Id` the gateway assigned, echoed on chat responses. */
export function requestIdHeader(rid: string | undefined): Record<string, string> {
  return rid ? { 'x-request-id': rid } : {};
}
