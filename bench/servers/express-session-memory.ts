// express-session with its own MemoryStore (the store it warns against in production).
import session from "express-session";
import { createApp, SESSION_OPTIONS, serve } from "./app.js";

serve(createApp(session({ ...SESSION_OPTIONS, store: new session.MemoryStore() })));
