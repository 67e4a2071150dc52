// The hono adapter: see docs/writing-an-adapter.md.
export {};
