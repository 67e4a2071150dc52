import { isTesseraError } from "../core/errors.js";

/** The CLI's exit codes: scripts can tell a mistake in the command from a failure to do it. */
export const EXIT = {
  ok: 0,
  /** The command was right but could not be done: server unreachable, no such session. */
  failure: 1,
  /** The command itself is wrong: unknown option, bad store URL, missing argument. */
  usage: 2,
} as const;

/**
 * An error the CLI reports as one line and an exit code, never with a stack trace. Its message
 * starts with `tessera:` and says the fix, like every Tessera error.
 */
export class CliError extends Error {
  override readonly name = "CliError";
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT.failure, options?: { cause?: unknown }) {
    super(message.startsWith("tessera:") ? message : `tessera: ${message}`, options);
    this.exitCode = exitCode;
  }
}

/** A mistake in the command line: exit code 2, with a pointer to the command's help. */
export function usageError(message: string, helpCommand = "tessera --help"): CliError {
  return new CliError(`${message} See \`${helpCommand}\`.`, EXIT.usage);
}

/** The one line printed for a failure, and the exit code that goes with it. */
export function describeFailure(error: unknown): { message: string; exitCode: number } {
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode };
  if (isTesseraError(error)) {
    const exitCode = error.code === "ERR_OPTION" ? EXIT.usage : EXIT.failure;
    return { message: oneLine(error.message), exitCode };
  }
  // Not ours: a bug, or a client library failing in a way the stores do not wrap. Its message
  // could quote data, so only its kind is shown; TESSERA_DEBUG=1 prints the whole error.
  const kind = error instanceof Error ? error.name : typeof error;
  return {
    message: `tessera: unexpected ${kind}. Run again with TESSERA_DEBUG=1 to see the details, and report it if it persists.`,
    exitCode: EXIT.failure,
  };
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ");
}
