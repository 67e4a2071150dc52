// The Store conformance suite against RedisStore with an ioredis client (`new Redis()`).
import { redisConformance } from "../fixtures/redis/conformance.js";

await redisConformance("ioredis");
