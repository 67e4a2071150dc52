// The koa adapter: see docs/writing-an-adapter.md.
export {};
