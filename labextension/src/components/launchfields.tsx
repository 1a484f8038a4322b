/**
 * The launch dialog's fields: each with its label, and under it what is wrong (in the
 * words of the label) or an example.
 */
import * as React from 'react';

import { ISite } from '../api';
import { ILaunchForm } from '../launch';
import { FieldName, gpuChoices, LABELS } from '../validate';

export type TextField = Exclude<FieldName, 'gpuModel'>;

/** The text fields of the form, in order, with the example under each. */
export const FIELDS: { name: TextField; hint: string }[] = [
  { name: 'cpu', hint: 'e.g. 2 or 500m' },
  { name: 'memory', hint: 'e.g. 8Gi' },
  { name: 'gpus', hint: '0: none' },
  { name: 'walltime', hint: "e.g. 2h, 1d; empty: the site's limit" },
  {
    name: 'completions',
    hint: 'runs of the same file, each with its own index'
  }
];

/** The check boxes of the form. */
export const CHECKS: { label: string; name: 'localOnly' | 'homeVolume' }[] = [
  { label: 'Keep it on local resources', name: 'localOnly' },
  {
    label: 'Read it in place from my home volume (keeps it local)',
    name: 'homeVolume'
  }
];

/** A field's label, its control, and under it either what is wrong or the example. */
function FieldFrame(props: {
  name: FieldName;
  hint?: string;
  error?: string;
  children: (ids: { id: string; describedBy: string }) => JSX.Element;
}): JSX.Element {
  const id = `aiinfn-launch-${props.name}`;
  const note = props.error ? `${id}-error` : props.hint ? `${id}-hint` : '';
  return (
    <div
      className={
        props.error ? 'aiinfn-Field aiinfn-mod-invalid' : 'aiinfn-Field'
      }
      data-field={props.name}
    >
      <label htmlFor={id}>{LABELS[props.name]}</label>
      {props.children({ id, describedBy: note })}
      {props.error ? (
        <span id={note} className="aiinfn-Field-error">
          {props.error}
        </span>
      ) : (
        props.hint && (
          <span id={note} className="aiinfn-Field-hint">
            {props.hint}
          </span>
        )
      )}
    </div>
  );
}

export function Field(props: {
  name: TextField;
  hint: string;
  form: ILaunchForm;
  error?: string;
  onChange: (change: Partial<ILaunchForm>) => void;
}): JSX.Element {
  return (
    <FieldFrame name={props.name} hint={props.hint} error={props.error}>
      {({ id, describedBy }) => (
        <input
          id={id}
          name={props.name}
          className="jp-mod-styled"
          value={props.form[props.name]}
          inputMode={
            props.name === 'gpus' || props.name === 'completions'
              ? 'numeric'
              : undefined
          }
          aria-invalid={props.error ? true : undefined}
          aria-describedby={describedBy || undefined}
          onChange={e => props.onChange({ [props.name]: e.target.value })}
        />
      )}
    </FieldFrame>
  );
}

/** The GPU model: "any", or one of the models the sites have, with what is free. */
export function GpuModelField(props: {
  form: ILaunchForm;
  sites: ISite[];
  error?: string;
  onChange: (change: Partial<ILaunchForm>) => void;
}): JSX.Element {
  const choices = gpuChoices(props.sites);
  const current = props.form.gpuModel;
  const known = choices.some(
    c => c.model.toLowerCase() === current.toLowerCase()
  );
  return (
    <FieldFrame
      name="gpuModel"
      hint={props.sites.length ? '' : 'loading the sites’ models…'}
      error={props.error}
    >
      {({ id, describedBy }) => (
        <select
          id={id}
          name="gpuModel"
          value={
            known
              ? choices.find(
                  c => c.model.toLowerCase() === current.toLowerCase()
                )!.model
              : current
          }
          aria-invalid={props.error ? true : undefined}
          aria-describedby={describedBy || undefined}
          onChange={e => props.onChange({ gpuModel: e.target.value })}
        >
          <option value="">any</option>
          {choices.map(choice => (
            <option key={choice.model} value={choice.model}>
              {choice.label}
            </option>
          ))}
          {current && !known && <option value={current}>{current}</option>}
        </select>
      )}
    </FieldFrame>
  );
}

export function Check(props: {
  label: string;
  name: 'localOnly' | 'homeVolume';
  form: ILaunchForm;
  onChange: (change: Partial<ILaunchForm>) => void;
}): JSX.Element {
  const id = `aiinfn-launch-${props.name}`;
  return (
    <div className="aiinfn-Check">
      <input
        id={id}
        type="checkbox"
        checked={props.form[props.name]}
        onChange={e => props.onChange({ [props.name]: e.target.checked })}
      />
      <label htmlFor={id}>{props.label}</label>
    </div>
  );
}
