import { IPlan, ISite } from '../src/api';
import { LaunchBody, LaunchDialog } from '../src/components/launchdialog';
import { formDefaults, ILaunchForm } from '../src/launch';
import { fakeServer, makeSites, waitFor } from './fixtures';

const PLAN: IPlan = {
  requires_gpu: false,
  offloadable: true,
  reasons: {
    requires_gpu: 'no GPU: asks for CPUs only',
    offloadable: 'offloadable: needs no shared volume and no inbound network'
  },
  sites: [
    { name: 'tier1', display_name: 'CNAF Tier-1', reason: 'first choice' }
  ],
  ruled_out: []
};

/** Type into a field as a person does (React listens to the input event). */
function type(node: HTMLElement, selector: string, value: string): void {
  const input = node.querySelector<HTMLInputElement>(selector)!;
  const setter = Object.getOwnPropertyDescriptor(
    HTMLInputElement.prototype,
    'value'
  )!.set!;
  setter.call(input, value);
  input.dispatchEvent(new Event('input', { bubbles: true }));
}

function open(
  options: { sites?: () => ISite[]; form?: ILaunchForm; interval?: number } = {}
) {
  const server = fakeServer(request => {
    if (request.path === 'sites') {
      return { status: 200, body: { sites: (options.sites ?? makeSites)() } };
    }
    if (request.path === 'plan') {
      return { status: 200, body: PLAN };
    }
    return { status: 404 };
  });
  const body = new LaunchBody(
    server.client,
    'train.ipynb',
    options.form ?? formDefaults(null),
    [],
    options.interval
  );
  const dialog = new LaunchDialog(body);
  // Disposing the dialog at the end rejects its promise.
  dialog.launch().catch(() => undefined);
  const submit = () =>
    dialog.node.querySelector<HTMLButtonElement>('.jp-mod-accept')!;
  const field = (name: string) =>
    body.node.querySelector<HTMLElement>(`[data-field="${name}"]`)!;
  return { ...server, body, dialog, submit, field };
}

describe('the launch dialog', () => {
  it("checks the form again when the sites first report their GPUs (the service's cache was still filling)", async () => {
    let sitesAsked = 0;
    const sites = () => {
      sitesAsked += 1;
      const found = makeSites();
      if (sitesAsked === 1) {
        for (const site of found) {
          site.capacity.gpus = { free: 0, total: 0 };
          site.capacity.models = [];
        }
      }
      return found;
    };
    const form = { ...formDefaults(null), gpus: '1' };
    const { body, dialog, field, requests } = open({
      sites,
      form,
      interval: 20
    });
    try {
      await waitFor(
        () => field('gpus')?.classList.contains('aiinfn-mod-invalid'),
        5000,
        'the GPUs field marked while no site reports GPUs'
      );
      expect(body.node.textContent).toContain('GPUs: no site has GPUs');
      await waitFor(
        () => !field('gpus').classList.contains('aiinfn-mod-invalid'),
        5000,
        'the mark cleared once the sites report their GPUs'
      );
      expect(body.valid).toBe(true);
      await waitFor(
        () => requests.some(r => r.path === 'plan'),
        5000,
        'a preview of the now valid form'
      );
    } finally {
      dialog.dispose();
    }
  });

  it('marks a wrong field as the user types, says why, and clears it when fixed', async () => {
    const { body, dialog, submit, field, requests } = open();
    try {
      await waitFor(
        () => body.node.querySelector('.aiinfn-Plan'),
        5000,
        'the first plan'
      );
      await waitFor(
        () => body.node.querySelector('option[value="A100"]'),
        5000,
        'the sites'
      );
      expect(submit().disabled).toBe(false);

      const model = body.node.querySelector<HTMLSelectElement>(
        '#aiinfn-launch-gpuModel'
      )!;
      model.value = 'A100';
      model.dispatchEvent(new Event('change', { bubbles: true }));
      type(body.node, '#aiinfn-launch-gpus', '8');
      await waitFor(
        () => field('gpus').classList.contains('aiinfn-mod-invalid'),
        5000,
        'the GPUs field marked'
      );
      const input = body.node.querySelector('#aiinfn-launch-gpus')!;
      expect(input.getAttribute('aria-invalid')).toBe('true');
      const error = body.node.querySelector('#aiinfn-launch-gpus-error')!;
      expect(input.getAttribute('aria-describedby')).toBe(error.id);
      expect(error.textContent).toBe(
        'GPUs: the largest site, CINECA Leonardo, offers at most 4 A100 GPUs to one job'
      );
      expect(submit().disabled).toBe(true);
      // The last valid plan stays, greyed, with why it is old.
      const stale = body.node.querySelector('.aiinfn-Launch-plan')!;
      expect(stale.classList.contains('aiinfn-mod-stale')).toBe(true);
      expect(body.node.textContent).toContain(
        'Fix the marked fields to see where it would run.'
      );
      // Enter (or a click) does not submit while a field is wrong.
      dialog.resolve();
      expect(requests.filter(r => r.path === 'jobs')).toHaveLength(0);

      type(body.node, '#aiinfn-launch-gpus', '2');
      await waitFor(
        () => !field('gpus').classList.contains('aiinfn-mod-invalid'),
        5000,
        'the mark cleared'
      );
      expect(body.node.querySelector('#aiinfn-launch-gpus-error')).toBeNull();
      expect(submit().disabled).toBe(false);
      await waitFor(
        () =>
          !body.node
            .querySelector('.aiinfn-Launch-plan')!
            .classList.contains('aiinfn-mod-stale'),
        5000,
        'a fresh plan'
      );
    } finally {
      dialog.dispose();
    }
  });

  it("offers the sites' GPU models with what is free, plus any", async () => {
    const { body, dialog } = open();
    try {
      await waitFor(
        () => body.node.querySelector('option[value="A100"]'),
        5000,
        'the sites'
      );
      const options = [
        ...body.node.querySelectorAll<HTMLOptionElement>(
          '#aiinfn-launch-gpuModel option'
        )
      ].map(o => o.textContent);
      expect(options).toEqual([
        'any',
        'A100: 34 of 36 free',
        'T4: 2 of 2 free',
        'RTX5000: 4 of 4 free',
        'A100-MIG-1g.10gb (MIG slices): 5 of 7 free'
      ]);
    } finally {
      dialog.dispose();
    }
  });
});
