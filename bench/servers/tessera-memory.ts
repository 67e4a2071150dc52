// Tessera's middleware with its MemoryStore, defaults as shipped.
import { session } from "../../src/express/index.js";
import { MemoryStore } from "../../src/stores/memory.js";
import { createApp, SESSION_OPTIONS, serve } from "./app.js";

serve(createApp(session({ ...SESSION_OPTIONS, store: new MemoryStore() })));
