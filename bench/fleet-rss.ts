/**
 * Runs the built `tclmail` in this process and writes its peak RSS on
 * standard error at the end (`maxRSS BYTES`), for bench/fleet.ts: a child's
 * peak is only known to the child itself.
 *
 *   node fleet-rss.js path/to/dist/cli/tclmail.js bulk ...
 */
 
const program = require(process.argv[2]) as { main(argv: string[]): Promise<number> };
program.main(process.argv.slice(3)).then(
  (status) => {
    process.stderr.write(`maxRSS ${process.resourceUsage().maxRSS * 1024}\n`);
    process.exitCode = status;
  },
  (error: unknown) => {
    process.stderr.write(`${String(error)}\n`);
    process.exitCode = 2;
  },
);
