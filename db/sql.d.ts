// Migration files are imported as text (db/migrations/index.ts) so `bun build --compile` embeds them.
declare module '*.sql' {
  const text: string;
  export default text;
}
