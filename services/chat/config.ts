/**
 * Settings the chat service owns beyond the provider section of the kernel's configuration: how far the tool
 * loop may go. Read from the same environment as everything else.
 */
import { type Config, Reader } from '../../src/config.ts';

export interface ChatToolsConfig {
  /** Rounds of tool calls a model gets before it must answer (CHAT_MAX_TOOL_ROUNDS). */
  maxToolRounds: number;
}

export function readChatToolsConfig(config: Pick<Config, 'source'>): ChatToolsConfig {
  const r = new Reader(config.source);
  return { maxToolRounds: r.int('CHAT_MAX_TOOL_ROUNDS', 5, 1, 50) };
}
