// Tessera's middleware with its RedisStore on the official node-redis client (the client
// connect-redis uses in express-session-redis.ts, so the two differ only above the client).
import { createClient } from "redis";
import { session } from "../../src/express/index.js";
import { RedisStore } from "../../src/stores/redis.js";
import { createApp, requireEnv, SESSION_OPTIONS, serve } from "./app.js";

const client = createClient({ url: requireEnv("BENCH_REDIS_URL") });
await client.connect();
const store = new RedisStore({ client, prefix: requireEnv("BENCH_REDIS_PREFIX") });

serve(createApp(session({ ...SESSION_OPTIONS, store })), async () => {
  await client.close();
});
