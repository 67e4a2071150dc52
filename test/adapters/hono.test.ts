// The journey suite on Hono 4 over @hono/node-server.
import { makeHonoApp } from "./apps/hono.js";
import { journey } from "./journey.js";

journey("Hono", makeHonoApp);
