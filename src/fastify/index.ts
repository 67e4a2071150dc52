// The fastify adapter: see docs/writing-an-adapter.md.
export {};
