// The ceiling: Express 5 with no session middleware at all.
import { createApp, serve } from "./app.js";

serve(createApp());
