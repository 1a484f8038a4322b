import {
  buildRequest,
  formDefaults,
  Latest,
  notebookHints,
  scriptKind
} from '../src/launch';

describe('which files run as jobs', () => {
  it.each([
    ['train.ipynb', 'notebook'],
    ['dir/Run.PY', 'python'],
    ['go.sh', 'shell'],
    ['data.csv', null],
    ['', null],
    [null, null]
  ])('%s -> %s', (path, kind) => {
    expect(scriptKind(path)).toBe(kind);
  });
});

describe('the launch form', () => {
  it("starts from the profile's defaults", () => {
    expect(
      formDefaults({ cpu: '4', memory: '16Gi', gpus: 1, gpu_model: 'T4' })
    ).toEqual({
      cpu: '4',
      memory: '16Gi',
      gpus: '1',
      gpuModel: 'T4',
      walltime: '',
      completions: '1',
      localOnly: false,
      homeVolume: false
    });
    expect(formDefaults(null)).toMatchObject({
      cpu: '1',
      memory: '2Gi',
      gpus: '0',
      gpuModel: ''
    });
  });

  it("lets a notebook's metadata override them", () => {
    const hints = notebookHints({
      aiinfn_hub: {
        resources: { gpus: 4, gpu_model: 'A100' },
        walltime: '8h',
        local_only: true
      }
    });
    expect(formDefaults({ cpu: '2', gpus: 0 }, hints)).toMatchObject({
      cpu: '2',
      gpus: '4',
      gpuModel: 'A100',
      walltime: '8h',
      localOnly: true
    });
    expect(notebookHints({ aiinfn_hub: [1] })).toBeNull();
    expect(notebookHints(null)).toBeNull();
    expect(notebookHints({ kernelspec: {} })).toBeNull();
  });

  it('builds the request the server extension takes', () => {
    const form = {
      ...formDefaults({ cpu: '2', memory: '8Gi', gpus: 0 }),
      gpus: ' 1 ',
      gpuModel: 'A100',
      walltime: '2h',
      completions: '5'
    };
    expect(
      buildRequest('a/train.ipynb', form, { client_request_id: 'r1' })
    ).toEqual({
      path: 'a/train.ipynb',
      resources: { cpu: '2', memory: '8Gi', gpus: 1, gpu_model: 'A100' },
      walltime: '2h',
      completions: 5,
      parallelism: 5,
      client_request_id: 'r1'
    });
    const local = buildRequest('x.py', {
      ...formDefaults(null),
      localOnly: true,
      homeVolume: true
    });
    expect(local).toMatchObject({ local_only: true, staging: 'home' });
    expect(local).not.toHaveProperty('walltime');
    expect(local).not.toHaveProperty('completions');
  });

  it('passes what is not a whole number on, for the server to name the fix', () => {
    const request = buildRequest('x.py', {
      ...formDefaults(null),
      gpus: 'two'
    });
    expect(request.resources?.gpus).toBe('two');
  });
});

describe('Latest', () => {
  it('keeps only the answer of the latest call', async () => {
    const latest = new Latest<string>();
    let release: (v: string) => void = () => undefined;
    const slow = latest.run(
      () => new Promise<string>(resolve => (release = resolve))
    );
    const fast = latest.run(async () => 'second');
    release('first');
    expect(await slow).toBeNull();
    expect(await fast).toEqual({ value: 'second' });
    const failed = await latest.run(async () => {
      throw new Error('no site can satisfy the walltime');
    });
    expect((failed?.error as Error).message).toBe(
      'no site can satisfy the walltime'
    );
  });
});
