// Flux's postBuild variable substitution, as kustomize-controller runs it on each built object:
// bash-style `${var}` expressions (the envsubst dialect of github.com/fluxcd/pkg/envsubst, a
// fork of drone/envsubst) replaced in the object's YAML text. Only the braced form is an
// expression: `$var` stays as it is, and `$$` is an escape for a literal `$` (so `$${var}`
// gives the text `${var}`). Undefined variables become the empty string (Flux's default,
// non-strict mode). Pure: no IO, usable from workflows and tests alike.
//
// Supported inside `${...}` (same results as Flux, checked against its Go code):
//   ${var}                    the value, or "" when unset
//   ${var:=d} ${var:-d} ${var=d} ${var:?d} ${var:+d}
//                             d when the value is empty (Flux treats all of them this way;
//                             d may contain nested ${...})
//   ${#var}                   length in bytes
//   ${var^} ${var^^} ${var,} ${var,,}          upper/lower-case the first or all characters
//   ${var:offset} ${var:offset:length}          substring (byte offsets, bash rules)
//   ${var#glob} ${var##glob} ${var%glob} ${var%%glob}   strip shortest/longest prefix/suffix
//   ${var/from/to} ${var//from/to} ${var/#from/to} ${var/%from/to}   replace (first/all/prefix/suffix)
// Anything else that starts with `${` is an error, as in Flux: for example `${var-d}` (missing
// closing brace), `${a / 2}` (missing closing brace) or `${ a}` (unable to parse variable name).
import { parseDocument } from 'yaml';

/** The label or annotation with which an object opts out of substitution (value `disabled`). */
export const SUBSTITUTE_KEY = 'kustomize.toolkit.fluxcd.io/substitute';

/** Flux's rule for the names of postBuild variables. */
export const VARIABLE_NAME = /^[_a-zA-Z][_a-zA-Z0-9]*$/;

/** A malformed `${...}` expression or an invalid variable name; the message is Flux's. */
export class SubstitutionError extends Error {
  override name = 'SubstitutionError';
}

type Vars = Readonly<Record<string, string>>;

/**
 * Replaces every `${...}` expression in `text`. Throws SubstitutionError when a variable
 * name does not match VARIABLE_NAME or an expression cannot be parsed.
 */
export function substituteVariables(text: string, vars: Vars): string {
  for (const name of Object.keys(vars)) {
    if (!VARIABLE_NAME.test(name)) {
      throw new SubstitutionError(`'${name}' var name is invalid, must match '${VARIABLE_NAME.source}'`);
    }
  }
  const nodes = new Parser(text).parseText();
  return evaluate(nodes, vars);
}

export interface ObjectMetadata {
  readonly labels?: unknown;
  readonly annotations?: unknown;
}

/** True when the object carries `kustomize.toolkit.fluxcd.io/substitute: disabled` as a label or annotation. */
export function substitutionDisabled(metadata: ObjectMetadata | undefined): boolean {
  const disabled = (map: unknown): boolean =>
    typeof map === 'object' && map !== null && (map as Record<string, unknown>)[SUBSTITUTE_KEY] === 'disabled';
  return disabled(metadata?.labels) || disabled(metadata?.annotations);
}

/**
 * What Flux does to one built object when the Kustomization has a postBuild section: returns
 * the object's YAML text with variables substituted, or the text unchanged when the object
 * opts out (SUBSTITUTE_KEY) or there are no variables at all (Flux only substitutes when at
 * least one variable is defined). Newlines are removed from values, as Flux does when it
 * reads them. The caller parses the result: a value can change a field's type or break YAML.
 */
export function substituteObject(objectYaml: string, vars: Vars): string {
  const doc = parseDocument(objectYaml);
  const optedOut = (field: 'labels' | 'annotations'): boolean => doc.getIn(['metadata', field, SUBSTITUTE_KEY]) === 'disabled';
  if (optedOut('labels') || optedOut('annotations')) return objectYaml;
  const names = Object.keys(vars);
  if (names.length === 0) return objectYaml;
  const flat: Record<string, string> = {};
  for (const name of names) flat[name] = (vars[name] ?? '').replaceAll('\n', '');
  return substituteVariables(objectYaml, flat);
}

// ---------------------------------------------------------------------------------------------
// Parsing. The text is read once, left to right, into literal text and expressions.

type Node = { readonly text: string } | Expression;

interface Expression {
  readonly name: string;
  /** '' for plain ${name}; otherwise the operator as written: ':=', '#', '//', '^^', ... */
  readonly op: string;
  readonly args: readonly Node[];
}

const BAD_SUBSTITUTION = 'bad substitution';
const MISSING_BRACE = 'missing closing brace';
const BAD_NAME = 'unable to parse variable name';
const BAD_ARGUMENT = 'unable to parse substitution within function';

const isNameChar = (c: string): boolean => /^[\p{L}\p{Nd}_]$/u.test(c);

/** Where a run of argument text stops, and whether `$$`, `\\` and `\/` are escapes in it. */
interface TextRule {
  readonly stopAt: string;
  readonly escapes: boolean;
}

class Parser {
  private pos = 0;
  private readonly chars: string[];

  constructor(text: string) {
    this.chars = Array.from(text); // code points, so names and offsets see whole characters
  }

  private peek(offset = 0): string | undefined {
    return this.chars[this.pos + offset];
  }

  private fail(message: string): never {
    throw new SubstitutionError(`variable substitution failed: ${message}`);
  }

  /** Top level: literal text, `$$` as `$`, and `${...}` expressions. */
  parseText(): Node[] {
    const nodes: Node[] = [];
    let literal = '';
    while (this.pos < this.chars.length) {
      const c = this.chars[this.pos] ?? '';
      if (c === '$' && this.peek(1) === '{') {
        if (literal !== '') nodes.push({ text: literal });
        literal = '';
        this.pos += 2;
        nodes.push(this.parseExpression());
      } else if (c === '$' && this.peek(1) === '$') {
        literal += '$';
        this.pos += 2;
      } else {
        literal += c;
        this.pos += 1;
      }
    }
    if (literal !== '') nodes.push({ text: literal });
    return nodes;
  }

  /** After `${`: the name, then the operator that follows it. */
  private parseExpression(): Expression {
    if (this.peek() === '#') {
      this.pos += 1;
      const name = this.readName();
      if (name === '' || !this.take('}')) this.fail(BAD_SUBSTITUTION);
      return { name, op: '#', args: [] };
    }
    const name = this.readName();
    if (name === '') this.fail(BAD_NAME);
    const c = this.peek();
    switch (c) {
      case '}':
        this.pos += 1;
        return { name, op: '', args: [] };
      case ':': {
        const next = this.peek(1);
        if (next === '=' || next === '-' || next === '?' || next === '+') {
          this.pos += 2;
          return { name, op: `:${next}`, args: this.parseDefaultArgs() };
        }
        if (next === undefined) this.fail(BAD_SUBSTITUTION); // `${var:` at the very end
        this.pos += 1;
        return { name, op: ':', args: this.parseSubstringArgs() };
      }
      case '=':
        this.pos += 1;
        return { name, op: '=', args: this.parseDefaultArgs() };
      case ',':
      case '^': {
        const op = this.readOperator((ch) => ch === ',' || ch === '^');
        if (!this.take('}')) this.fail(BAD_SUBSTITUTION);
        return { name, op, args: [] };
      }
      case '#':
      case '%': {
        const op = this.readOperator((ch) => ch === c);
        const pattern = this.parseArgument({ stopAt: '}', escapes: false });
        if (!this.take('}')) this.fail(BAD_SUBSTITUTION);
        return { name, op, args: [pattern] };
      }
      case '/':
        return { name, ...this.parseReplace() };
      default:
        return this.fail(MISSING_BRACE);
    }
  }

  private readName(): string {
    let name = '';
    while (this.pos < this.chars.length && isNameChar(this.chars[this.pos] ?? '')) name += this.chars[this.pos++] ?? '';
    return name;
  }

  /** One or two operator characters (`^^`, `##`, ...). */
  private readOperator(accept: (c: string) => boolean): string {
    let op = '';
    while (op.length < 2 && accept(this.peek() ?? '')) op += this.chars[this.pos++] ?? '';
    return op;
  }

  private take(c: string): boolean {
    if (this.peek() !== c) return false;
    this.pos += 1;
    return true;
  }

  /** `${var:=a${b}c}`: text and nested expressions up to the closing brace. */
  private parseDefaultArgs(): Node[] {
    const args: Node[] = [];
    while (!this.take('}')) args.push(this.parseArgument({ stopAt: '}', escapes: false }));
    return args;
  }

  /** `${var:offset}` or `${var:offset:length}`. */
  private parseSubstringArgs(): Node[] {
    const args = [this.parseArgument({ stopAt: ':}', escapes: false })];
    if (this.take('}')) return args;
    if (this.peek() !== ':') this.fail(BAD_SUBSTITUTION);
    while (this.peek() === ':') this.pos += 1;
    args.push(this.parseArgument({ stopAt: '}', escapes: false }));
    if (!this.take('}')) this.fail(BAD_SUBSTITUTION);
    return args;
  }

  /** `${var/from/to}` and its `//`, `/#`, `/%` forms; `to` may be empty or absent. */
  private parseReplace(): { op: string; args: Node[] } {
    this.pos += 1;
    const second = this.peek();
    const op = second === '/' || second === '#' || second === '%' ? `/${this.chars[this.pos++] ?? ''}` : '/';
    const args = [this.parseArgument({ stopAt: '/', escapes: true })];
    if (this.peek() !== '/') this.fail(BAD_SUBSTITUTION);
    while (this.peek() === '/') this.pos += 1;
    if (this.take('}')) return { op, args };
    args.push(this.parseArgument({ stopAt: '}', escapes: true }));
    if (!this.take('}')) this.fail(BAD_SUBSTITUTION);
    return { op, args };
  }

  /**
   * One argument: a nested `${...}`, or a non-empty run of text that ends before a character
   * of `rule.stopAt`, before `${`, or at the end of the input.
   */
  private parseArgument(rule: TextRule): Node {
    const first = this.peek();
    if (first === undefined) this.fail(BAD_ARGUMENT);
    if (first === '$' && this.peek(1) === '{') {
      this.pos += 2;
      return this.parseExpression();
    }
    let text = '';
    let count = 0;
    while (this.pos < this.chars.length) {
      const c = this.chars[this.pos] ?? '';
      const next = this.peek(1);
      if (c === '$' && next === '{') break;
      if (rule.escapes && ((c === '$' && next === '$') || (c === '\\' && (next === '\\' || next === '/')))) {
        text += next;
        this.pos += 2;
      } else if (rule.stopAt.includes(c)) {
        break;
      } else {
        text += c;
        this.pos += 1;
      }
      count += 1;
    }
    if (count === 0) this.fail(BAD_ARGUMENT);
    return { text };
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation.

function evaluate(nodes: readonly Node[], vars: Vars): string {
  return nodes.map((node) => ('text' in node ? node.text : apply(node, vars))).join('');
}

function apply(e: Expression, vars: Vars): string {
  const args = e.args.map((a) => evaluate([a], vars));
  const value = Object.hasOwn(vars, e.name) ? (vars[e.name] ?? '') : '';
  const [a = '', b] = args;
  switch (e.op) {
    case '#':
      return args.length === 0 ? String(utf8Length(value)) : trimPrefix(value, a, 'shortest');
    case '##':
      return trimPrefix(value, a, 'longest');
    case '%':
      return trimSuffix(value, a, 'shortest');
    case '%%':
      return trimSuffix(value, a, 'longest');
    case '^':
      return mapFirst(value, (c) => c.toUpperCase());
    case '^^':
      return mapAll(value, (c) => c.toUpperCase());
    case ',':
      return mapFirst(value, (c) => c.toLowerCase());
    case ',,':
      return mapAll(value, (c) => c.toLowerCase());
    case ':':
      return substring(value, a, b);
    case '/':
      return replaceFirst(value, a, b ?? '');
    case '//':
      return value.replaceAll(a, () => b ?? '');
    case '/#':
      return b !== undefined && value.startsWith(a) ? b + value.slice(a.length) : value;
    case '/%':
      return b !== undefined && value.endsWith(a) ? value.slice(0, value.length - a.length) + b : value;
    default:
      // '', ':=', ':-', '=', ':?', ':+' and any other operator: the value, or the default when empty.
      return value === '' && args.length > 0 ? args.join('') : value;
  }
}

function utf8Length(s: string): number {
  return new TextEncoder().encode(s).length;
}

/** Case-maps one character, keeping it when the mapping is not a single character (Go does). */
function mapChar(c: string, f: (c: string) => string): string {
  const mapped = f(c);
  return Array.from(mapped).length === 1 ? mapped : c;
}

function mapFirst(s: string, f: (c: string) => string): string {
  const [first, ...rest] = Array.from(s);
  return first === undefined ? s : mapChar(first, f) + rest.join('');
}

function mapAll(s: string, f: (c: string) => string): string {
  return Array.from(s, (c) => mapChar(c, f)).join('');
}

function replaceFirst(s: string, from: string, to: string): string {
  const at = s.indexOf(from);
  return at < 0 ? s : s.slice(0, at) + to + s.slice(at + from.length);
}

/** Go's strconv.Atoi: optional sign and decimal digits, nothing else. */
function parseOffset(s: string): number | undefined {
  return /^[+-]?\d+$/.test(s) ? Number.parseInt(s, 10) : undefined;
}

/** bash's ${var:offset:length} on UTF-8 bytes; an unparsable number leaves the value as it is. */
function substring(s: string, offsetText: string, lengthText: string | undefined): string {
  let offset = parseOffset(offsetText);
  if (offset === undefined) return s;
  const bytes = new TextEncoder().encode(s);
  const decode = (from: number, to?: number): string => new TextDecoder().decode(bytes.subarray(from, to));
  if (offset < 0) offset = Math.max(0, bytes.length + offset);
  if (lengthText === undefined) return offset < bytes.length ? decode(offset) : '';
  const length = parseOffset(lengthText);
  if (length === undefined) return s;
  if (length < 0) {
    // A negative length counts back from the end: ${var:1:-1} drops the first and last byte.
    const end = bytes.length + length;
    return end < offset ? '' : decode(offset, end);
  }
  if (offset + length >= bytes.length) return offset < bytes.length ? decode(offset) : '';
  return decode(offset, offset + length);
}

function trimPrefix(s: string, pattern: string, which: 'shortest' | 'longest'): string {
  const glob = compileGlob(pattern);
  if (!glob) return s; // a malformed pattern leaves the value as it is
  // The empty prefix never counts.
  const end = globPrefixEnd(glob, s, which);
  return end === undefined ? s : s.slice(end);
}

/** Suffixes are trimmed as prefixes of the reversed value with the reversed pattern, as Flux does. */
function trimSuffix(s: string, pattern: string, which: 'shortest' | 'longest'): string {
  const reverse = (t: string): string => Array.from(t).reverse().join('');
  return reverse(trimPrefix(reverse(s), reverse(pattern), which));
}

/** One step of a glob: `*` (any run, also none), or one character that `accepts` takes. */
type GlobAtom = { readonly star: true } | { readonly star: false; readonly accepts: (c: number) => boolean };

/**
 * A glob for whole strings: `*` any run (slashes included), `?` one character, `[a-z]` /
 * `[^a-z]` character classes, `\x` a literal x. Undefined for a malformed pattern (also a
 * reversed range such as [z-a]). The pattern comes from the repository (`${var#pattern}`), so it
 * is never a backtracking RegExp (`*a*a*a*a*a*a*b` against 80 a's took 119 s that way): it is
 * matched by globPrefixEnd in one pass.
 */
function compileGlob(pattern: string): GlobAtom[] | undefined {
  const atoms: GlobAtom[] = [];
  const one = (accepts: (c: number) => boolean): void => {
    atoms.push({ star: false, accepts });
  };
  const chars = Array.from(pattern);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] ?? '';
    if (c === '*') atoms.push({ star: true });
    else if (c === '?') one(() => true);
    else if (c === '\\') {
      const next = chars[++i];
      if (next === undefined) return undefined;
      const cp = next.codePointAt(0);
      one((x) => x === cp);
    } else if (c === '[') {
      let j = i + 1;
      let negate = false;
      if (chars[j] === '^') {
        negate = true;
        j++;
      }
      const ranges: (readonly [number, number])[] = [];
      for (;;) {
        const lo = chars[j];
        if (lo === ']' && ranges.length > 0) break;
        if (lo === undefined || lo === '-' || lo === ']') return undefined;
        let low = lo;
        if (lo === '\\') {
          const escaped = chars[++j];
          if (escaped === undefined) return undefined;
          low = escaped;
        }
        j++;
        let high = low;
        if (chars[j] === '-') {
          let hi = chars[j + 1];
          if (hi === undefined || hi === '-' || hi === ']') return undefined;
          if (hi === '\\') {
            hi = chars[j + 2];
            if (hi === undefined) return undefined;
            j++;
          }
          high = hi;
          j += 2;
        }
        if (chars[j] === undefined) return undefined;
        const range = [low.codePointAt(0) ?? 0, high.codePointAt(0) ?? 0] as const;
        if (range[0] > range[1]) return undefined;
        ranges.push(range);
      }
      one((x) => ranges.some(([from, to]) => x >= from && x <= to) !== negate);
      i = j;
    } else {
      const cp = c.codePointAt(0);
      one((x) => x === cp);
    }
  }
  return atoms;
}

/**
 * Where the shortest or longest non-empty prefix of `s` that the whole glob matches ends (a
 * UTF-16 offset), or undefined. A nondeterministic automaton run over `s` once: state i means
 * "the first i atoms matched"; a star keeps its state on any character. O(length × atoms).
 */
function globPrefixEnd(atoms: readonly GlobAtom[], s: string, which: 'shortest' | 'longest'): number | undefined {
  const k = atoms.length;
  let active: Uint8Array = new Uint8Array(k + 1);
  const close = (set: Uint8Array): Uint8Array => {
    // A star may match nothing: reaching a star's state also reaches the next one.
    for (let i = 0; i < k; i++) if (set[i] === 1 && atoms[i]?.star === true) set[i + 1] = 1;
    return set;
  };
  active[0] = 1;
  close(active);
  let found: number | undefined;
  let offset = 0;
  for (const c of s) {
    const cp = c.codePointAt(0) ?? 0;
    const next = new Uint8Array(k + 1);
    let any = false;
    for (let i = 0; i < k; i++) {
      if (active[i] !== 1) continue;
      const atom = atoms[i];
      if (atom === undefined) continue;
      if (atom.star) next[i] = 1;
      else if (atom.accepts(cp)) next[i + 1] = 1;
      else continue;
      any = true;
    }
    offset += c.length;
    if (!any) break;
    active = close(next);
    if (active[k] === 1) {
      found = offset;
      if (which === 'shortest') break;
    }
  }
  return found;
}

