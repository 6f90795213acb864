/**
 * Runs the built `tclmail` in this process and writes its peak RSS on
 * standard error at the end (`maxRSS BYTES`), for bench/fleet.ts: a child's
 * peak is only known to the child itself.
 *
 *   node fleet-rss.js path/to/dist/cli/tclmail.js bulk ...
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const program = require(process.argv[2]) as { main(argv: string[]): Promise<number> };
program.main(process.argv.slice(3)).then((status) => {
  process.stderr.write(`maxRSS ${process.resourceUsage().maxRSS * 1024}\n`);
  process.exitCode = status;
});
