import { chmodSync, closeSync, mkdirSync, openSync, statSync } from "node:fs";

const OWNER_ONLY_FILE = 0o600;
const OWNER_ONLY_DIR = 0o700;

/**
 * Creates `dir`, and any missing parent, readable by this user only. A folder that already
 * exists keeps its mode: someone chose it (a `DATA_DIR` of their own), and the files the demo
 * puts in it are private anyway.
 *
 * @example
 * makePrivateDir("/srv/demo/data");
 */
export function makePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: OWNER_ONLY_DIR });
}

/**
 * Makes sure the SQLite file `path` is readable and writable by this user only, and returns
 * `path`. It creates the file empty with mode 0600 when missing, which SQLite reads as an empty
 * database; SQLite then gives its `-wal`, `-shm` and `-journal` files the database file's mode.
 * A file (or side file) left readable by others, by an older demo or by hand, is tightened:
 * the users database holds password hashes, and the sessions database the session ids, which
 * open a signed-in session to whoever reads them.
 *
 * @example
 * const db = new Database(privateDatabaseFile(join(dataDir, "demo.db")));
 */
export function privateDatabaseFile(path: string): string {
  // `a` creates the file when missing and never truncates one that exists (another demo
  // process may be using it).
  closeSync(openSync(path, "a", OWNER_ONLY_FILE));
  for (const file of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
    tightenFile(file);
  }
  return path;
}

/** Takes group and other permissions off `path` when it exists and has any. */
export function tightenFile(path: string): void {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  if ((mode & 0o077) !== 0) chmodSync(path, OWNER_ONLY_FILE);
}
