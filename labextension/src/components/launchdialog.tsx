/**
 * The "Run as background job" dialog: what was detected, where it would run (the server's
 * placement preview, refreshed as the form changes) and the resources to ask for, each
 * field checked as the user types against what the sites can give one job.
 */
import { Dialog } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import { UUID } from '@lumino/coreutils';
import { Poll } from '@lumino/polling';
import { ISignal, Signal } from '@lumino/signaling';
import * as React from 'react';

import { errorMessage, IJob, IPlan, ISite, JobsClient } from '../api';
import { buildRequest, ILaunchForm, Latest, scriptKind } from '../launch';
import { FormErrors, isValid, validateForm } from '../validate';
import {
  Check,
  CHECKS,
  Field,
  FIELDS,
  GpuModelField,
  TextField
} from './launchfields';
import { PlanView } from './plan';

const PREVIEW_DELAY = 300;
/** How often the open dialog reads the sites again (what is free, their limits). */
const SITES_INTERVAL = 10_000;

/** The placement preview: the current plan, or the last valid one greyed out and why. */
function Preview(props: {
  plan: IPlan | null;
  stale: string;
  error: string;
  previewing: boolean;
}): JSX.Element {
  const { plan, stale, error } = props;
  return (
    <div
      className="aiinfn-Launch-preview"
      aria-live="polite"
      aria-busy={props.previewing}
    >
      {error && (
        <div className="aiinfn-Error" role="alert">
          {error}
        </div>
      )}
      {stale && <p className="aiinfn-Note aiinfn-Launch-stale">{stale}</p>}
      {plan ? (
        <div
          className={
            stale || error
              ? 'aiinfn-Launch-plan aiinfn-mod-stale'
              : 'aiinfn-Launch-plan'
          }
          aria-disabled={stale || error ? true : undefined}
        >
          <PlanView
            plan={plan}
            heading={
              stale || error
                ? 'Where it would have run (last valid form)'
                : 'Where it would run'
            }
          />
        </div>
      ) : (
        !stale &&
        !error && (
          <p className="aiinfn-Note">Asking the server where it would run…</p>
        )
      )}
    </div>
  );
}

/** The dialog body; it previews placement as the form changes and submits the job. */
export class LaunchBody extends ReactWidget {
  private _form: ILaunchForm;
  private _errors: FormErrors;
  private _sites: ISite[];
  private _plan: IPlan | null = null;
  private _planError = '';
  private _submitError = '';
  private _previewing = false;
  private _timer = 0;
  private _latest = new Latest<IPlan>();
  private _validity = new Signal<this, boolean>(this);
  private readonly _requestId = UUID.uuid4();
  private readonly _sitesPoll: Poll;

  /**
   * `sites` are those already known (the panel's, maybe old or empty); the dialog reads
   * them again at once and every `sitesInterval` ms while open, so that limits checked
   * against a site that had not yet reported its nodes are checked again.
   */
  constructor(
    private readonly _client: JobsClient,
    readonly path: string,
    form: ILaunchForm,
    sites: ISite[],
    sitesInterval = SITES_INTERVAL
  ) {
    super();
    this._form = form;
    this._sites = sites;
    this._errors = validateForm(form, sites);
    this.addClass('aiinfn-Launch');
    if (this.valid) {
      this.schedulePreview(0);
    }
    this._sitesPoll = new Poll({
      factory: () => this._loadSites(),
      frequency: { interval: sitesInterval, backoff: true, max: 60_000 },
      standby: 'when-hidden',
      name: 'aiinfn-hub:launch:sites'
    });
  }

  get form(): ILaunchForm {
    return this._form;
  }

  /** What is wrong with each field that is wrong. */
  get errors(): FormErrors {
    return this._errors;
  }

  /** Whether the form can be submitted (nothing is marked wrong). */
  get valid(): boolean {
    return isValid(this._errors);
  }

  /** Emitted with `valid` each time the form changes. */
  get validityChanged(): ISignal<this, boolean> {
    return this._validity;
  }

  /** Ask the server where the job would run, after the user pauses typing. */
  schedulePreview(delay = PREVIEW_DELAY): void {
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => void this._preview(), delay);
  }

  /**
   * The sites' models, free counts and limits afresh; the form is checked again only when
   * they changed (a check schedules a preview). Fails (so the poll backs off) when the
   * server does not answer; the limits stay those already known.
   */
  private async _loadSites(): Promise<void> {
    const sites = await this._client.sites();
    if (
      this.isDisposed ||
      JSON.stringify(sites) === JSON.stringify(this._sites)
    ) {
      return;
    }
    this._sites = sites;
    this._check();
    this.update();
  }

  private async _preview(): Promise<void> {
    this._previewing = true;
    this.update();
    const result = await this._latest.run(() =>
      this._client.plan(buildRequest(this.path, this._form))
    );
    if (result === null || this.isDisposed) {
      return;
    }
    this._previewing = false;
    if (result.error !== undefined) {
      this._planError = errorMessage(result.error);
    } else {
      this._plan = result.value ?? null;
      this._planError = '';
    }
    this.update();
  }

  /** Submit; the error, in the server's words, stays in the dialog when it fails. */
  async submit(): Promise<IJob | null> {
    if (!this.valid) {
      return null;
    }
    this._submitError = '';
    this.update();
    try {
      return await this._client.submit(
        buildRequest(this.path, this._form, {
          client_request_id: this._requestId
        })
      );
    } catch (error) {
      this._submitError = errorMessage(error);
      this.update();
      return null;
    }
  }

  dispose(): void {
    window.clearTimeout(this._timer);
    this._sitesPoll.dispose();
    super.dispose();
  }

  /** Check the form again; preview it when valid, else keep the last plan as it was. */
  private _check(): void {
    const before = this.valid;
    this._errors = validateForm(this._form, this._sites);
    if (this.valid) {
      this.schedulePreview();
    } else {
      window.clearTimeout(this._timer);
      this._latest.invalidate();
      this._previewing = false;
    }
    if (before !== this.valid || !this.valid) {
      this._validity.emit(this.valid);
    }
  }

  /** Apply one field's change to the form as it is now (not as the last render saw it). */
  private _onChange = (change: Partial<ILaunchForm>): void => {
    this._form = { ...this._form, ...change };
    this._submitError = '';
    this._check();
    this.update();
  };

  protected render(): JSX.Element {
    const form = this._form;
    const errors = this._errors;
    const kind = scriptKind(this.path) ?? 'file';
    const field = (name: TextField) => (
      <Field
        key={name}
        {...FIELDS.find(f => f.name === name)!}
        form={form}
        error={errors[name]}
        onChange={this._onChange}
      />
    );
    return (
      <div className="aiinfn-Launch-body">
        <p className="aiinfn-Launch-file">
          Run the {kind} <code>{this.path}</code> in the background. It keeps
          running when you close JupyterLab.
        </p>
        <fieldset className="aiinfn-Launch-resources">
          <legend>Resources to ask for</legend>
          {field('cpu')}
          {field('memory')}
          {field('gpus')}
          <GpuModelField
            form={form}
            sites={this._sites}
            error={errors.gpuModel}
            onChange={this._onChange}
          />
          {field('walltime')}
          {field('completions')}
          {CHECKS.map(check => (
            <Check
              key={check.name}
              {...check}
              form={form}
              onChange={this._onChange}
            />
          ))}
        </fieldset>
        <Preview
          plan={this._plan}
          stale={
            this.valid ? '' : 'Fix the marked fields to see where it would run.'
          }
          error={this.valid ? this._planError : ''}
          previewing={this._previewing}
        />
        {this._submitError && (
          <div className="aiinfn-Error aiinfn-Launch-error" role="alert">
            {this._submitError}
          </div>
        )}
      </div>
    );
  }
}

/**
 * A dialog that stays open when submitting fails, showing the server's error, and whose
 * Submit is disabled while a field is wrong.
 */
export class LaunchDialog extends Dialog<void> {
  private _submitting = false;
  submitted: IJob | null = null;

  constructor(private readonly _launchBody: LaunchBody) {
    super({
      title: 'Run as background job',
      body: _launchBody,
      buttons: [
        Dialog.cancelButton({ label: 'Cancel' }),
        Dialog.okButton({
          label: 'Submit',
          ariaLabel: 'Submit the background job'
        })
      ],
      focusNodeSelector: 'input'
    });
    this.addClass('aiinfn-LaunchDialog');
    _launchBody.validityChanged.connect(this._enable, this);
    this._enable();
  }

  private get _buttonList(): HTMLButtonElement[] {
    return [
      ...this.node.querySelectorAll<HTMLButtonElement>('.jp-Dialog-button')
    ];
  }

  /** Submit only when nothing is wrong and nothing is being submitted. */
  private _enable(): void {
    const buttons = this._buttonList;
    buttons.forEach((button, index) => {
      const accept = index === buttons.length - 1;
      button.disabled = this._submitting || (accept && !this._launchBody.valid);
    });
  }

  /** JupyterLab's own check of the inputs (on each input event) must not enable Submit. */
  handleEvent(event: Event): void {
    super.handleEvent(event);
    if (event.type === 'input') {
      this._enable();
    }
  }

  resolve(index?: number): void {
    const buttons = this._buttonList;
    const accept = index === undefined || index === buttons.length - 1;
    if (!accept) {
      super.resolve(index);
      return;
    }
    if (this._submitting || !this._launchBody.valid) {
      return;
    }
    this._submitting = true;
    this._enable();
    void this._launchBody.submit().then(job => {
      this._submitting = false;
      this._enable();
      if (job) {
        this.submitted = job;
        super.resolve(index);
      }
    });
  }
}
