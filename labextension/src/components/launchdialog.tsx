/**
 * The "Run as background job" dialog: what was detected, where it would run (the server's
 * placement preview, refreshed as the form changes) and the resources to ask for.
 */
import { Dialog } from '@jupyterlab/apputils';
import { ReactWidget } from '@jupyterlab/ui-components';
import { UUID } from '@lumino/coreutils';
import * as React from 'react';

import { errorMessage, IJob, IPlan, JobsClient } from '../api';
import { buildRequest, ILaunchForm, Latest, scriptKind } from '../launch';
import { PlanView } from './panel';

const PREVIEW_DELAY = 300;

/** The text fields of the form, in order. */
const FIELDS: Pick<IFieldProps, 'label' | 'name' | 'hint' | 'list'>[] = [
  { label: 'CPUs', name: 'cpu', hint: 'e.g. 2 or 500m' },
  { label: 'Memory', name: 'memory', hint: 'e.g. 8Gi' },
  { label: 'GPUs', name: 'gpus' },
  {
    label: 'GPU model',
    name: 'gpuModel',
    hint: 'empty: any',
    list: 'aiinfn-launch-gpu-models'
  },
  {
    label: 'Time limit',
    name: 'walltime',
    hint: "e.g. 2h, 1d; empty: the site's limit"
  },
  {
    label: 'Array size',
    name: 'completions',
    hint: 'runs of the same file, each with its own index'
  }
];

/** The check boxes of the form. */
const CHECKS: { label: string; name: 'localOnly' | 'homeVolume' }[] = [
  { label: 'Keep it on local resources', name: 'localOnly' },
  {
    label: 'Read it in place from my home volume (keeps it local)',
    name: 'homeVolume'
  }
];

interface IFieldProps {
  label: string;
  name: keyof ILaunchForm;
  form: ILaunchForm;
  hint?: string;
  onChange: (form: ILaunchForm) => void;
  list?: string;
}

function Field(props: IFieldProps): JSX.Element {
  const id = `aiinfn-launch-${props.name}`;
  return (
    <div className="aiinfn-Field">
      <label htmlFor={id}>{props.label}</label>
      <input
        id={id}
        name={props.name}
        className="jp-mod-styled"
        value={props.form[props.name] as string}
        list={props.list}
        aria-describedby={props.hint ? `${id}-hint` : undefined}
        onChange={e =>
          props.onChange({ ...props.form, [props.name]: e.target.value })
        }
      />
      {props.hint && (
        <span id={`${id}-hint`} className="aiinfn-Field-hint">
          {props.hint}
        </span>
      )}
    </div>
  );
}

function Check(props: {
  label: string;
  name: 'localOnly' | 'homeVolume';
  form: ILaunchForm;
  onChange: (form: ILaunchForm) => void;
}): JSX.Element {
  const id = `aiinfn-launch-${props.name}`;
  return (
    <div className="aiinfn-Check">
      <input
        id={id}
        type="checkbox"
        checked={props.form[props.name]}
        onChange={e =>
          props.onChange({ ...props.form, [props.name]: e.target.checked })
        }
      />
      <label htmlFor={id}>{props.label}</label>
    </div>
  );
}

/** The dialog body; it previews placement as the form changes and submits the job. */
export class LaunchBody extends ReactWidget {
  private _form: ILaunchForm;
  private _plan: IPlan | null = null;
  private _planError = '';
  private _submitError = '';
  private _previewing = false;
  private _timer = 0;
  private _latest = new Latest<IPlan>();
  private readonly _requestId = UUID.uuid4();

  constructor(
    private readonly _client: JobsClient,
    readonly path: string,
    form: ILaunchForm,
    private readonly _gpuModels: string[]
  ) {
    super();
    this._form = form;
    this.addClass('aiinfn-Launch');
    this.schedulePreview(0);
  }

  get form(): ILaunchForm {
    return this._form;
  }

  /** Ask the server where the job would run, after the user pauses typing. */
  schedulePreview(delay = PREVIEW_DELAY): void {
    window.clearTimeout(this._timer);
    this._timer = window.setTimeout(() => void this._preview(), delay);
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
      this._plan = null;
      this._planError = errorMessage(result.error);
    } else {
      this._plan = result.value ?? null;
      this._planError = '';
    }
    this.update();
  }

  /** Submit; the error, in the server's words, stays in the dialog when it fails. */
  async submit(): Promise<IJob | null> {
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
    super.dispose();
  }

  private _onChange = (form: ILaunchForm): void => {
    this._form = form;
    this.update();
    this.schedulePreview();
  };

  protected render(): JSX.Element {
    const form = this._form;
    const kind = scriptKind(this.path) ?? 'file';
    return (
      <div className="aiinfn-Launch-body">
        <p className="aiinfn-Launch-file">
          Run the {kind} <code>{this.path}</code> in the background. It keeps
          running when you close JupyterLab.
        </p>
        <fieldset className="aiinfn-Launch-resources">
          <legend>Resources to ask for</legend>
          {FIELDS.map(field => (
            <Field
              key={field.name}
              {...field}
              form={form}
              onChange={this._onChange}
            />
          ))}
          <datalist id="aiinfn-launch-gpu-models">
            {this._gpuModels.map(model => (
              <option key={model} value={model} />
            ))}
          </datalist>
          {CHECKS.map(check => (
            <Check
              key={check.name}
              {...check}
              form={form}
              onChange={this._onChange}
            />
          ))}
        </fieldset>
        <div
          className="aiinfn-Launch-preview"
          aria-live="polite"
          aria-busy={this._previewing}
        >
          {this._planError ? (
            <div className="aiinfn-Error" role="alert">
              {this._planError}
            </div>
          ) : this._plan ? (
            <PlanView plan={this._plan} heading="Where it would run" />
          ) : (
            <p className="aiinfn-Note">Asking the server where it would run…</p>
          )}
        </div>
        {this._submitError && (
          <div className="aiinfn-Error aiinfn-Launch-error" role="alert">
            {this._submitError}
          </div>
        )}
      </div>
    );
  }
}

/** A dialog that stays open when submitting fails, showing the server's error. */
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
  }

  resolve(index?: number): void {
    const buttons =
      this.node.querySelectorAll<HTMLButtonElement>('.jp-Dialog-button');
    const accept = index === undefined || index === buttons.length - 1;
    if (!accept) {
      super.resolve(index);
      return;
    }
    if (this._submitting) {
      return;
    }
    this._submitting = true;
    buttons.forEach(button => (button.disabled = true));
    void this._launchBody.submit().then(job => {
      this._submitting = false;
      buttons.forEach(button => (button.disabled = false));
      if (job) {
        this.submitted = job;
        super.resolve(index);
      }
    });
  }
}
