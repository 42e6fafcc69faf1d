import { defineConfig } from 'drizzle-kit';

// Generates db/migrations/postgres from the PostgreSQL builder of the one schema (run `bun run db:generate`).
export default defineConfig({
  dialect: 'postgresql',
  schema: './db/schema/pg.ts',
  out: './db/migrations/postgres',
  breakpoints: true,
});
