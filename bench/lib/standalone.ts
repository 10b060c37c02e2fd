// Running one benchmark file alone (`npx tsx bench/<name>.ts [--quick]`): its own Temporal dev server, the same
// context the suite builds, the output printed as JSON with its goals judged. Exits 1 when an invariant breaks.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startTemporalDevServer } from '../../src/dev/temporal-server';
import { type BenchOutput, judge } from './report';
import { type BenchContext, codecKeysOf, newCodecKeyText } from './stack';
import { round } from './stats';

export function standalone(run: (ctx: BenchContext) => Promise<BenchOutput>): void {
  const main = async () => {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    const server = await startTemporalDevServer({ fastSqlite: true, readyTimeoutMs: 90_000 });
    const codecKeyText = newCodecKeyText();
    const ctx: BenchContext = {
      quick: process.argv.includes('--quick'),
      temporal: { address: server.address, namespace: server.namespace },
      codecKeyText,
      codecKeys: codecKeysOf(codecKeyText),
      log: (line) => process.stderr.write(`${line}\n`),
    };
    const started = performance.now();
    try {
      const out = await run(ctx);
      const durationS = round((performance.now() - started) / 1000, 1);
      process.stdout.write(`${JSON.stringify({ ...out, goals: judge(out.goals, out.figures), durationS }, null, 2)}\n`);
    } finally {
      await server.stop();
    }
  };
  main().then(
    () => process.exit(0),
    (err) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
