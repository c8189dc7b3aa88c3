/**
 * The replay for Node (built by `npm run build:replay` into dist-replay/replay.js):
 *
 *   node dist-replay/replay.js < trace.json > result.json
 *
 * Reads one ReplayTrace as JSON on stdin, writes the ReplayResult as JSON on stdout. Input that
 * is not a valid trace exits with status 1 and says why on stderr, so the caller never reads a
 * result computed from a malformed trace.
 */
import { parseTrace, replay } from "./replay";

const USAGE = "usage: node replay.js < trace.json > result.json";

async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of process.stdin) parts.push(part as Buffer);
  return Buffer.concat(parts).toString("utf8");
}

function fail(message: string): void {
  process.stderr.write(`replay: ${message}\n`);
  process.exitCode = 1; // not process.exit(): stderr gets written out first
}

async function main(): Promise<void> {
  if (process.stdin.isTTY) return fail(`no trace on stdin\n${USAGE}`);
  let input: unknown;
  try {
    input = JSON.parse(await readStdin());
  } catch (error) {
    return fail(`stdin is not JSON: ${(error as Error).message}`);
  }
  let trace;
  try {
    trace = parseTrace(input);
  } catch (error) {
    return fail(`not a valid trace: ${(error as Error).message}`);
  }
  process.stdout.write(`${JSON.stringify(replay(trace))}\n`);
}

main().catch((error: unknown) => {
  fail(error instanceof Error ? (error.stack ?? error.message) : String(error));
});
