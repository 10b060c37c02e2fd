// cvmflow as a library: start a deployment from your own code, follow it, then read the CVMs back from the API.
// With the dev stack running: `source .data/dev.env && npx tsx examples/library.ts`.
import { connectClient, loadSpecFile, loadTemporalConfig, PhalaClient, startDeploy } from 'cvmflow';

const config = loadTemporalConfig(); // TEMPORAL_ADDRESS, CVMFLOW_CODEC_KEY, … (the CLI's variables)
const client = await connectClient(config);
const spec = loadSpecFile('examples/hello.yaml', { kinds: ['Deployment'] });
const handle = await startDeploy(spec, { client, taskQueue: config.taskQueue, codecKeys: config.codecKeys });
const result = await handle.result(); // survives this process dying: the deploy runs in the worker
console.log(`${result.app}: ${result.mode}, ${result.cvms.length} CVMs`);

const phala = PhalaClient.fromEnv(); // PHALA_CLOUD_API_KEY, PHALA_CLOUD_API_PREFIX
for (const cvm of result.cvms) {
  const state = await phala.getCvmState(cvm.cvmId);
  console.log(`  ${cvm.cvmId} on node ${cvm.nodeId}: ${state.status}`);
}
await phala.close();
await client.connection.close();
