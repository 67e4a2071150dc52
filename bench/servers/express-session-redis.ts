// express-session with connect-redis v9 on the official node-redis client.
import { RedisStore } from "connect-redis";
import session from "express-session";
import { createClient } from "redis";
import { createApp, requireEnv, SESSION_OPTIONS, serve } from "./app.js";

const client = createClient({ url: requireEnv("BENCH_REDIS_URL") });
await client.connect();
const store = new RedisStore({ client, prefix: requireEnv("BENCH_REDIS_PREFIX") });

serve(createApp(session({ ...SESSION_OPTIONS, store })), async () => {
  await client.close();
});
