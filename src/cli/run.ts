/**
 * The `tessera` command line: reads the arguments with node:util's parseArgs, opens the store
 * named by `--store` (or the environment), runs one command, and reports a failure as one line
 * and an exit code, never a stack trace.
 */
import { readFileSync, realpathSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { CliError, describeFailure, EXIT, usageError } from "./errors.js";
import { parseDuration } from "./format.js";
import { COMMAND_HELP, MAIN_HELP, SESSIONS_HELP } from "./help.js";
import type { ProgressStream } from "./progress.js";
import {
  type CommandContext,
  listSessions,
  pruneSessions,
  revokeSession,
  revokeUser,
  sessionStats,
  showSession,
} from "./sessions.js";
import { openStore, resolveTarget } from "./store-url.js";

/** Where the CLI reads its environment and writes its output: the process, or a test's stand-ins. */
export interface CliIo {
  env: Readonly<Record<string, string | undefined>>;
  stdout: { write(text: string): unknown };
  stderr: ProgressStream;
}

const OPTIONS = {
  store: { type: "string" },
  prefix: { type: "string" },
  table: { type: "string" },
  schema: { type: "string" },
  timeout: { type: "string" },
  json: { type: "boolean" },
  "full-ids": { type: "boolean" },
  "no-progress": { type: "boolean" },
  user: { type: "string" },
  limit: { type: "string" },
  data: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "v" },
} as const;

/** The options only some commands take; any other command refuses them. */
const COMMAND_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  list: ["user", "limit"],
  show: ["data"],
};
/** How many positional arguments follow each command, and what they are called. */
const COMMAND_ARGUMENTS: Readonly<Record<string, string | undefined>> = {
  list: undefined,
  show: "<id>",
  revoke: "<id>",
  "revoke-user": "<key>",
  prune: undefined,
  stats: undefined,
};

type Values = ReturnType<typeof parse>["values"];

function isOption(arg: string): boolean {
  if (arg === "--" || arg === "-h" || arg === "-v") return true;
  return arg.startsWith("--") && Object.hasOwn(OPTIONS, arg.slice(2).split("=")[0] as string);
}

/**
 * Session ids are base64url, so one in 64 starts with "-" and would read as an option. The
 * argument right after a command that takes one is therefore taken as it is, unless it is one
 * of our options.
 */
function takeArgument(args: readonly string[]): { rest: string[]; argument?: string } {
  const [group, command, candidate] = args;
  if (
    group === "sessions" &&
    command !== undefined &&
    Object.hasOwn(COMMAND_ARGUMENTS, command) &&
    COMMAND_ARGUMENTS[command] !== undefined &&
    candidate?.startsWith("-") === true &&
    !isOption(candidate)
  ) {
    return { rest: [group, command, ...args.slice(3)], argument: candidate };
  }
  return { rest: [...args] };
}

function parse(args: readonly string[]) {
  const { rest, argument } = takeArgument(args);
  let parsed: ReturnType<typeof parseOptions>;
  try {
    parsed = parseOptions(rest);
  } catch (error) {
    const message = error instanceof Error ? error.message : "";
    // parseArgs names the option in quotes; its advice about "--" does not apply here.
    const option = /'(-[^' ]*)/.exec(message)?.[1];
    if (option !== undefined && /argument missing/i.test(message)) {
      throw usageError(`option ${option} needs a value.`);
    }
    if (option === undefined) throw usageError("cannot read the options.");
    // A long "option" may be a session id: it is not repeated.
    throw usageError(
      option.length > 20
        ? 'unknown option (an id that starts with "-" goes right after the command, or after "--").'
        : `unknown option ${option}.`,
    );
  }
  if (argument !== undefined) parsed.positionals.splice(2, 0, argument);
  return parsed;
}

function parseOptions(args: string[]) {
  return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
}

function version(): string {
  // The script is src/cli/main.ts or dist/cli/main.js: both two levels below package.json. It is
  // found from argv rather than import.meta, which the CommonJS build does not have.
  const script = realpathSync(process.argv[1] ?? ".");
  const path = join(dirname(script), "..", "..", "package.json");
  try {
    return (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version;
  } catch (cause) {
    throw new CliError(
      "cannot read the version: package.json is not beside the CLI.",
      EXIT.failure,
      {
        cause,
      },
    );
  }
}

/**
 * Runs the CLI on `args` (without `node` and the script) and resolves the exit code.
 *
 * @example
 * process.exitCode = await runCli(process.argv.slice(2), { env: process.env, stdout: process.stdout, stderr: process.stderr });
 */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(args, io);
  } catch (error) {
    const { message, exitCode } = describeFailure(error);
    io.stderr.write(`${message}\n`);
    if (io.env.TESSERA_DEBUG === "1") io.stderr.write(`${debugText(error)}\n`);
    return exitCode;
  }
}

function debugText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth++) {
    parts.push(current instanceof Error ? (current.stack ?? String(current)) : String(current));
    current = current instanceof Error ? current.cause : undefined;
    if (current !== undefined) parts.push("caused by:");
  }
  return parts.join("\n");
}

async function dispatch(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(args);
  const print = (line: string) => io.stdout.write(`${line}\n`);
  const [group, command, ...rest] = positionals;
  if (values.version && group === undefined) {
    print(version());
    return EXIT.ok;
  }
  if (group === undefined || group === "help") {
    if (values.help || group === "help") {
      print(MAIN_HELP);
      return EXIT.ok;
    }
    io.stderr.write(`${MAIN_HELP}\n`);
    return EXIT.usage;
  }
  if (group !== "sessions") throw usageError(`unknown command "${group}".`);
  if (command === undefined) {
    if (values.help) {
      print(SESSIONS_HELP);
      return EXIT.ok;
    }
    io.stderr.write(`${SESSIONS_HELP}\n`);
    return EXIT.usage;
  }
  // Own keys only: "constructor" or "toString" are no commands.
  const help = Object.hasOwn(COMMAND_HELP, command) ? COMMAND_HELP[command] : undefined;
  if (help === undefined || !Object.hasOwn(COMMAND_ARGUMENTS, command)) {
    throw usageError(`unknown command "sessions ${command}".`, "tessera sessions --help");
  }
  const helpCommand = `tessera sessions ${command} --help`;
  if (values.help) {
    print(help);
    return EXIT.ok;
  }
  checkCommandOptions(command, values, helpCommand);
  const argument = COMMAND_ARGUMENTS[command];
  if (argument !== undefined && rest.length === 0) {
    throw usageError(`sessions ${command} needs ${argument}.`, helpCommand);
  }
  if (rest.length > (argument === undefined ? 0 : 1)) {
    throw usageError(`sessions ${command} takes ${argument ?? "no arguments"}.`, helpCommand);
  }
  const limit = positiveNumber(values.limit, "--limit", helpCommand);
  const timeoutMs = timeoutOf(values.timeout, helpCommand);

  const target = resolveTarget(values.store, io.env);
  const opened = await openStore(target, {
    prefix: values.prefix,
    table: values.table,
    schema: values.schema,
    timeoutMs,
  });
  const context: CommandContext = {
    opened,
    print,
    progressStream: io.stderr,
    json: values.json === true,
    fullIds: values["full-ids"] === true,
    progress: values["no-progress"] !== true,
    nowMs: Date.now(),
  };
  try {
    const value = rest[0] as string;
    if (command === "list") await listSessions(context, { user: values.user, limit });
    else if (command === "show") await showSession(context, value, { data: values.data === true });
    else if (command === "revoke") await revokeSession(context, value);
    else if (command === "revoke-user") await revokeUser(context, value);
    else if (command === "prune") await pruneSessions(context);
    else await sessionStats(context);
  } finally {
    await opened.close().catch(() => {});
  }
  return EXIT.ok;
}

function checkCommandOptions(command: string, values: Values, helpCommand: string): void {
  for (const [name, allowed] of Object.entries(COMMAND_OPTIONS)) {
    if (name === command) continue;
    for (const option of allowed) {
      if (values[option as keyof Values] !== undefined) {
        throw usageError(`--${option} is an option of \`sessions ${name}\` only.`, helpCommand);
      }
    }
  }
}

function positiveNumber(
  text: string | undefined,
  flag: string,
  helpCommand: string,
): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw usageError(`${flag} must be a whole number above 0.`, helpCommand);
  }
  return value;
}

function timeoutOf(text: string | undefined, helpCommand: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = parseDuration(text);
  if (ms === undefined || ms < 1 || ms > 600_000) {
    throw usageError(
      "--timeout must be a time from 1ms to 10min, such as 500ms or 5s.",
      helpCommand,
    );
  }
  return Math.round(ms);
}
