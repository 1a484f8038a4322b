/**
 * CPU, memory and time quantities as the launch dialog's fields take them, read the way the
 * jobs service reads them (aiinfn_hub/placement/quantities.py), so the dialog can tell what
 * is wrong before asking the server. `null` means the text is not such a quantity.
 */

const MEMORY_UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40
};
const MEMORY_RE = /^\s*(\d+(?:\.\d+)?)\s*(Ki|Mi|Gi|Ti|k|M|G|T)?\s*$/;
const CPU_RE = /^\s*(\d+(?:\.\d+)?)(m?)\s*$/;
const CLOCK_RE = /^(?:(\d+)-)?(\d+):(\d{1,2}):(\d{1,2})$/;
const DURATION_RE = /^(?:\d+[dhms])+$/;
const DURATION_UNITS: [string, number][] = [
  ['d', 86400],
  ['h', 3600],
  ['m', 60],
  ['s', 1]
];

/** Cores from `2`, `0.5` or `500m`. */
export function parseCpu(text: string): number | null {
  const match = CPU_RE.exec(text);
  if (!match) {
    return null;
  }
  return Number(match[1]) / (match[2] ? 1000 : 1);
}

/** Bytes from `8Gi`, `512Mi`, `4G` or a number of bytes. */
export function parseMemory(text: string): number | null {
  const match = MEMORY_RE.exec(text);
  if (!match) {
    return null;
  }
  return Math.floor(Number(match[1]) * MEMORY_UNITS[match[2] ?? '']);
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
