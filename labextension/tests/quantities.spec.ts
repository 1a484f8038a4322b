import * as fs from 'fs';
import * as path from 'path';

import {
  formatMemory,
  formatSeconds,
  parseCpu,
  parseDuration,
  parseMemory
} from '../src/quantities';

/** The same examples the Python side is checked against (test_quantities_agree.py). */
const EXAMPLES = JSON.parse(
  fs.readFileSync(path.join(__dirname, 'data', 'quantities.json'), 'utf-8')
) as Record<'cpu' | 'memory' | 'walltime', [string, number | null][]>;

function refused(value: number | null): number | null {
  // The service refuses zero and below ("must be more than zero") as it refuses a bad form.
  return value !== null && value > 0 ? value : null;
}

describe('quantities, read as the jobs service reads them', () => {
  it.each(EXAMPLES.cpu)('CPUs %j -> %j', (text, value) => {
    expect(refused(parseCpu(text))).toBe(value);
  });
  it.each(EXAMPLES.memory)('Memory %j -> %j', (text, value) => {
    expect(refused(parseMemory(text))).toBe(value);
  });
  it.each(EXAMPLES.walltime)('Time limit %j -> %j', (text, value) => {
    expect(refused(parseDuration(text))).toBe(value);
  });

  it('formats limits the way people type them', () => {
    expect(formatMemory(480 * 2 ** 30)).toBe('480Gi');
    expect(formatMemory(1536 * 2 ** 20)).toBe('1536Mi');
    expect(formatMemory(1000)).toBe('1000');
    expect(formatSeconds(7 * 86400)).toBe('7d');
    expect(formatSeconds(5400)).toBe('1h30m');
    expect(formatSeconds(0)).toBe('0s');
  });
});
