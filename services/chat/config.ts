/**
 * Settings the chat service owns beyond the provider section of the kernel's configuration: how far the tool
 * loop may go. Read from the same environment as everything else.
 */
import { type Config, Reader } from '../../src/config.ts';

export interface ChatToolsConfig {
  /** Rounds of tool calls a model gets before it must answer (CHAT_MAX_TOOL_ROUNDS). */
  maxToolRounds: number;
  /** How long a scenario specialist may take before the lead hears it failed (CHAT_AGENT_TIMEOUT_MS). */
  agentTimeoutMs: number;
}

export function readChatToolsConfig(config: Pick<Config, 'source'>): ChatToolsConfig {
  const r = new Reader(config.source);
  return {
    maxToolRounds: r.int('CHAT_MAX_TOOL_ROUNDS', 5, 1, 50),
    agentTimeoutMs: r.int('CHAT_AGENT_TIMEOUT_MS', 30_000, 100, 600_000),
  };
}
