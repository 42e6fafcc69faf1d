import { defineConfig } from 'drizzle-kit';

// Generates db/migrations/sqlite from the SQLite builder of the one schema (run `bun run db:generate`).
export default defineConfig({
  dialect: 'sqlite',
  schema: './db/schema/sqlite.ts',
  out: './db/migrations/sqlite',
  breakpoints: true,
});
