// `npm start`: the demo on SQLite by default, or Redis / PostgreSQL with REDIS_URL / DATABASE_URL.
import { type RunningDemo, startServer } from "./app.js";
import { loadConfig } from "./config.js";

let demo: RunningDemo;
try {
  demo = await startServer(loadConfig(process.env));
} catch (error) {
  console.error(`tessera demo: could not start: ${(error as Error)?.message ?? String(error)}`);
  process.exit(1);
}
// Exactly one line on stdout, which scripts and tests wait for to learn the address.
console.log(`Tessera demo listening on ${demo.url}`);
console.error(
  `tessera demo: sessions in ${demo.storeLabel}. Log in as "demo" with the password "demo-password".`,
);

let stopping = false;
function stop(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  demo.close().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`tessera demo: error while stopping on ${signal}: ${String(error)}`);
      process.exit(1);
    },
  );
}
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
