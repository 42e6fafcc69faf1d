/**
 * The legacy `/api/v1/chat/<variant>` routes older clients still call. The gateway forwards them and the chat
 * service documents them, so both read the names from here.
 */
export const LEGACY_CHAT_VARIANTS = [
  'mcp-agent',
  'mcp-agent-hot',
  'direct',
  'direct-db',
  'orchestrated',
  'ultrafast',
  'ultrafast-redis',
  'ultrafast-redis-v2',
  'ultrafast-redis-v3',
  'gamemaster',
  'worldbuilding',
  'storytelling',
  'problemsolving',
] as const;
