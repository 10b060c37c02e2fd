// Tour step of the attestation gate: a deploy that requires attestation, first against a CVM whose attestation
// proves another compose than the one deployed (a simulator fault) — refused, with the hashes named, and rolled back
// — then again without the fault: accepted, with the registers and the quote's status as evidence.
import { WorkflowFailedError } from '@temporalio/client';
import type { DemoStep } from '../types';
import { deployAndFollow, deploymentSpec } from '../util';

const APP = 'demo-attested';
const COMPOSE = 'services:\n  web:\n    image: nginx:1.27-alpine\n    ports:\n      - "80:80"\n';

export const attestationGate: DemoStep = {
  title: 'attestation gate',
  async run(ctx) {
    ctx.say(
      `Deploying ${APP} with attestation required: "running" counts only once the CVM's attestation proves the compose we deployed (event log replayed to RTMR3, compose hash, app id, OS image).`,
    );
    const spec = deploymentSpec({ name: APP, compose: { inline: COMPOSE }, attestation: { require: true } });
    const forged = 'demo-forged-attestation';
    ctx.stack.sim.addFaults({ cvms: [{ id: forged, cvm: APP, attestation: 'wrong-compose-hash' }] });
    ctx.say(`Injected fault: ${APP} attests a compose nobody deployed.`);
    try {
      await deployAndFollow(ctx, spec);
      throw new Error('the forged attestation was accepted');
    } catch (err) {
      if (!(err instanceof WorkflowFailedError)) throw err;
      const reason = /failed attestation: ([^;]*)/.exec(err.cause?.message ?? '')?.[1];
      if (!reason) throw err;
      ctx.say(`Refused and rolled back: ${reason.replace(/([0-9a-f]{12})[0-9a-f]{52}/g, '$1…')}.`);
    } finally {
      ctx.stack.sim.removeFault(forged);
    }
    const r = await deployAndFollow(ctx, spec);
    const evidence = r.result.cvms[0]?.attestation;
    ctx.say(
      `Without the fault: accepted. rtmr3 ${evidence?.registers?.rtmr3.slice(0, 16)}…, compose ${evidence?.composeHash?.slice(0, 12)}, quote ${evidence?.quoteStatus}.`,
    );
    return { ...r, outcome: 'refused a forged attestation, accepted the real one' };
  },
};
