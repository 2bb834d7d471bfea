// Go regular expressions in Flux objects (an Alert's inclusionList and exclusionList, an
// ImageRepository's exclusionList). Flux compiles them with Go's regexp (RE2); Flotilla uses
// JavaScript's RegExp, which reads the usual syntax the same way. Go's leading inline flag
// "(?i)" (case-insensitive, common in Flux examples) has no JavaScript equivalent before
// ES2025, so it is turned into the `i` flag here; Go's named groups `(?P<name>…)` become `(?<name>…)`.
// Pure (no Node built-ins): workflow code may import it.

const compiled = new Map<string, RegExp>();

/** The compiled expression, or an Error saying why it is invalid. Results are cached. */
export function compileGoRegex(pattern: string): RegExp | Error {
  const cached = compiled.get(pattern);
  if (cached !== undefined) return cached;
  const caseInsensitive = pattern.startsWith('(?i)');
  try {
    const re = new RegExp((caseInsensitive ? pattern.slice(4) : pattern).replaceAll('(?P<', '(?<'), caseInsensitive ? 'i' : '');
    if (compiled.size >= 1000) compiled.clear();
    compiled.set(pattern, re);
    return re;
  } catch (err) {
    return new Error(`invalid regular expression ${JSON.stringify(pattern)}: ${err instanceof Error ? err.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '') : String(err)}`);
  }
}
