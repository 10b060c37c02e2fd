// Activities of the deploy pipeline: thin adapters over the Phala client, each one idempotent or checked before it
// acts, so that a retry — or a second worker after a crash — never creates a second CVM.
import { ApplicationFailure, activityInfo, cancellationSignal, heartbeat, sleep } from '@temporalio/activity';
import { GONE_STATUSES } from '../domain/cvm-status';
import type { PhalaClient } from '../phala/client';
import { encryptEnvVars } from '../phala/env-encryption';
import { PhalaApiError } from '../phala/errors';
import { unsealEnv } from '../secrets/sealed-env';
import type { CodecKey } from '../temporal/codec';
import type { KmsKind } from '../workflows/deploy-types';
import { busyRetrier } from './busy';
import { classified } from './failures';
import type { WatchHub } from './watch-hub';

export interface DeployActivityDeps {
  phala: PhalaClient;
  hub: WatchHub;
  /** The worker's codec key ring: it unseals env values (see src/secrets/sealed-env.ts). */
  codecKeys?: CodecKey[];
  /** How long to wait between tries while the API answers 409 "operation in progress". */
  busyRetryMs?: number;
  /** Give up waiting on a busy CVM after this long and let the activity's retry policy decide. */
  busyMaxWaitMs?: number;
}

export interface CvmRef {
  cvmId: string;
  appId: string;
  nodeId: number | null;
  status: string;
}

export interface ProvisionResult {
  composeHash: string;
  nodeId: number | null;
  /** Centralized (phala) KMS: the app id and its env key come with the provision. */
  appId?: string;
  encryptPubkey?: string;
  /** On-chain KMS: what the app's on-chain registration needs. */
  onChain?: { kmsId: string; kmsContractAddress: string; chainId: number | null; deviceId: string };
}

export interface WatchCheckpoint {
  startedAtMs: number;
  lastStatus?: string;
}

export function createDeployActivities(deps: DeployActivityDeps) {
  const { phala, hub } = deps;

  const whileBusy = busyRetrier(deps);

  async function appCvms(appId: string): Promise<CvmRef[]> {
    const list = await phala.getAppCvms(appId, { signal: cancellationSignal() });
    return list
      .filter((c) => c.status !== 'deleting' && c.vm_uuid)
      .map((c) => ({ cvmId: c.vm_uuid!, appId: c.app_id ?? appId, nodeId: c.node_info?.id ?? null, status: c.status }));
  }

  /**
   * A CVM being deleted still holds its name, so a deploy right after a rolled-back one (whose CVM the inspect step
   * rightly ignored as gone) is refused with "already exists" until the deletion ends. That refusal is a wait, not a
   * conflict: retried (as PhalaBusy) while every CVM of that name is being deleted; a live one stays a conflict.
   */
  async function whileNameReleases<T>(name: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof PhalaApiError) || err.status !== 409 || err.errorCode !== 'ERR-01-004') throw err;
      const apps = await phala.listApps({ page: 1, pageSize: 100, search: name }, { signal: cancellationSignal() });
      const holders: string[] = [];
      for (const a of apps.apps)
        if (a.name === name)
          for (const c of await phala.getAppCvms(a.app_id, { signal: cancellationSignal() })) holders.push(c.status);
      if (holders.length === 0 || holders.some((status) => !GONE_STATUSES.has(status))) throw err;
      throw ApplicationFailure.create({
        type: 'PhalaBusy',
        message: `the name ${name} is still held by a CVM being deleted; provisioning again once it is gone`,
        nextRetryDelay: 2_000,
      });
    }
  }

  return {
    /**
     * Every live CVM of the apps carrying this name (the primary and its replicas). The app list is searched by
     * name rather than the CVM list walked page by page: the walk costs a call per 100 CVMs of the whole fleet on
     * every deploy, which is what limited 1,000 concurrent deploys (bench/README.md, concurrency).
     */
    async findAppCvms({ app }: { app: string }): Promise<CvmRef[]> {
      return classified(`find CVMs of ${app}`, async () => {
        const found: CvmRef[] = [];
        for (let page = 1; ; page++) {
          const res = await phala.listApps({ page, pageSize: 100, search: app }, { signal: cancellationSignal() });
          for (const a of res.apps) if (a.name === app) found.push(...(await appCvms(a.app_id)));
          if (page >= res.pages) return found;
        }
      });
    },

    async provisionCvm(req: {
      app: string;
      dockerCompose: string;
      preLaunchScript?: string;
      allowedEnvs: string[];
      resources: { instanceType?: string; vcpu?: number; memoryMb?: number; diskGb?: number };
      image?: string;
      kms: KmsKind;
      nodeId?: number;
      visibility: { publicLogs: boolean; publicSysinfo: boolean; publicTcbinfo: boolean };
    }): Promise<ProvisionResult> {
      return classified(`provision ${req.app}`, async () => {
        // Provisioning creates nothing but a cached plan keyed by compose hash, so a retry is harmless.
        const res = await whileNameReleases(req.app, () =>
          phala.provisionCvm(
            {
              name: req.app,
              compose_file: {
                docker_compose_file: req.dockerCompose,
                ...(req.preLaunchScript ? { pre_launch_script: req.preLaunchScript } : {}),
                allowed_envs: req.allowedEnvs,
                public_logs: req.visibility.publicLogs,
                public_sysinfo: req.visibility.publicSysinfo,
                public_tcbinfo: req.visibility.publicTcbinfo,
                name: '',
              },
              instance_type: req.resources.instanceType,
              vcpu: req.resources.vcpu,
              memory: req.resources.memoryMb,
              disk_size: req.resources.diskGb,
              image: req.image,
              kms: req.kms.toUpperCase(),
              teepod_id: req.nodeId,
              listed: false,
            },
            { signal: cancellationSignal() },
          ),
        );
        const nodeId = res.teepod_id ?? res.node_id ?? null;
        if (req.kms !== 'phala') {
          // On-chain KMS: no app id yet — the app is registered on chain next, at an address the chain assigns.
          const kms = res.kms_info;
          if (!kms?.kms_contract_address || !res.device_id) {
            throw new PhalaApiError({
              message: 'provision for an on-chain KMS returned no kms_info.kms_contract_address or device_id',
              status: 502,
              endpoint: 'POST /cvms/provision',
            });
          }
          return {
            composeHash: res.compose_hash,
            nodeId,
            onChain: {
              kmsId: kms.slug ?? kms.id,
              kmsContractAddress: kms.kms_contract_address,
              chainId: kms.chain_id,
              deviceId: res.device_id,
            },
          };
        }
        if (!res.app_id || !res.app_env_encrypt_pubkey) {
          throw new PhalaApiError({
            message: 'provision returned no app_id or app_env_encrypt_pubkey',
            status: 502,
            endpoint: 'POST /cvms/provision',
          });
        }
        return { appId: res.app_id, composeHash: res.compose_hash, encryptPubkey: res.app_env_encrypt_pubkey, nodeId };
      });
    },

    /** The env encryption key of an on-chain app, signed by the KMS. */
    async kmsEnvPubkey({ kmsId, appId }: { kmsId: string; appId: string }): Promise<string> {
      return classified(
        `fetch env key of app ${appId}`,
        async () => (await phala.getAppEnvEncryptPubKey(kmsId, appId, { signal: cancellationSignal() })).public_key,
      );
    },

    /** The TDX device id of a node: on-chain apps must allow it before a CVM may boot there. */
    async nodeDeviceId({ nodeId }: { nodeId: number }): Promise<string> {
      return classified(`look up node ${nodeId}`, async () => {
        const nodes = await phala.getAvailableNodes({ signal: cancellationSignal() });
        const node = nodes.nodes.find((n) => n.teepod_id === nodeId);
        if (!node?.device_id)
          throw new PhalaApiError({
            message: `node ${nodeId} is not available or reports no device_id`,
            status: 404,
            endpoint: 'GET /teepods/available',
          });
        return node.device_id;
      });
    },

    /** Unseals the caller's env values and encrypts them for the CVM; only ciphertext leaves this function. */
    async encryptEnv({
      sealedEnv,
      publicKey,
    }: {
      sealedEnv: string;
      publicKey: string;
    }): Promise<{ encryptedEnv: string; envKeys: string[] }> {
      return classified('encrypt env', async () => {
        const vars = unsealEnv(sealedEnv, deps.codecKeys);
        return { encryptedEnv: encryptEnvVars(vars, publicKey), envKeys: [...new Set(vars.map((v) => v.key))].sort() };
      });
    },

    /** Idempotent on (app_id, compose_hash): a retry gets the CVM the first attempt created. */
    async commitCvm(req: {
      appId: string;
      composeHash: string;
      encryptedEnv?: string;
      envKeys?: string[];
      kmsId?: string;
    }): Promise<CvmRef> {
      return classified(`commit app ${req.appId}`, async () => {
        // On-chain apps name their KMS and contract (the app id is the DstackApp address).
        const onChain = req.kmsId ? { kms_id: req.kmsId, contract_address: req.appId } : {};
        const res = await phala.commitCvmProvision(
          {
            app_id: req.appId,
            compose_hash: req.composeHash,
            encrypted_env: req.encryptedEnv,
            env_keys: req.envKeys,
            ...onChain,
          },
          { signal: cancellationSignal() },
        );
        if (!res.vm_uuid)
          throw new PhalaApiError({
            message: 'commit returned no vm_uuid',
            status: 502,
            endpoint: 'POST /cvms',
            retryable: true,
          });
        return { cvmId: res.vm_uuid, appId: req.appId, nodeId: res.teepod_id ?? null, status: res.status };
      });
    },

    /**
     * Creates one replica — or adopts the one an earlier attempt of this same step created: the workflow passes the
     * CVMs it already knows, and creates replicas one at a time, so an unknown CVM of the app can only be ours. Only a
     * retry can find one (the step's first attempt is the first to act), so only a retry pays for the list call.
     */
    async createReplica(req: {
      appId: string;
      sourceCvmId: string;
      nodeId?: number;
      knownCvmIds: string[];
    }): Promise<CvmRef> {
      return classified(`replicate ${req.sourceCvmId}`, async () => {
        if (activityInfo().attempt > 1) {
          const known = new Set(req.knownCvmIds);
          const adopted = (await appCvms(req.appId)).find((c) => !known.has(c.cvmId));
          if (adopted) return adopted;
        }
        const vm = await whileBusy(() =>
          phala.replicateCvm(req.sourceCvmId, { nodeId: req.nodeId }, { signal: cancellationSignal() }),
        );
        if (!vm.vm_uuid)
          throw new PhalaApiError({
            message: 'replicate returned no vm_uuid',
            status: 502,
            endpoint: 'POST /cvms/{id}/replicas',
            retryable: true,
          });
        return { cvmId: vm.vm_uuid, appId: req.appId, nodeId: vm.teepod_id ?? null, status: vm.status };
      });
    },

    /** Compensation for a new app: deletes every CVM of it; 404 counts as done. Returns the deleted CVM ids. */
    async deleteAppCvms({ appId }: { appId: string }): Promise<string[]> {
      return classified(`delete CVMs of app ${appId}`, async () => {
        let cvms: CvmRef[];
        try {
          cvms = await appCvms(appId);
        } catch (err) {
          if (err instanceof PhalaApiError && err.status === 404) return [];
          throw err;
        }
        for (const c of cvms) {
          try {
            await phala.deleteCvm(c.cvmId, { signal: cancellationSignal() });
          } catch (err) {
            if (!(err instanceof PhalaApiError && err.status === 404)) throw err;
          }
        }
        return cvms.map((c) => c.cvmId);
      });
    },

    /** Waits for a CVM state through the worker's shared watch hub; resumes its deadline after a crash. */
    async watchCvm(req: {
      cvmId: string;
      target: string;
      timeoutMs: number;
      intervalS?: number;
      timeoutS?: number;
      expectComposeHash?: string;
    }): Promise<{ status: string; elapsedMs: number }> {
      return classified(`watch ${req.cvmId} until ${req.target}`, async () => {
        const cp: WatchCheckpoint = (activityInfo().heartbeatDetails as WatchCheckpoint | undefined) ?? {
          startedAtMs: Date.now(),
        };
        const deadlineMs = cp.startedAtMs + req.timeoutMs;
        heartbeat(cp);
        const beat = setInterval(() => heartbeat(cp), 1000);
        try {
          for (;;) {
            const state = await hub.watch({
              cvmId: req.cvmId,
              target: req.target,
              deadlineMs,
              signal: cancellationSignal(),
              stream: { intervalS: req.intervalS, timeoutS: req.timeoutS },
              onState: (s) => {
                cp.lastStatus = s.status;
              },
            });
            cp.lastStatus = state.status;
            if (!req.expectComposeHash) return { status: state.status, elapsedMs: Date.now() - cp.startedAtMs };
            // After an update the CVM may still report its old, stable state for a moment: insist on the new hash.
            const cvm = await phala.getCvm(req.cvmId, { signal: cancellationSignal() });
            if (cvm.compose_hash === req.expectComposeHash)
              return { status: state.status, elapsedMs: Date.now() - cp.startedAtMs };
            await sleep(500);
          }
        } finally {
          clearInterval(beat);
        }
      });
    },

    // prepareComposeUpdate, commitComposeUpdate and restoreCompose serve deploy runs recorded before the one
    // compose-update path (patch 'one-compose-update', compose-update-activities.ts); new runs never call them.

    /** Phase 1 of a compose update; returns the new hash and what is needed to restore the previous compose. */
    async prepareComposeUpdate(req: {
      cvmId: string;
      dockerCompose: string;
      preLaunchScript?: string;
      allowedEnvs: string[];
      visibility: { publicLogs: boolean; publicSysinfo: boolean; publicTcbinfo: boolean };
    }): Promise<{
      composeHash: string;
      previousComposeHash: string;
      previousAppCompose: Record<string, unknown>;
      encryptPubkey: string;
      /** On-chain KMS: the app's contract, whose allow-list must hold the new hash before the commit. */
      onChain?: { appId: string };
    }> {
      return classified(`prepare compose update of ${req.cvmId}`, async () => {
        const signal = cancellationSignal();
        const [current, cvm] = await Promise.all([
          phala.getComposeFile(req.cvmId, { signal }),
          phala.getCvm(req.cvmId, { signal }),
        ]);
        const next: Record<string, unknown> = {
          ...current,
          docker_compose_file: req.dockerCompose,
          allowed_envs: req.allowedEnvs,
          public_logs: req.visibility.publicLogs,
          public_sysinfo: req.visibility.publicSysinfo,
          public_tcbinfo: req.visibility.publicTcbinfo,
        };
        if (req.preLaunchScript) next.pre_launch_script = req.preLaunchScript;
        else delete next.pre_launch_script;
        const provisioned = await whileBusy(() => phala.provisionComposeFileUpdate(req.cvmId, next, { signal }));
        const pubkey = cvm.kms_info?.encrypted_env_pubkey;
        if (!pubkey)
          throw new PhalaApiError({
            message: `CVM ${req.cvmId} reports no env encryption public key`,
            status: 502,
            endpoint: 'GET /cvms/{id}',
            retryable: true,
          });
        const onChainKms = cvm.kms_type === 'ethereum' || cvm.kms_type === 'base';
        const appAddress =
          cvm.kms_info?.dstack_app_address ??
          (provisioned.app_id ? `0x${provisioned.app_id.replace(/^0x/i, '')}` : undefined);
        return {
          composeHash: provisioned.compose_hash,
          previousComposeHash: cvm.compose_hash ?? '',
          previousAppCompose: current,
          encryptPubkey: pubkey,
          ...(onChainKms && appAddress ? { onChain: { appId: appAddress } } : {}),
        };
      });
    },

    /** Phase 2 of a compose update (the CVM restarts with the new compose). Re-applying the same hash is harmless. */
    async commitComposeUpdate(req: {
      cvmId: string;
      composeHash: string;
      encryptedEnv?: string;
      envKeys?: string[];
    }): Promise<void> {
      return classified(`commit compose update of ${req.cvmId}`, async () => {
        await whileBusy(() =>
          phala.commitComposeFileUpdate(
            req.cvmId,
            { composeHash: req.composeHash, encryptedEnv: req.encryptedEnv, envKeys: req.envKeys },
            { signal: cancellationSignal() },
          ),
        );
      });
    },

    /**
     * Compensation of an update: provisions and commits the previous app-compose again — unless the CVM still runs
     * it (the update never reached this CVM), which makes the compensation safe to run whatever happened.
     */
    async restoreCompose(req: {
      cvmId: string;
      appCompose: Record<string, unknown>;
      previousComposeHash: string;
    }): Promise<{ composeHash: string; changed: boolean }> {
      return classified(`restore compose of ${req.cvmId}`, async () => {
        const signal = cancellationSignal();
        const cvm = await phala.getCvm(req.cvmId, { signal });
        if (cvm.compose_hash === req.previousComposeHash)
          return { composeHash: req.previousComposeHash, changed: false };
        const provisioned = await whileBusy(() =>
          phala.provisionComposeFileUpdate(req.cvmId, req.appCompose, { signal }),
        );
        await whileBusy(() =>
          phala.commitComposeFileUpdate(req.cvmId, { composeHash: provisioned.compose_hash }, { signal }),
        );
        return { composeHash: provisioned.compose_hash, changed: true };
      });
    },
  };
}
