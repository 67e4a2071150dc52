/** The `--help` texts, one per command: what it does, its arguments and options, an example. */

const STORE_OPTIONS = `Store options (every sessions command):
  --store <url>       sqlite:<path>, redis://host:port[/db], rediss://…, postgres://user@host/db
                      Default: $REDIS_URL, then $DATABASE_URL, then sqlite:$DATA_DIR/sessions.db
                      ($DATA_DIR defaults to the demo's examples/demo/data)
  --prefix <prefix>   Redis key prefix                      (default: sess:)
  --table <name>      SQL table                             (default: tessera_sessions)
  --schema <name>     PostgreSQL schema                     (default: the search_path)
  --timeout <time>    longest wait for the store: 500ms, 5s (default: 5s)

Output options:
  --json              JSON on stdout, for scripts
  --full-ids          show whole session ids (they are credentials: shortened by default)
  --no-progress       no progress bar on stderr (it is only drawn on a terminal anyway)
  -h, --help          this help`;

export const MAIN_HELP = `Usage: tessera <command> [options]

Inspects and manages the sessions in a Tessera store.

Commands:
  sessions list              list live sessions
  sessions show <id>         one session in detail
  sessions revoke <id>       end one session
  sessions revoke-user <key> end every session of a user ("log out everywhere")
  sessions prune             remove expired sessions now (SQL stores)
  sessions stats             counts: sessions, users, ages

Options:
  -h, --help      help; \`tessera sessions <command> --help\` for one command
  -v, --version   the version of Tessera

Example:
  tessera sessions list --store redis://127.0.0.1:6379`;

export const SESSIONS_HELP = `Usage: tessera sessions <list|show|revoke|revoke-user|prune|stats> [options]

Commands:
  list              list live sessions
  show <id>         one session in detail
  revoke <id>       end one session
  revoke-user <key> end every session of a user
  prune             remove expired sessions now
  stats             counts: sessions, users, ages

${STORE_OPTIONS}`;

export const COMMAND_HELP: Readonly<Record<string, string>> = {
  list: `Usage: tessera sessions list [--user <key>] [--limit <n>] [options]

Lists live sessions, most recently created first: id, user, when created, last seen and
expiring, and the client (when the app records it with recordClient).

  --user <key>   only the sessions of this user
  --limit <n>    at most n sessions

${STORE_OPTIONS}

Example:
  tessera sessions list --store sqlite:./data/sessions.db --user alice`,

  show: `Usage: tessera sessions show <id> [--data] [options]

Shows one session: its user, times, cookie and the names of its data keys. <id> is the whole
id or its first 8 or more characters, as \`list\` prints them.

  --data         print the session's data too (it may hold personal data: mind where it goes)

${STORE_OPTIONS}

Example:
  tessera sessions show 3fA9x_Qe --store redis://127.0.0.1:6379`,

  revoke: `Usage: tessera sessions revoke <id> [options]

Ends one session: it is removed from the store, and the browser holding it is signed out on its
next request. <id> is the whole id or its first 8 or more characters.

${STORE_OPTIONS}

Example:
  tessera sessions revoke 3fA9x_Qe --store postgres://postgres@127.0.0.1/app`,

  "revoke-user": `Usage: tessera sessions revoke-user <key> [options]

Ends every session of one user (their user key, as the app sets it with setUser or userKey):
"log out everywhere", for a stolen laptop or a changed password.

${STORE_OPTIONS}

Example:
  tessera sessions revoke-user alice --store redis://127.0.0.1:6379`,

  prune: `Usage: tessera sessions prune [options]

Removes expired sessions now. SQLite and PostgreSQL stores prune in the background too; this is
for a cron job, or before a backup. Redis expires keys itself: there is nothing to prune.

${STORE_OPTIONS}

Example:
  tessera sessions prune --store sqlite:./data/sessions.db`,

  stats: `Usage: tessera sessions stats [options]

Counts live sessions: signed in or anonymous, distinct users, the users with most sessions,
how many were created or seen lately, the oldest.

${STORE_OPTIONS}

Example:
  tessera sessions stats --json`,
};
