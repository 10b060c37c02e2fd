// Each test file runs in its own process; the Temporal runtime (and its logger) is installed once per process.
import { DefaultLogger, Runtime } from '@temporalio/worker';

try {
  Runtime.install({ logger: new DefaultLogger('WARN') });
} catch {
  // Already installed in this process.
}
