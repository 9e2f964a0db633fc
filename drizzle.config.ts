import { defineConfig } from 'drizzle-kit';

// Migrations are generated from the schema and work on both engines (PGlite is PostgreSQL in WASM).
export default defineConfig({
	dialect: 'postgresql',
	schema: './src/lib/server/db/schema.ts',
	out: './drizzle'
});
