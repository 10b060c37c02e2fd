// What a trigger does: take the server's own BlueGreen spec for the app (the caller may only swap the compose
// text, never env sources or files — those stay under the server's control), validate the result like any spec,
// and launch it once per delivery id (see triggerBlueGreen).
import { dirname, resolve } from 'node:path';
import type { Client } from '@temporalio/client';
import { triggerBlueGreen } from '../client/bluegreen';
import type { DeployTuning } from '../client/deploy';
import { SpecError, validateSpec } from '../spec';
import type { BlueGreenSpec } from '../spec/bluegreen';
import { readTextFile } from '../spec/files';
import { parseYaml } from '../spec/yaml';
import type { CodecKey } from '../temporal/codec';
import type { BlueGreenTuning } from '../workflows/bluegreen-types';
import type { TriggerAnswer, TriggerHandler, TriggerRequest } from './server';

interface LoadedSpec {
  /** The document as written: a new compose text is validated by re-reading it with that one field changed. */
  document: Record<string, unknown>;
  baseDir: string;
  source: string;
}

/** The BlueGreen specs a trigger server deploys, by app name. */
export class TriggerSpecs {
  private readonly byApp = new Map<string, LoadedSpec>();

  /** Loads and validates spec files; throws SpecError (exit 2) for the first bad one. */
  static load(paths: string[]): TriggerSpecs {
    const specs = new TriggerSpecs();
    for (const path of paths) {
      const read = readTextFile(path);
      if (!read.ok) throw new SpecError(path, [{ path: '', message: read.problem }]);
      const parsed = parseYaml(read.text);
      if (!parsed.ok) throw new SpecError(path, [{ path: '', message: parsed.problem }]);
      specs.add(parsed.value as Record<string, unknown>, dirname(resolve(path)), path);
    }
    return specs;
  }

  add(document: Record<string, unknown>, baseDir: string, source: string): BlueGreenSpec {
    const spec = validateSpec(document, { source, baseDir, kinds: ['BlueGreen'] }) as BlueGreenSpec;
    if (this.byApp.has(spec.name))
      throw new SpecError(source, [{ path: 'name', message: `${spec.name} is served twice` }]);
    this.byApp.set(spec.name, { document, baseDir, source });
    return spec;
  }

  apps(): string[] {
    return [...this.byApp.keys()];
  }

  /** The app's spec, with the compose text a trigger brought (validated as if written in the file). */
  resolve(app: string, compose?: string): BlueGreenSpec {
    const loaded = this.byApp.get(app);
    if (!loaded) throw new Error(`no spec for ${app}`);
    const own = (loaded.document.compose ?? {}) as Record<string, unknown>;
    const document =
      compose === undefined
        ? loaded.document
        : {
            ...loaded.document,
            compose: { inline: compose, ...(own.preLaunchScript ? { preLaunchScript: own.preLaunchScript } : {}) },
          };
    return validateSpec(document, {
      source: `${loaded.source} (compose from the trigger)`,
      baseDir: loaded.baseDir,
      kinds: ['BlueGreen'],
    }) as BlueGreenSpec;
  }
}

export interface TriggerHandlerOptions {
  client: Client;
  taskQueue: string;
  specs: TriggerSpecs;
  codecKeys?: CodecKey[];
  /** Where the specs' `fromEnv` values are read: the server's environment. */
  env?: NodeJS.ProcessEnv;
  tuning?: DeployTuning & BlueGreenTuning;
}

export function createTriggerHandler(opts: TriggerHandlerOptions): TriggerHandler {
  return async (req: TriggerRequest): Promise<TriggerAnswer> => {
    let spec: BlueGreenSpec;
    try {
      spec = opts.specs.resolve(req.app, req.compose);
    } catch (err) {
      if (err instanceof SpecError) return { status: 400, body: { error: 'invalid compose', problems: err.problems } };
      throw err;
    }
    const outcome = await triggerBlueGreen(spec, req.replayKey, {
      client: opts.client,
      taskQueue: opts.taskQueue,
      codecKeys: opts.codecKeys,
      env: opts.env,
      trigger: { by: req.by, reason: req.reason },
      tuning: opts.tuning,
    });
    const body = {
      app: req.app,
      deliveryId: req.deliveryId,
      duplicate: outcome.duplicate,
      workflowId: outcome.workflowId,
      runId: outcome.runId,
      deliveryWorkflowId: outcome.deliveryWorkflowId,
      ...(outcome.superseded ? { superseded: outcome.superseded } : {}),
    };
    if (outcome.status === 'rejected') return { status: 409, body: { ...body, error: outcome.reason } };
    return { status: 202, body };
  };
}
