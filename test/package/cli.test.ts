// The `tessera` command as npm installs it (node_modules/.bin/tessera, from package.json "bin"),
// on the sessions an installed app wrote to SQLite.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Browser, type Consumer, createConsumer, ROOT } from "./consumer.js";

describe("the installed package › the tessera command from its bin", () => {
  let consumer: Consumer;
  let tessera: (...args: string[]) => { status: number | null; stdout: string; stderr: string };
  let store: string;

  before(() => {
    consumer = createConsumer({
      type: "commonjs",
      dependencies: ["express", "better-sqlite3"],
      fixtures: ["app.cjs"],
    });
    const bin = join(consumer.dir, "node_modules", ".bin", "tessera");
    tessera = (...args) => consumer.run(bin, args);
    store = `sqlite:${join(consumer.dir, "sessions.db")}`;
  });
  after(() => consumer?.remove());

  it("--version prints the package's version", () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      version: string;
    };
    const result = tessera("--version");
    assert.equal(result.stderr, "");
    assert.equal(result.status, 0);
    assert.equal(result.stdout.trim(), version);
  });

  it("lists the sessions the app stored, and revoke-user logs one user out of every browser", async () => {
    const app = await consumer.start("app.cjs", {
      STORE: "sqlite",
      SQLITE_PATH: join(consumer.dir, "sessions.db"),
    });
    const [laptop, phone, other] = [new Browser(app), new Browser(app), new Browser(app)];
    await laptop.post("/login", { user: "ada" });
    await phone.post("/login", { user: "ada" });
    await other.post("/login", { user: "bob" });

    const listed = tessera("sessions", "list", "--store", store, "--json");
    assert.equal(listed.status, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout) as { user: string }[];
    assert.deepEqual(rows.map((row) => row.user).sort(), ["ada", "ada", "bob"]);

    const revoked = tessera("sessions", "revoke-user", "ada", "--store", store, "--json");
    assert.equal(revoked.status, 0, revoked.stderr);
    assert.deepEqual(JSON.parse(revoked.stdout), { user: "ada", revoked: 2 });
    assert.deepEqual((await laptop.get("/count")).body, { views: 1, user: null });
    assert.deepEqual((await phone.get("/count")).body, { views: 1, user: null });
    assert.deepEqual((await other.get("/count")).body, { views: 1, user: "bob" });
  });
});
