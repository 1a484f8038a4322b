/**
 * CPU, memory and time quantities as the launch dialog's fields take them, read the way the
 * jobs service reads them (aiinfn_hub/placement/quantities.py), so the dialog can tell what
 * is wrong before asking the server. `null` means the text is not such a quantity.
 */

/** The multipliers of Kubernetes' quantity suffixes (resource.Quantity). */
const SUFFIXES: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60
};
// The API server's grammar (aiinfn_hub/kube/quantity.py): a number, then a binary suffix, a
// decimal exponent (`1e3`: tried before the exa suffix `E`) or a decimal suffix.
const QUANTITY_RE =
  /^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:([KMGTPE]i)|[eE]([+-]?\d+)|([numkMGTPE]?))$/;
const MEMORY_UNITS = SUFFIXES;
const CLOCK_RE = /^(?:(\d+)-)?(\d+):(\d{1,2}):(\d{1,2})$/;
const DURATION_RE = /^(?:\d+[dhms])+$/;
const DURATION_UNITS: [string, number][] = [
  ['d', 86400],
  ['h', 3600],
  ['m', 60],
  ['s', 1]
];

/** A positive quantity in base units, or null; white space around it is dropped. */
function parseQuantity(text: string): number | null {
  const match = QUANTITY_RE.exec(text.trim());
  if (!match) {
    return null;
  }
  const [, number, binary, exponent, decimal] = match;
  const scale =
    exponent !== undefined
      ? 10 ** Number(exponent)
      : SUFFIXES[binary ?? decimal ?? ''];
  const value = Number(number) * scale;
  return Number.isFinite(value) && value > 0 ? value : null;
}

/** Cores from `2`, `0.5` or `500m` (any Kubernetes quantity). */
export function parseCpu(text: string): number | null {
  return parseQuantity(text);
}

/** Bytes from `8Gi`, `512Mi`, `4G` or a number of bytes (a fraction of a byte rounds up). */
export function parseMemory(text: string): number | null {
  const value = parseQuantity(text);
  return value === null ? null : Math.ceil(value);
}

/** Seconds from `90s`, `2h`, `1h30m`, `1d`, `90` (seconds) or `[D-]HH:MM:SS`. */
export function parseDuration(value: string): number | null {
  const text = value.trim().toLowerCase();
  if (/^\d+$/.test(text)) {
    return Number(text);
  }
  const clock = CLOCK_RE.exec(text);
  if (clock) {
    const [days, hours, minutes, seconds] = clock
      .slice(1)
      .map(part => Number(part ?? 0));
    return days * 86400 + hours * 3600 + minutes * 60 + seconds;
  }
  if (!DURATION_RE.test(text)) {
    return null;
  }
  let seconds = 0;
  for (const [, count, unit] of text.matchAll(/(\d+)([dhms])/g)) {
    seconds += Number(count) * DURATION_UNITS.find(([u]) => u === unit)![1];
  }
  return seconds;
}

/** The shortest exact binary form: `8Gi`, `512Mi`, else bytes. */
export function formatMemory(bytes: number): string {
  for (const unit of ['Ti', 'Gi', 'Mi', 'Ki']) {
    if (bytes % MEMORY_UNITS[unit] === 0) {
      return `${bytes / MEMORY_UNITS[unit]}${unit}`;
    }
  }
  return String(bytes);
}

/** `1d`, `2h`, `1h30m`, `45s`: the compact form people type. */
export function formatSeconds(total: number): string {
  let rest = Math.max(0, Math.floor(total));
  const parts: string[] = [];
  for (const [unit, size] of DURATION_UNITS) {
    const count = Math.floor(rest / size);
    rest -= count * size;
    if (count) {
      parts.push(`${count}${unit}`);
    }
  }
  return parts.join('') || '0s';
}
