import Database from "better-sqlite3";
import { privateDatabaseFile } from "./private-files.js";

/** A user as the demo keeps it. */
export interface User {
  id: number;
  username: string;
  passwordHash: string;
  createdAt: number;
}

/** One signature in the guestbook. */
export interface GuestbookEntry {
  name: string;
  message: string;
  createdAt: number;
}

interface UserRow {
  id: number;
  username: string;
  password_hash: string;
  created_at: number;
}

const GUESTBOOK_PAGE = 20;

/**
 * The demo's own data (users and the guestbook) in one SQLite file, apart from the sessions.
 * WAL mode and a busy timeout let two demo processes share one data folder. The file, which
 * holds password hashes, is readable by this user only.
 */
export class DemoDatabase {
  readonly #db: Database.Database;

  constructor(path: string) {
    this.#db = new Database(privateDatabaseFile(path));
    this.#db.pragma("journal_mode = WAL");
    this.#db.pragma("busy_timeout = 5000");
    this.#db.exec(`
      CREATE TABLE IF NOT EXISTS users (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
      CREATE TABLE IF NOT EXISTS guestbook (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL,
        message TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
    `);
  }

  /** The open database, for the login throttle, which keeps its table in the same file. */
  get sqlite(): Database.Database {
    return this.#db;
  }

  findUser(username: string): User | undefined {
    const row = this.#db.prepare("SELECT * FROM users WHERE username = ?").get(username) as
      | UserRow
      | undefined;
    return row === undefined ? undefined : userOf(row);
  }

  findUserById(id: number): User | undefined {
    const row = this.#db.prepare("SELECT * FROM users WHERE id = ?").get(id) as UserRow | undefined;
    return row === undefined ? undefined : userOf(row);
  }

  /** Adds a user; `undefined` when the name is taken (by any letter case). */
  createUser(username: string, passwordHash: string): User | undefined {
    // INSERT OR IGNORE rather than check-then-insert: two sign-ups racing for a name, or two
    // demo processes creating the demo user at once, cannot both win or crash.
    const result = this.#db
      .prepare("INSERT OR IGNORE INTO users (username, password_hash, created_at) VALUES (?, ?, ?)")
      .run(username, passwordHash, Date.now());
    return result.changes === 0 ? undefined : this.findUserById(Number(result.lastInsertRowid));
  }

  setPasswordHash(id: number, passwordHash: string): void {
    this.#db.prepare("UPDATE users SET password_hash = ? WHERE id = ?").run(passwordHash, id);
  }

  sign(name: string, message: string): void {
    this.#db
      .prepare("INSERT INTO guestbook (name, message, created_at) VALUES (?, ?, ?)")
      .run(name, message, Date.now());
  }

  /** The newest signatures first. */
  guestbook(): GuestbookEntry[] {
    return this.#db
      .prepare(
        "SELECT name, message, created_at AS createdAt FROM guestbook ORDER BY id DESC LIMIT ?",
      )
      .all(GUESTBOOK_PAGE) as GuestbookEntry[];
  }

  close(): void {
    this.#db.close();
  }
}

function userOf(row: UserRow): User {
  return {
    id: row.id,
    username: row.username,
    passwordHash: row.password_hash,
    createdAt: row.created_at,
  };
}
