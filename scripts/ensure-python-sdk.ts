// npm's postinstall hook (and .ci/run) call this so the SDK conformance test finds the official Python SDK in
// .tools/venv (src/dev/python-sdk.ts says what is installed and why pysha3 is replaced).
import { ensurePythonSdk, PYTHON_SDK_VERSION } from '../src/dev/python-sdk';

try {
  const python = ensurePythonSdk();
  console.log(`cvmflow: Phala Cloud Python SDK ${PYTHON_SDK_VERSION} ready: ${python}`);
} catch (err) {
  console.error(`cvmflow: ${(err as Error).message}`);
  process.exit(1);
}
