/**
 * No emoji: every character the panel can show outside ASCII is typographic punctuation
 * that the machine's fonts (DejaVu, Liberation) draw, never a pictograph that renders as
 * a box where no emoji font is installed.
 */
import * as fs from 'fs';
import * as path from 'path';

/** The non-ASCII characters allowed in the panel's sources and styles. */
const ALLOWED = new Set(['\u2026', '\u00b7', '\u2013', '\u2014', '\u2019']);

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap(entry => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? files(full) : [full];
  });
}

/** The characters of `text`, including those written as `\uXXXX` or `\u{...}` escapes. */
function characters(text: string): string[] {
  const escaped = text.replace(
    /\\u\{([0-9a-fA-F]+)\}|\\u([0-9a-fA-F]{4})/g,
    (_, long, short) => String.fromCodePoint(parseInt(long ?? short, 16))
  );
  return [...escaped];
}

function offending(text: string): string[] {
  return [
    ...new Set(
      characters(text).filter(c => c.codePointAt(0)! > 0x7e && !ALLOWED.has(c))
    )
  ];
}

describe('glyphs', () => {
  const root = path.resolve(__dirname, '..');
  const sources = [
    ...files(path.join(root, 'src')),
    ...files(path.join(root, 'style')).filter(f => f.endsWith('.css')),
    path.join(root, 'schema', 'plugin.json')
  ];

  it('finds the sources', () => {
    expect(sources.some(f => f.endsWith('panel.tsx'))).toBe(true);
  });

  it.each(sources.map(f => [path.relative(root, f)]))(
    '%s uses no emoji or other glyph outside the allowed punctuation',
    file => {
      const text = fs.readFileSync(path.join(root, file), 'utf-8');
      expect(offending(text)).toEqual([]);
    }
  );

  it('catches an emoji, written or escaped', () => {
    expect(offending("label: 'Done \u2705'")).toEqual(['\u2705']);
    expect(offending('icon = "\\u{1F680}"')).toEqual(['\u{1F680}']);
    expect(offending('Rerun at\u2026 \u00b7 ok')).toEqual([]);
  });
});
