// The Store conformance suite against RedisStore with a node-redis client (`createClient()`).
import { redisConformance } from "../fixtures/redis/conformance.js";

await redisConformance("node-redis");
