/**
 * Test doubles: job views like the server's, and a fake Jupyter server behind `fetch`.
 */
import { ServerConnection } from '@jupyterlab/services';

import { IJob, ISite, JobsClient } from '../src/api';

let counter = 0;

/** A job view as GET /aiinfn-hub/api/jobs/{id} returns it, with `overrides`. */
export function makeJob(overrides: Partial<IJob> = {}): IJob {
  counter += 1;
  return {
    id: `job${String(counter).padStart(7, '0')}`,
    name: `train-${counter}.ipynb`,
    owner: 'alice',
    state: 'queued',
    site: 'leonardo',
    site_display: 'CINECA Leonardo',
    reason: 'queued at CINECA Leonardo',
    submitted: '2026-11-25T10:00:00Z',
    started: null,
    ended: null,
    plan: {
      requires_gpu: true,
      offloadable: true,
      reasons: {
        requires_gpu: 'requires a GPU: asks for 1 GPU',
        offloadable: 'offloadable'
      },
      sites: [
        { name: 'leonardo', reason: 'first choice' },
        { name: 'local', reason: 'fallback' }
      ],
      ruled_out: [{ name: 'tier1', reason: 'has no GPUs' }]
    },
    attempts: [],
    fallback: '',
    progress: { completions: 1, succeeded: 0, failed: 0, active: 0 },
    ...overrides
  };
}

export interface IRecorded {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
}

export type Handler = (request: IRecorded) =>
  | {
      status: number;
      body?: unknown;
      text?: string;
    }
  | 'network-error';

/** A fake server: `handler` answers each request; every request is recorded. */
export function fakeServer(handler: Handler): {
  client: JobsClient;
  requests: IRecorded[];
} {
  const requests: IRecorded[] = [];
  const fetch = async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const text = await request.text();
    const recorded: IRecorded = {
      method: request.method,
      path: url.pathname.replace(/^\/lab-base\/aiinfn-hub\/api\//, ''),
      query: url.searchParams,
      body: text ? JSON.parse(text) : undefined
    };
    requests.push(recorded);
    const answer = handler(recorded);
    if (answer === 'network-error') {
      throw new TypeError('Failed to fetch');
    }
    const body = answer.text ?? JSON.stringify(answer.body ?? null);
    return new Response(body, { status: answer.status });
  };
  const settings = ServerConnection.makeSettings({
    baseUrl: 'http://lab.test/lab-base/',
    fetch: fetch as unknown as typeof window.fetch
  });
  return { client: new JobsClient(settings), requests };
}

/** Wait until `probe()` is truthy, failing after `timeout` ms (no fixed sleeps). */
export async function waitFor<T>(
  probe: () => T,
  timeout = 5000,
  what = 'condition'
): Promise<T> {
  const deadline = Date.now() + timeout;
  for (;;) {
    const value = probe();
    if (value) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise(resolve => setTimeout(resolve, 5));
  }
}

const GI = 2 ** 30;

type Capacity = ISite['capacity'];

function site(
  name: string,
  display_name: string,
  kind: ISite['kind'],
  capacity: Capacity
): ISite {
  return {
    name,
    display_name,
    kind,
    health: { usable: true, state: 'ok' },
    capacity,
    queue: { pending: 0, reasons: [] },
    gpu_models: (capacity.models ?? []).map(m => m.model)
  };
}

function gpu(model: string, free: number, total: number, per_job: number) {
  return { model, free, total, per_job, mig: model.includes('-MIG-') };
}

/**
 * The sites as GET /sites shows the default catalogue: CINECA Leonardo (4 A100 per job),
 * CNAF Tier-1 (no GPUs, the most CPUs), Local resources (several models, MIG slices).
 */
export function makeSites(): ISite[] {
  return [
    site('leonardo', 'CINECA Leonardo', 'offload', {
      gpus: { free: 30, total: 32 },
      cpu: { free: 1000, total: 1024 },
      models: [gpu('A100', 30, 32, 4)],
      per_job: { cpu: 32, memory: 480 * GI, walltime: 86400 }
    }),
    site('tier1', 'CNAF Tier-1', 'offload', {
      gpus: { free: 0, total: 0 },
      cpu: { free: 2048, total: 2048 },
      models: [],
      per_job: { cpu: 64, memory: 256 * GI, walltime: 3 * 86400 }
    }),
    site('local', 'Local resources', 'local', {
      gpus: { free: 15, total: 17 },
      cpu: { free: 200, total: 208 },
      models: [
        gpu('T4', 2, 2, 2),
        gpu('RTX5000', 4, 4, 4),
        gpu('A100', 4, 4, 4),
        gpu('A100-MIG-1g.10gb', 5, 7, 7)
      ],
      per_job: { cpu: 16, memory: 64 * GI, walltime: 7 * 86400 }
    })
  ];
}
