import { formDefaults, ILaunchForm } from '../src/launch';
import {
  canonicalModel,
  gpuChoices,
  isValid,
  LABELS,
  validateForm
} from '../src/validate';
import { makeSites } from './fixtures';

const sites = makeSites();

function form(changes: Partial<ILaunchForm> = {}): ILaunchForm {
  return { ...formDefaults(null), ...changes };
}

describe('the launch form, checked field by field', () => {
  it('accepts the defaults', () => {
    expect(validateForm(form(), sites)).toEqual({});
    expect(isValid(validateForm(form(), sites))).toBe(true);
  });

  it('says what the largest site gives one job of a GPU model', () => {
    const errors = validateForm(form({ gpus: '8', gpuModel: 'A100' }), sites);
    expect(errors).toEqual({
      gpus: 'GPUs: the largest site, CINECA Leonardo, offers at most 4 A100 GPUs to one job'
    });
    expect(validateForm(form({ gpus: '4', gpuModel: 'A100' }), sites)).toEqual(
      {}
    );
  });

  it('with any model, the most any pool gives, not a fixed cap', () => {
    expect(validateForm(form({ gpus: '65' }), sites).gpus).toBe(
      'GPUs: the largest site, Local resources, offers at most 7 A100-MIG-1g.10gb MIG slices to one job'
    );
    expect(validateForm(form({ gpus: '7' }), sites)).toEqual({});
  });

  it('names the form of a number the field takes', () => {
    expect(validateForm(form({ gpus: 'two' }), sites).gpus).toBe(
      'GPUs must be a whole number: 0 for none, or 1 or more'
    );
    expect(validateForm(form({ cpu: 'lots' }), sites).cpu).toBe(
      'CPUs must be a number of cores, such as 2, 0.5 or 500m'
    );
    expect(validateForm(form({ memory: '8 GB' }), sites).memory).toBe(
      'Memory must be a size, such as 8Gi, 512Mi or 4G'
    );
    expect(validateForm(form({ walltime: 'soon' }), sites).walltime).toMatch(
      /^Time limit must be a duration, such as 90s/
    );
    for (const completions of ['0', '1001', 'x', '-2']) {
      expect(validateForm(form({ completions }), sites).completions).toBe(
        'Array size must be a whole number from 1 to 1000'
      );
    }
    expect(validateForm(form({ cpu: '0' }), sites).cpu).toBeDefined();
  });

  it('takes the limits from the sites the job could go to', () => {
    expect(validateForm(form({ cpu: '100' }), sites).cpu).toBe(
      'CPUs: the largest site, CNAF Tier-1, offers at most 64 CPUs to one job'
    );
    // A GPU job cannot go to CNAF Tier-1 (no GPUs): CINECA Leonardo has the most CPUs.
    expect(validateForm(form({ cpu: '40', gpus: '1' }), sites).cpu).toBe(
      'CPUs: the largest site, CINECA Leonardo, offers at most 32 CPUs to one job'
    );
    expect(validateForm(form({ cpu: '20', localOnly: true }), sites).cpu).toBe(
      'CPUs: the only site for this job, Local resources, offers at most 16 CPUs to one job'
    );
    expect(
      validateForm(form({ memory: '100Gi', homeVolume: true }), sites).memory
    ).toBe(
      'Memory: the only site for this job, Local resources, offers at most 64Gi to one job'
    );
    expect(validateForm(form({ memory: '1Ti' }), sites).memory).toBe(
      'Memory: the largest site, CINECA Leonardo, offers at most 480Gi to one job'
    );
    expect(validateForm(form({ walltime: '10d' }), sites).walltime).toBe(
      'Time limit: the site with the longest limit, Local resources, allows at most 7d for one job'
    );
    expect(validateForm(form({ walltime: '2d', gpus: '1' }), sites)).toEqual(
      {}
    );
  });

  it('checks the GPU model against the GPUs asked and the sites', () => {
    expect(validateForm(form({ gpuModel: 'A100' }), sites)).toEqual({
      gpuModel:
        'GPU model: set GPUs to 1 or more to ask for a model, or choose any'
    });
    expect(validateForm(form({ gpus: '1', gpuModel: 'a100' }), sites)).toEqual(
      {}
    );
    expect(validateForm(form({ gpus: '1', gpuModel: 'H100' }), sites)).toEqual({
      gpuModel: 'GPU model: no site has H100 GPUs'
    });
    const remoteOnly = sites.filter(s => s.name !== 'local');
    expect(
      validateForm(
        form({ gpus: '1', gpuModel: 'A100', localOnly: true }),
        remoteOnly
      ).gpuModel
    ).toBe('GPU model: the local resources have no A100 GPUs');
    expect(
      validateForm(form({ gpus: '1', localOnly: true }), remoteOnly).gpus
    ).toBe('GPUs: the local resources have no GPUs');
  });

  it('checks only the forms while the sites are not known', () => {
    expect(validateForm(form({ gpus: '500', cpu: '900' }), [])).toEqual({});
    expect(validateForm(form({ gpus: '-1' }), [])).toHaveProperty('gpus');
  });

  it("speaks the labels' words, never the API's field names", () => {
    const errors = validateForm(
      form({
        cpu: '1000',
        memory: 'x',
        gpus: '99',
        walltime: '?',
        completions: '0'
      }),
      sites
    );
    for (const [field, message] of Object.entries(errors)) {
      expect(message.startsWith(LABELS[field as keyof typeof LABELS])).toBe(
        true
      );
      expect(message).not.toMatch(/resources\.|gpus|gpu_model|walltime|cpu/);
    }
  });
});

describe('the GPU model choices', () => {
  it('lists every model of the sites, with what is free, MIG slices marked', () => {
    expect(gpuChoices(sites).map(c => c.label)).toEqual([
      'A100: 34 of 36 free',
      'T4: 2 of 2 free',
      'RTX5000: 4 of 4 free',
      'A100-MIG-1g.10gb (MIG slices): 5 of 7 free'
    ]);
  });

  it('falls back to the model names of a server without counts', () => {
    const old = sites.map(s => ({
      ...s,
      capacity: { gpus: s.capacity.gpus, cpu: s.capacity.cpu }
    }));
    expect(gpuChoices(old).map(c => c.label)).toEqual([
      'A100',
      'T4',
      'RTX5000',
      'A100-MIG-1g.10gb'
    ]);
  });

  it('matches a model as the server does, whatever its case', () => {
    expect(canonicalModel('rtx5000', sites)).toBe('RTX5000');
    expect(canonicalModel(' H100 ', sites)).toBe('H100');
  });
});
