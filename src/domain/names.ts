// Names shared by workflows, activities, clients and the CLI: the search attributes every cvmflow workflow sets and
// the workflow ids that serve as per-app locks. Plain values, safe in the workflow sandbox and outside it.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const SA_APP = defineSearchAttributeKey('CvmflowApp', SearchAttributeType.KEYWORD);
export const SA_KIND = defineSearchAttributeKey('CvmflowKind', SearchAttributeType.KEYWORD);
export const SA_PHASE = defineSearchAttributeKey('CvmflowPhase', SearchAttributeType.KEYWORD);

/** One deployment per app at a time: the workflow id is the app's. */
export const deployWorkflowId = (app: string) => `deploy-${app}`;

/**
 * The power schedule's query a batch held for its instant asks (power-hold.ts): are its calls still wanted. Named
 * here because the activity asks by name (activities import no workflow code).
 */
export const POWER_HELD_BATCH_WANTED_QUERY = 'heldBatchWanted';
