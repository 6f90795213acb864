/**
 * One run of one workload by one client (tclmail, nodemailer, or the raw Node
 * floor), in a process of its own so
 * that runs cannot warm or litter each other's heap and the peak RSS is the
 * run's own. Usage: `node client.js '<RunSpec as JSON>'`; prints the RunResult
 * as JSON on its last line.
 */
import type { RunResult, RunSpec } from './workloads';

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '{}') as RunSpec;
  let result: RunResult;
  // Only the client under test is loaded: the other's modules would count in the peak RSS.
  if (spec.implementation === 'tclmail') result = await (require('./tclmail') as typeof import('./tclmail')).runTclmail(spec);
  else if (spec.implementation === 'nodemailer') result = await (require('./nodemailer') as typeof import('./nodemailer')).runNodemailer(spec);
  else if (spec.implementation === 'raw-node') result = await (require('./raw') as typeof import('./raw')).runRaw(spec);
  else throw new Error(`client.js runs tclmail, nodemailer or raw-node, not ${String(spec.implementation)}`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack ?? error.message : String(error)}\n`);
    process.exit(1);
  },
);
