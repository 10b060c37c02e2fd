// The registry of spec kinds: the loader reads `kind` and validates the document with that kind's schema.
// A new kind (BlueGreen, Rollout, PowerSchedule) is one entry here; `Spec` and the loader follow from it.
import type { z } from 'zod';
import { blueGreenSchema } from './bluegreen';
import { deploymentSchema } from './deployment';
import { powerScheduleSchema } from './power';
import { rolloutSchema } from './rollout';
import type { SpecContext } from './schema';

export const specKinds = {
  Deployment: deploymentSchema,
  BlueGreen: blueGreenSchema,
  PowerSchedule: powerScheduleSchema,
  Rollout: rolloutSchema,
} satisfies Record<string, (ctx: SpecContext) => z.ZodType>;

export type SpecKind = keyof typeof specKinds;

/** The loaded spec of one kind. */
export type SpecOf<K extends SpecKind> = z.output<ReturnType<(typeof specKinds)[K]>>;

/** Any loaded spec; narrow on `kind`. */
export type Spec = SpecOf<SpecKind>;

export function isSpecKind(kind: unknown): kind is SpecKind {
  return typeof kind === 'string' && Object.hasOwn(specKinds, kind);
}
