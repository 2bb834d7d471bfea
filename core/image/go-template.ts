// A subset of Go's text/template (lexer, parser, executor) plus the part of fmt that printing
// needs, so that templates written for Go render the same text here. Pure: no IO.
// Reference: Go's src/text/template/{parse/lex.go,parse/parse.go,exec.go,funcs.go}, src/fmt.

// ---------------------------------------------------------------------------------------------
// Values. Go's reflect.Value maps onto: string, number (Go int), boolean, GoFloat (float64),
// GoStruct, GoSlice, GoMap, null (an untyped nil) and undefined (an invalid value: "<no value>").

export type GoValue = string | number | boolean | GoFloat | GoStruct | GoSlice | GoMap | null | undefined;

export class GoFloat {
  constructor(readonly value: number) {}
}

export interface GoField {
  readonly name: string;
  readonly value: GoValue;
  /** An embedded (anonymous) field: its fields and methods are promoted. */
  readonly embedded?: boolean;
}

export class GoStruct {
  constructor(
    /** Go's reflect type name, used in messages: `update.Change`. */
    readonly type: string,
    readonly fields: readonly GoField[],
    readonly methods: ReadonlyMap<string, () => GoValue> = new Map(),
    /** Its String() method, when the type is a fmt.Stringer. */
    readonly stringer?: () => string,
  ) {}
}

export class GoSlice {
  constructor(readonly type: string, readonly items: readonly GoValue[]) {}
}

export class GoMap {
  /** Entries in the order Go's fmtsort gives them, which is how range and fmt visit maps. */
  readonly entries: readonly (readonly [GoValue, GoValue])[];
  private readonly byKey: ReadonlyMap<string, GoValue>;

  constructor(
    readonly type: string,
    readonly keyType: string,
    entries: Iterable<readonly [GoValue, GoValue]>,
    /** The zero value of the element type (what `index` returns for a missing key). */
    readonly zero: () => GoValue,
  ) {
    this.entries = [...entries].sort((a, b) => compareKeys(a[0], b[0]));
    this.byKey = new Map(this.entries.map(([k, v]) => [comparableKey(k), v]));
  }

  /** The value for `key`, or undefined (Go's invalid value) when absent. */
  get(key: GoValue): GoValue {
    return this.byKey.get(comparableKey(key));
  }
}

/** A stable string for Go's `==` on comparable values (map keys, eq, dedup). */
export function comparableKey(v: GoValue): string {
  if (v === undefined || v === null) return 'nil';
  if (typeof v === 'string') return `s${JSON.stringify(v)}`;
  if (typeof v === 'number') return `i${v}`;
  if (typeof v === 'boolean') return `b${v}`;
  if (v instanceof GoFloat) return `f${v.value}`;
  if (v instanceof GoStruct) return `${v.type}{${v.fields.map((f) => comparableKey(f.value)).join(',')}}`;
  throw new FuncError(`non-comparable type ${v.type}`);
}

/** Go's strings compare by UTF-8 bytes, which is code point order (not UTF-16 unit order). */
function compareStrings(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0) ?? 0);
  const y = Array.from(b, (c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return Math.sign(x.length - y.length);
}

/** internal/fmtsort's order: numbers and strings naturally, structs field by field. */
function compareKeys(a: GoValue, b: GoValue): number {
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b);
  if (typeof a === 'number' && typeof b === 'number') return Math.sign(a - b);
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b);
  if (a instanceof GoFloat && b instanceof GoFloat) {
    if (Number.isNaN(a.value)) return Number.isNaN(b.value) ? 0 : -1;
    if (Number.isNaN(b.value)) return 1;
    return Math.sign(a.value - b.value);
  }
  if (a instanceof GoStruct && b instanceof GoStruct) {
    for (let i = 0; i < a.fields.length; i++) {
      const c = compareKeys(a.fields[i]?.value, b.fields[i]?.value);
      if (c !== 0) return c;
    }
  }
  return 0;
}

export function typeName(v: GoValue): string {
  if (v === undefined || v === null) return 'nil';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'int';
  if (typeof v === 'boolean') return 'bool';
  if (v instanceof GoFloat) return 'float64';
  return v.type;
}

// ---------------------------------------------------------------------------------------------
// fmt: %v printing and the verbs of printf that templates use.

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const NAMED_ESCAPES: Readonly<Record<string, string>> = {
  '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v',
};

/** strconv.Quote (or QuoteRune with `'`). */
function goQuote(s: string, quote = '"'): string {
  let out = quote;
  for (const ch of s) {
    let cp = ch.codePointAt(0) ?? 0;
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (PRINTABLE.test(ch)) out += ch;
    else if (NAMED_ESCAPES[ch] !== undefined) out += NAMED_ESCAPES[ch];
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else {
      if (cp >= 0xd800 && cp <= 0xdfff) cp = 0xfffd; // a lone surrogate is not a valid rune
      out += cp < 0x10000 ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\U${cp.toString(16).padStart(8, '0')}`;
    }
  }
  return out + quote;
}

/** %v of a float64: strconv's 'g' with the shortest digits, which switches to an exponent when exp < -4 || exp >= 6. */
function formatFloat(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const [mantissa = '', expText = '0'] = x.toExponential().split('e');
  const exp = Number(expText);
  if (exp < -4 || exp >= 6) return `${mantissa}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  return String(x);
}

function badVerb(verb: string, v: GoValue): string {
  if (v === null || v === undefined) return `%!${verb}(<nil>)`;
  return `%!${verb}(${typeName(v)}=${formatValue(v, 'v')})`;
}

/** fmt's printing of one operand with a verb (v, s, d, q or t). */
export function formatValue(v: GoValue, verb: string): string {
  if (v === null || v === undefined) return verb === 'v' ? '<nil>' : badVerb(verb, v);
  if (typeof v === 'string') {
    if (verb === 'v' || verb === 's') return v;
    return verb === 'q' ? goQuote(v) : badVerb(verb, v);
  }
  if (typeof v === 'number') {
    if (verb === 'v' || verb === 'd') return String(v);
    return verb === 'q' ? goQuote(String.fromCodePoint(v >= 0 && v <= 0x10ffff ? v : 0xfffd), "'") : badVerb(verb, v);
  }
  if (typeof v === 'boolean') return verb === 'v' || verb === 't' ? String(v) : badVerb(verb, v);
  if (v instanceof GoFloat) return verb === 'v' ? formatFloat(v.value) : badVerb(verb, v);
  if (v instanceof GoSlice) return `[${v.items.map((item) => formatValue(item, verb)).join(' ')}]`;
  if (v instanceof GoMap) {
    return `map[${v.entries.map(([k, e]) => `${formatValue(k, verb)}:${formatValue(e, verb)}`).join(' ')}]`;
  }
  if (v.stringer !== undefined) {
    // fmt calls String() for the verbs that accept strings.
    return verb === 'v' || verb === 's' || verb === 'q' ? formatValue(v.stringer(), verb) : badVerb(verb, v);
  }
  return `{${v.fields.map((f) => formatValue(f.value, verb)).join(' ')}}`;
}

/** fmt.Sprint: spaces between operands when neither is a string. */
function sprint(args: readonly GoValue[]): string {
  let out = '';
  args.forEach((arg, i) => {
    const prev = args[i - 1];
    if (i > 0 && typeof arg !== 'string' && typeof prev !== 'string') out += ' ';
    out += formatValue(arg, 'v');
  });
  return out;
}

const PRINTF_VERBS = new Set(['v', 's', 'd', 'q', 't']);

/** fmt.Sprintf for the verbs %v %s %d %q %t and %%, without flags, width or precision. */
function sprintf(format: string, args: readonly GoValue[]): string {
  let out = '';
  let next = 0;
  const chars = Array.from(format);
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] ?? '';
    if (c !== '%') {
      out += c;
      continue;
    }
    const verb = chars[++i];
    if (verb === undefined) {
      out += '%!(NOVERB)';
      break;
    }
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (/[-+# 0-9.*[]/.test(verb)) throw new FuncError('printf flags, width and precision are not supported; use the plain verbs %v %s %d %q %t');
    if (!PRINTF_VERBS.has(verb)) throw new FuncError(`printf verb %${verb} is not supported; use %v %s %d %q or %t`);
    if (next >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    out += formatValue(args[next++], verb);
  }
  if (next < args.length) {
    const extra = args.slice(next).map((a) => (a === null || a === undefined ? '<nil>' : `${typeName(a)}=${formatValue(a, 'v')}`));
    out += `%!(EXTRA ${extra.join(', ')})`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Errors.

/** A problem in a template, at a 1-based line and column (in characters). */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
  constructor(readonly line: number, readonly column: number, readonly detail: string) {
    super(`line ${line}, col ${column}: ${detail}`);
  }
}

/** An error raised by a builtin function; the executor adds the position and "error calling". */
class FuncError extends Error {
  override readonly name = 'FuncError';
}

function errorAt(src: string, pos: number, detail: string): TemplateError {
  const before = src.slice(0, pos);
  const lineStart = before.lastIndexOf('\n') + 1;
  const line = before.split('\n').length;
  return new TemplateError(line, Array.from(src.slice(lineStart, pos)).length + 1, detail);
}

// ---------------------------------------------------------------------------------------------
// Lexer (parse/lex.go).

type TokenKind =
  | 'text' | 'leftDelim' | 'rightDelim' | 'field' | 'variable' | 'dot' | 'identifier' | 'keyword'
  | 'bool' | 'nil' | 'number' | 'char' | 'string' | 'rawString' | 'pipe' | 'declare' | 'assign'
  | 'leftParen' | 'rightParen' | 'punct' | 'error' | 'eof';

interface Token {
  readonly kind: TokenKind;
  readonly val: string;
  readonly pos: number;
  /** Whitespace came before it inside the action (Go emits that as its own item). */
  readonly space: boolean;
}

const KEYWORDS = new Set(['block', 'break', 'continue', 'define', 'else', 'end', 'if', 'range', 'nil', 'template', 'with']);
const isSpace = (c: string | undefined): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n';
const isAlphaNumeric = (c: string | undefined): boolean => c !== undefined && /^[\p{L}\p{Nd}_]$/u.test(c);
const isDigit = (c: string | undefined): boolean => c !== undefined && c >= '0' && c <= '9';

function describeRune(c: string): string {
  const hex = (c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0');
  return `U+${hex} '${c}'`;
}

function lex(src: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  const emit = (kind: TokenKind, start: number, end: number, space = false): void => {
    tokens.push({ kind, val: src.slice(start, end), pos: start, space });
  };
  const fail = (at: number, message: string): Token[] => {
    tokens.push({ kind: 'error', val: message, pos: at, space: false });
    return tokens;
  };
  const charAt = (i: number): string | undefined => (i < src.length ? String.fromCodePoint(src.codePointAt(i) ?? 0) : undefined);
  const hasRightTrim = (i: number): boolean => isSpace(src[i]) && src[i + 1] === '-' && src.startsWith('}}', i + 2);
  const atRightDelim = (i: number): { delim: boolean; trim: boolean } => {
    if (hasRightTrim(i)) return { delim: true, trim: true };
    return { delim: src.startsWith('}}', i), trim: false };
  };
  const skipSpaces = (i: number): number => {
    while (isSpace(src[i])) i++;
    return i;
  };
  const atTerminator = (i: number): boolean => {
    const c = src[i];
    return c === undefined || isSpace(c) || '.,|:)('.includes(c) || src.startsWith('}}', i);
  };
  const scanAlnum = (i: number): number => {
    for (let c = charAt(i); isAlphaNumeric(c); c = charAt(i)) i += (c ?? '').length;
    return i;
  };

  while (pos <= src.length) {
    const open = src.indexOf('{{', pos);
    if (open < 0) {
      if (pos < src.length) emit('text', pos, src.length);
      break;
    }
    const leftTrim = src[open + 2] === '-' && isSpace(src[open + 3]);
    let textEnd = open;
    if (leftTrim) while (textEnd > pos && isSpace(src[textEnd - 1])) textEnd--;
    if (textEnd > pos) emit('text', pos, textEnd);
    let i = open + 2 + (leftTrim ? 2 : 0);

    if (src.startsWith('/*', i)) {
      const close = src.indexOf('*/', i + 2);
      if (close < 0) return fail(open, 'unclosed comment');
      const { delim, trim } = atRightDelim(close + 2);
      if (!delim) return fail(open, 'comment ends before closing delimiter');
      pos = close + 2 + (trim ? 2 : 0) + 2;
      if (trim) pos = skipSpaces(pos);
      continue;
    }

    emit('leftDelim', open, open + 2);
    let parenDepth = 0;
    let space = false;
    for (;;) {
      const { delim, trim } = atRightDelim(i);
      if (delim) {
        if (parenDepth > 0) return fail(i, 'unclosed left paren');
        const at = trim ? i + 2 : i;
        emit('rightDelim', at, at + 2, space || trim);
        pos = at + 2;
        if (trim) pos = skipSpaces(pos);
        break;
      }
      const c = charAt(i);
      const start = i;
      if (c === undefined) return fail(open, 'unclosed action');
      if (isSpace(c)) {
        // Stop before a space that starts " -}}".
        while (isSpace(src[i]) && !hasRightTrim(i)) i++;
        if (i === start) i++;
        space = true;
        continue;
      }
      let kind: TokenKind;
      if (c === '=') {
        kind = 'assign';
        i++;
      } else if (c === ':') {
        if (src[i + 1] !== '=') return fail(i, 'expected :=');
        kind = 'declare';
        i += 2;
      } else if (c === '|') {
        kind = 'pipe';
        i++;
      } else if (c === '"' || c === "'") {
        kind = c === '"' ? 'string' : 'char';
        i++;
        for (;;) {
          const d = src[i++];
          if (d === '\\' && src[i] !== undefined && src[i] !== '\n') i++;
          else if (d === undefined || d === '\n' || d === '\\') {
            return fail(start, c === '"' ? 'unterminated quoted string' : 'unterminated character constant');
          } else if (d === c) break;
        }
      } else if (c === '`') {
        const close = src.indexOf('`', i + 1);
        if (close < 0) return fail(start, 'unterminated raw quoted string');
        kind = 'rawString';
        i = close + 1;
      } else if (c === '$') {
        kind = 'variable';
        i++;
        if (!atTerminator(i)) {
          i = scanAlnum(i);
          if (!atTerminator(i)) return fail(i, `bad character ${describeRune(charAt(i) ?? '')}`);
        }
      } else if (c === '.' && !isDigit(src[i + 1])) {
        i++;
        if (atTerminator(i)) kind = 'dot';
        else {
          kind = 'field';
          i = scanAlnum(i);
          if (!atTerminator(i)) return fail(i, `bad character ${describeRune(charAt(i) ?? '')}`);
        }
      } else if (c === '.' || c === '+' || c === '-' || isDigit(c)) {
        kind = 'number';
        const m = /^[+-]?(?:0[xX][0-9a-fA-F_]*(?:\.[0-9a-fA-F_]*)?(?:[pP][+-]?[0-9_]*)?|0[oO][0-7_]*(?:\.[0-7_]*)?|0[bB][01_]*(?:\.[01_]*)?|[0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9_]*)?)i?/.exec(src.slice(i));
        i += m?.[0].length ?? 0;
        if (isAlphaNumeric(charAt(i))) return fail(start, `bad number syntax: ${goQuote(src.slice(start, i + 1))}`);
        if (src[i] === '+' || src[i] === '-') return fail(start, 'complex numbers are not supported');
      } else if (isAlphaNumeric(c)) {
        i = scanAlnum(i);
        if (!atTerminator(i)) return fail(i, `bad character ${describeRune(charAt(i) ?? '')}`);
        const word = src.slice(start, i);
        kind = KEYWORDS.has(word) ? (word === 'nil' ? 'nil' : 'keyword') : word === 'true' || word === 'false' ? 'bool' : 'identifier';
      } else if (c === '(') {
        kind = 'leftParen';
        parenDepth++;
        i++;
      } else if (c === ')') {
        if (--parenDepth < 0) return fail(i, `unexpected right paren ${describeRune(c)}`);
        kind = 'rightParen';
        i++;
      } else if (c.length === 1 && c >= ' ' && c <= '~') {
        kind = 'punct';
        i++;
      } else {
        return fail(i, `unrecognized character in action: ${describeRune(c)}`);
      }
      emit(kind, start, i, space);
      space = false;
    }
  }
  tokens.push({ kind: 'eof', val: '', pos: src.length, space: false });
  return tokens;
}

// ---------------------------------------------------------------------------------------------
// Parse tree (parse/node.go).

export type Arg =
  | { readonly type: 'field'; readonly pos: number; readonly end: number; readonly idents: readonly string[] }
  | { readonly type: 'variable'; readonly pos: number; readonly end: number; readonly name: string; readonly idents: readonly string[] }
  | { readonly type: 'dot' | 'nil'; readonly pos: number; readonly end: number }
  | { readonly type: 'literal'; readonly pos: number; readonly end: number; readonly value: string | number | boolean | GoFloat }
  | { readonly type: 'identifier'; readonly pos: number; readonly end: number; readonly name: string }
  | { readonly type: 'pipe'; readonly pos: number; readonly end: number; readonly pipe: Pipe }
  | { readonly type: 'chain'; readonly pos: number; readonly end: number; readonly node: Arg; readonly idents: readonly string[] };

interface Command {
  readonly args: readonly Arg[];
}

interface Pipe {
  readonly pos: number;
  readonly decl: readonly string[];
  readonly isAssign: boolean;
  readonly cmds: readonly Command[];
}

interface ControlNode {
  readonly type: 'if' | 'with' | 'range';
  readonly pos: number;
  readonly pipe: Pipe;
  readonly list: readonly Node[];
  readonly elseList: readonly Node[] | undefined;
}

type Node =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'action'; readonly pos: number; readonly pipe: Pipe }
  | ControlNode
  | { readonly type: 'break' | 'continue'; readonly pos: number };

interface Marker {
  readonly type: 'end' | 'else';
  readonly pos: number;
}
const isMarker = (n: Node | Marker): n is Marker => n.type === 'end' || n.type === 'else';

export interface Template {
  readonly source: string;
  readonly root: readonly Node[];
}

export const BUILTINS: readonly string[] = ['and', 'eq', 'ge', 'gt', 'index', 'le', 'len', 'lt', 'ne', 'not', 'or', 'print', 'printf', 'println'];
const BUILTIN_SET = new Set(BUILTINS);
const UNSUPPORTED_GO_BUILTINS = new Set(['call', 'html', 'js', 'slice', 'urlquery']);
// Sprig's functions that Flux adds (sprig.HermeticTxtFuncMap); named so that the error says why.
const SPRIG_FUNCTIONS = new Set([
  'abbrev', 'add', 'adler32sum', 'append', 'atoi', 'b64dec', 'b64enc', 'base', 'cat', 'coalesce', 'compact',
  'contains', 'default', 'dict', 'dir', 'div', 'empty', 'ext', 'first', 'float64', 'get', 'has', 'hasKey',
  'hasPrefix', 'hasSuffix', 'indent', 'initial', 'int', 'int64', 'join', 'keys', 'kindIs', 'kindOf', 'last',
  'list', 'lower', 'max', 'merge', 'min', 'mod', 'mul', 'nindent', 'nospace', 'omit', 'pick', 'pluck',
  'prepend', 'quote', 'regexFind', 'regexFindAll', 'regexMatch', 'regexReplaceAll', 'regexReplaceAllLiteral',
  'regexSplit', 'repeat', 'replace', 'rest', 'reverse', 'semver', 'semverCompare', 'seq', 'set', 'sha1sum',
  'sha256sum', 'sortAlpha', 'split', 'splitList', 'splitn', 'squote', 'sub', 'substr', 'ternary', 'title',
  'toJson', 'toPrettyJson', 'toString', 'toStrings', 'trim', 'trimAll', 'trimPrefix', 'trimSuffix', 'trunc',
  'typeOf', 'untitle', 'uniq', 'unset', 'until', 'upper', 'values', 'without', 'wrap',
]);

function unknownFunction(name: string): string {
  const supported = `Flotilla supports Go's builtins ${BUILTINS.join(', ')}`;
  if (SPRIG_FUNCTIONS.has(name)) return `function "${name}" is a Sprig function (Flux adds Sprig); ${supported}`;
  if (UNSUPPORTED_GO_BUILTINS.has(name)) return `function "${name}" is a Go builtin that Flotilla does not support; ${supported}`;
  return `function "${name}" not defined; ${supported}`;
}

/** Go's item.String(), for "unexpected X in Y". */
function describeToken(t: Token): string {
  if (t.kind === 'eof') return 'EOF';
  if (t.kind === 'keyword') return `<${t.val}>`;
  return t.val.length > 10 ? `${goQuote(t.val.slice(0, 10))}...` : goQuote(t.val);
}

/** strconv.Unquote for "..." and '...' literals (the byte escapes \x and octal only below 0x80). */
function unquote(lit: string, at: number, src: string): string {
  const body = lit.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i] ?? '';
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i] ?? '';
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };
    if (simple[e] !== undefined) out += simple[e];
    else if (e === lit[0]) out += e;
    else {
      const width = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : /[0-7]/.test(e) ? 3 : 0;
      const digits = width === 3 ? body.slice(i, i + 3) : body.slice(i + 1, i + 1 + width);
      const cp = parseInt(digits, width === 3 ? 8 : 16);
      const valid = width > 0 && digits.length === width && /^[0-9a-fA-F]+$/.test(digits) && !Number.isNaN(cp);
      if (!valid || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) throw errorAt(src, at, `invalid syntax in ${lit}`);
      if ((width === 2 || width === 3) && cp >= 0x80) throw errorAt(src, at, `byte escapes above \\x7f are not supported in ${lit}`);
      out += String.fromCodePoint(cp);
      i += width === 3 ? 2 : width;
    }
  }
  return out;
}

function parseNumber(text: string, at: number, src: string, isChar: boolean): number | GoFloat {
  if (isChar) {
    const s = unquote(text, at, src);
    const cp = s.codePointAt(0);
    if (cp === undefined || String.fromCodePoint(cp) !== s) throw errorAt(src, at, `malformed character constant: ${text}`);
    return cp;
  }
  if (text.endsWith('i')) throw errorAt(src, at, 'complex numbers are not supported');
  const sign = text.startsWith('-') ? -1 : 1;
  const unsigned = text.replace(/^[+-]/, '');
  const digits = unsigned.replace(/_/g, '');
  const int = /^0[xX][0-9a-fA-F]+$|^0[oO][0-7]+$|^0[bB][01]+$|^0[0-7]*$|^[1-9][0-9]*$/.exec(digits);
  if (int !== null && !/__|^_|_$/.test(unsigned)) {
    const n = /^0[0-7]+$/.test(digits) ? parseInt(digits, 8) : Number(digits.replace(/^0[oO]/, '0o'));
    if (!Number.isSafeInteger(n)) throw errorAt(src, at, `number ${text} is too large`);
    return sign * n;
  }
  if (/^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(digits) && /[.eE]/.test(digits)) return new GoFloat(sign * Number(digits));
  throw errorAt(src, at, `illegal number syntax: ${goQuote(text)}`);
}

class Parser {
  private i = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  private readonly tokens: Token[];

  constructor(private readonly src: string) {
    this.tokens = lex(src);
  }

  parse(): Node[] {
    const root: Node[] = [];
    while (this.peek().kind !== 'eof') {
      const n = this.textOrAction();
      if (isMarker(n)) throw this.error(n.pos, `unexpected {{${n.type}}}`);
      root.push(n);
    }
    return root;
  }

  private error(pos: number, detail: string): TemplateError {
    return errorAt(this.src, pos, detail);
  }

  private peek(): Token {
    return this.tokens[this.i] ?? { kind: 'eof', val: '', pos: this.src.length, space: false };
  }

  private next(): Token {
    const t = this.peek();
    if (this.i < this.tokens.length) this.i++;
    return t;
  }

  private backup(): void {
    this.i--;
  }

  private unexpected(t: Token, context: string): TemplateError {
    if (t.kind === 'error') return this.error(t.pos, t.val);
    return this.error(t.pos, `unexpected ${describeToken(t)} in ${context}`);
  }

  private expect(kind: TokenKind, context: string): Token {
    const t = this.next();
    if (t.kind !== kind) throw this.unexpected(t, context);
    return t;
  }

  private textOrAction(): Node | Marker {
    const t = this.next();
    if (t.kind === 'text') return { type: 'text', text: t.val };
    if (t.kind === 'leftDelim') return this.action(t);
    throw this.unexpected(t, 'input');
  }

  private action(open: Token): Node | Marker {
    const t = this.next();
    if (t.kind === 'keyword') {
      switch (t.val) {
        case 'define':
        case 'template':
        case 'block':
          throw this.error(t.pos, `{{${t.val}}} is not supported: a commit message is a single template, so write the text inline`);
        case 'break':
        case 'continue': {
          const close = this.next();
          if (close.kind !== 'rightDelim') throw this.unexpected(close, `{{${t.val}}}`);
          if (this.rangeDepth === 0) throw this.error(t.pos, `{{${t.val}}} outside {{range}}`);
          return { type: t.val === 'break' ? 'break' : 'continue', pos: t.pos };
        }
        case 'else': {
          const p = this.peek();
          if (!(p.kind === 'keyword' && (p.val === 'if' || p.val === 'with'))) this.expect('rightDelim', 'else');
          return { type: 'else', pos: open.pos };
        }
        case 'end':
          this.expect('rightDelim', 'end');
          return { type: 'end', pos: open.pos };
        case 'if':
          return this.control('if', open.pos);
        case 'range':
          return this.control('range', open.pos);
        case 'with':
          return this.control('with', open.pos);
      }
    }
    this.backup();
    return { type: 'action', pos: t.pos, pipe: this.pipeline('command', 'rightDelim') };
  }

  private control(context: ControlNode['type'], pos: number): ControlNode {
    const mark = this.vars.length;
    const pipe = this.pipeline(context, 'rightDelim');
    if (context === 'range') this.rangeDepth++;
    const [list, next] = this.itemList(context, pos);
    if (context === 'range') this.rangeDepth--;
    let elseList: Node[] | undefined;
    if (next.type === 'else') {
      const p = this.peek();
      if (context !== 'range' && p.kind === 'keyword' && p.val === context) {
        // {{else if x}} is {{else}}{{if x}}...{{end}}{{end}}, sharing the one {{end}}.
        this.next();
        elseList = [this.control(context, p.pos)];
      } else {
        const [list2, end] = this.itemList(context, pos);
        if (end.type !== 'end') throw this.error(end.pos, 'expected end; found {{else}}');
        elseList = list2;
      }
    }
    this.vars.length = mark;
    return { type: context, pos, pipe, list, elseList };
  }

  private itemList(context: string, pos: number): [Node[], Marker] {
    const list: Node[] = [];
    while (this.peek().kind !== 'eof') {
      const n = this.textOrAction();
      if (isMarker(n)) return [list, n];
      list.push(n);
    }
    const { line, column } = this.error(pos, '');
    throw this.error(this.src.length, `unexpected EOF: the {{${context}}} at line ${line}, col ${column} has no {{end}}`);
  }

  private pipeline(context: string, end: 'rightDelim' | 'rightParen'): Pipe {
    const pos = this.peek().pos;
    const decl: string[] = [];
    let isAssign = false;
    for (;;) {
      const v = this.peek();
      if (v.kind !== 'variable') break;
      this.next();
      const n = this.peek();
      if (n.kind === 'assign' || n.kind === 'declare') {
        this.next();
        isAssign = n.kind === 'assign';
        decl.push(v.val);
        this.vars.push(v.val);
        break;
      }
      if (n.kind === 'punct' && n.val === ',') {
        this.next();
        decl.push(v.val);
        this.vars.push(v.val);
        if (context === 'range' && decl.length < 2) {
          const k = this.peek().kind;
          if (k === 'variable' || k === 'rightDelim' || k === 'rightParen') continue;
          throw this.error(this.peek().pos, 'range can only initialize variables');
        }
        throw this.error(n.pos, `too many declarations in ${context}`);
      }
      this.backup();
      break;
    }
    const cmds: Command[] = [];
    for (;;) {
      const t = this.next();
      if (t.kind === end) {
        if (cmds.length === 0) throw this.error(t.pos, `missing value for ${context}`);
        cmds.slice(1).forEach((c, i) => {
          const first = c.args[0];
          if (first !== undefined && (first.type === 'literal' || first.type === 'dot' || first.type === 'nil')) {
            throw this.error(first.pos, `non executable command in pipeline stage ${i + 2}`);
          }
        });
        return { pos, decl, isAssign, cmds };
      }
      if (['bool', 'char', 'dot', 'field', 'identifier', 'number', 'nil', 'rawString', 'string', 'variable', 'leftParen'].includes(t.kind)) {
        this.backup();
        cmds.push(this.command());
      } else {
        throw this.unexpected(t, context);
      }
    }
  }

  private command(): Command {
    const args: Arg[] = [];
    for (;;) {
      const operand = this.operand();
      if (operand !== undefined) args.push(operand);
      const t = this.peek();
      if (t.kind === 'rightDelim' || t.kind === 'rightParen') break;
      if (t.kind === 'pipe') {
        this.next();
        break;
      }
      if (operand !== undefined && t.space) continue;
      throw this.unexpected(this.next(), 'operand');
    }
    if (args.length === 0) throw this.error(this.peek().pos, 'empty command');
    return { args };
  }

  private operand(): Arg | undefined {
    const node = this.term();
    if (node === undefined) return undefined;
    const idents: string[] = [];
    let end = node.end;
    for (let t = this.peek(); t.kind === 'field' && !t.space; t = this.peek()) {
      this.next();
      idents.push(t.val.slice(1));
      end = t.pos + t.val.length;
    }
    if (idents.length === 0) return node;
    switch (node.type) {
      case 'field':
        return { ...node, idents: [...node.idents, ...idents], end };
      case 'variable':
        return { ...node, idents: [...node.idents, ...idents], end };
      case 'literal':
      case 'nil':
      case 'dot':
        throw this.error(node.end, `unexpected . after term ${goQuote(this.src.slice(node.pos, node.end))}`);
      default:
        return { type: 'chain', pos: node.pos, end, node, idents };
    }
  }

  private term(): Arg | undefined {
    const t = this.next();
    const pos = t.pos;
    const end = t.pos + t.val.length;
    switch (t.kind) {
      case 'identifier':
        if (!BUILTIN_SET.has(t.val)) throw this.error(pos, unknownFunction(t.val));
        return { type: 'identifier', pos, end, name: t.val };
      case 'dot':
        return { type: 'dot', pos, end };
      case 'nil':
        return { type: 'nil', pos, end };
      case 'variable': {
        if (!this.vars.includes(t.val)) throw this.error(pos, `undefined variable "${t.val}"`);
        return { type: 'variable', pos, end, name: t.val, idents: [] };
      }
      case 'field':
        return { type: 'field', pos, end, idents: [t.val.slice(1)] };
      case 'bool':
        return { type: 'literal', pos, end, value: t.val === 'true' };
      case 'number':
      case 'char':
        return { type: 'literal', pos, end, value: parseNumber(t.val, pos, this.src, t.kind === 'char') };
      case 'string':
        return { type: 'literal', pos, end, value: unquote(t.val, pos, this.src) };
      case 'rawString':
        return { type: 'literal', pos, end, value: t.val.slice(1, -1).replace(/\r/g, '') };
      case 'leftParen': {
        const pipe = this.pipeline('parenthesized pipeline', 'rightParen');
        return { type: 'pipe', pos, end: (this.tokens[this.i - 1]?.pos ?? end) + 1, pipe };
      }
      default:
        this.backup();
        return undefined;
    }
  }
}

/** Parses `source`, checking syntax, variables and function names as Go's parser does. */
export function parseTemplate(source: string): Template {
  return { source, root: new Parser(source).parse() };
}

// ---------------------------------------------------------------------------------------------
// Executor (exec.go, funcs.go).

const MISSING = Symbol('missing');
type Final = GoValue | typeof MISSING;
type Control = 'normal' | 'break' | 'continue';

function isTrue(v: GoValue): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'string') return v.length > 0;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'boolean') return v;
  if (v instanceof GoFloat) return v.value !== 0;
  if (v instanceof GoSlice) return v.items.length > 0;
  if (v instanceof GoMap) return v.entries.length > 0;
  return true; // struct values are always true
}

const embeddedStructs = (t: GoStruct): GoStruct[] =>
  t.fields.flatMap((f) => (f.embedded === true && f.value instanceof GoStruct ? [f.value] : []));

type Member = { readonly kind: 'method'; readonly call: () => GoValue } | { readonly kind: 'field'; readonly value: GoValue; readonly name: string };

/** Method or field `name` of `s`, searching embedded structs breadth-first like Go's promotion. */
function findMember(s: GoStruct, name: string): Member | undefined {
  let level: GoStruct[] = [s];
  while (level.length > 0) {
    const found: Member[] = [];
    for (const t of level) {
      const m = t.methods.get(name);
      if (m !== undefined) found.push({ kind: 'method', call: m });
      const f = t.fields.find((x) => x.name === name);
      if (f !== undefined) found.push({ kind: 'field', value: f.value, name: f.name });
    }
    if (found.length === 1) return found[0];
    if (found.length > 1) return undefined; // ambiguous at one depth: Go finds nothing
    level = level.flatMap(embeddedStructs);
  }
  return undefined;
}

/** The names a template can use on `s` (exported fields, promoted ones and methods). */
function memberNames(s: GoStruct): string[] {
  const names = new Set<string>();
  let level: GoStruct[] = [s];
  while (level.length > 0) {
    for (const t of level) {
      t.fields.filter((f) => /^\p{Lu}/u.test(f.name)).forEach((f) => names.add(f.name));
      t.methods.forEach((_, m) => names.add(m));
    }
    level = level.flatMap(embeddedStructs);
  }
  return [...names];
}

type BasicKind = 'bool' | 'int' | 'float' | 'string' | 'invalid';
function basicKind(v: GoValue): BasicKind {
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'int';
  if (typeof v === 'string') return 'string';
  if (v instanceof GoFloat) return 'float';
  return 'invalid';
}
const isNil = (v: GoValue): boolean => v === undefined || v === null;
const basicValue = (v: GoValue): unknown => (v instanceof GoFloat ? v.value : v);

function eq(a: GoValue, rest: readonly GoValue[]): boolean {
  if (rest.length === 0) throw new FuncError('missing argument for comparison');
  const k1 = basicKind(a);
  for (const b of rest) {
    const k2 = basicKind(b);
    let truth: boolean;
    if (k1 !== k2) {
      if (!isNil(a) && !isNil(b)) throw new FuncError('incompatible types for comparison');
      truth = false;
    } else if (k1 !== 'invalid') {
      truth = basicValue(a) === basicValue(b);
    } else if (isNil(a) || isNil(b)) {
      truth = isNil(a) === isNil(b);
    } else if (typeName(a) !== typeName(b)) {
      throw new FuncError(`non-comparable types ${formatValue(a, 'v')}: ${typeName(a)}, ${typeName(b)}: ${formatValue(b, 'v')}`);
    } else {
      truth = comparableKey(a) === comparableKey(b);
    }
    if (truth) return true;
  }
  return false;
}

function lt(a: GoValue, b: GoValue): boolean {
  const k1 = basicKind(a);
  const k2 = basicKind(b);
  if (k1 === 'invalid' || k2 === 'invalid') throw new FuncError('invalid type for comparison');
  if (k1 !== k2) throw new FuncError('incompatible types for comparison');
  if (k1 === 'bool') throw new FuncError('invalid type for comparison');
  if (typeof a === 'string' && typeof b === 'string') return compareStrings(a, b) < 0;
  return Number(basicValue(a)) < Number(basicValue(b));
}

const utf8Length = (s: string): number => new TextEncoder().encode(s).length;

function length(v: GoValue): number {
  if (typeof v === 'string') return utf8Length(v);
  if (v instanceof GoSlice) return v.items.length;
  if (v instanceof GoMap) return v.entries.length;
  if (isNil(v)) throw new FuncError('len of nil value');
  throw new FuncError(`len of type ${typeName(v)}`);
}

function index(item: GoValue, indices: readonly GoValue[]): GoValue {
  if (isNil(item)) throw new FuncError('index of untyped nil');
  for (const ix of indices) {
    if (typeof item === 'string' || item instanceof GoSlice) {
      if (isNil(ix)) throw new FuncError('cannot index slice/array with nil');
      if (typeof ix !== 'number') throw new FuncError(`cannot index slice/array with type ${typeName(ix)}`);
      const size = typeof item === 'string' ? utf8Length(item) : item.items.length;
      if (ix < 0 || ix >= size) throw new FuncError(`index out of range: ${ix}`);
      item = typeof item === 'string' ? new TextEncoder().encode(item)[ix] : item.items[ix];
    } else if (item instanceof GoMap) {
      if (isNil(ix)) throw new FuncError(`value is nil; should be of type ${item.keyType}`);
      if (typeName(ix) !== item.keyType) throw new FuncError(`value has type ${typeName(ix)}; should be ${item.keyType}`);
      const found = item.get(ix);
      item = found === undefined ? item.zero() : found;
    } else {
      throw new FuncError(`can't index item of type ${typeName(item)}`);
    }
  }
  return item;
}

interface Arity {
  readonly min: number;
  readonly max: number;
}
const ARITY: Readonly<Record<string, Arity>> = {
  and: { min: 1, max: Infinity }, or: { min: 1, max: Infinity }, eq: { min: 1, max: Infinity },
  index: { min: 1, max: Infinity }, len: { min: 1, max: 1 }, not: { min: 1, max: 1 },
  ne: { min: 2, max: 2 }, lt: { min: 2, max: 2 }, le: { min: 2, max: 2 }, gt: { min: 2, max: 2 }, ge: { min: 2, max: 2 },
  print: { min: 0, max: Infinity }, println: { min: 0, max: Infinity }, printf: { min: 1, max: Infinity },
};

function callBuiltin(name: string, args: readonly GoValue[]): GoValue {
  const [a, b] = args;
  // print, printf and println take ...any: an invalid value becomes a nil interface.
  const anyArgs = (): GoValue[] => args.map((v) => (v === undefined ? null : v));
  switch (name) {
    case 'not': return !isTrue(a);
    case 'len': return length(a);
    case 'index': return index(a, args.slice(1));
    case 'eq': return eq(a, args.slice(1));
    case 'ne': return !eq(a, [b]);
    case 'lt': return lt(a, b);
    case 'le': return lt(a, b) || eq(a, [b]);
    case 'gt': return !(lt(a, b) || eq(a, [b]));
    case 'ge': return !lt(a, b);
    case 'print': return sprint(anyArgs());
    case 'println': return `${anyArgs().map((v) => formatValue(v, 'v')).join(' ')}\n`;
    case 'printf': {
      const [format, ...rest] = anyArgs();
      return sprintf(typeof format === 'string' ? format : '', rest);
    }
    default: throw new FuncError(`function "${name}" not defined`);
  }
}

/** Bounds on one execution, so a template cannot hang the caller (Go has none). */
export const MAX_RANGE_ITERATIONS = 100_000;
export const MAX_OUTPUT_LENGTH = 1_000_000;

class Executor {
  private out = '';
  private vars: { name: string; value: GoValue }[] = [];
  private iterations = 0;

  constructor(private readonly src: string) {}

  run(root: readonly Node[], data: GoValue): string {
    this.vars = [{ name: '$', value: data }];
    this.walkList(data, root);
    return this.out;
  }

  private error(at: { readonly pos: number; readonly end?: number }, detail: string): TemplateError {
    const context = at.end !== undefined ? `executing <${this.src.slice(at.pos, at.end)}>: ` : '';
    return errorAt(this.src, at.pos, `${context}${detail}`);
  }

  private walkList(dot: GoValue, list: readonly Node[]): Control {
    for (const n of list) {
      const c = this.walk(dot, n);
      if (c !== 'normal') return c;
    }
    return 'normal';
  }

  private walk(dot: GoValue, n: Node): Control {
    switch (n.type) {
      case 'text':
        this.out += n.text;
        return 'normal';
      case 'action': {
        const v = this.evalPipeline(dot, n.pipe);
        if (n.pipe.decl.length === 0) this.out += v === undefined ? '<no value>' : formatValue(v, 'v');
        return 'normal';
      }
      case 'if':
      case 'with': {
        const mark = this.vars.length;
        const v = this.evalPipeline(dot, n.pipe);
        let c: Control = 'normal';
        if (isTrue(v)) c = this.walkList(n.type === 'with' ? v : dot, n.list);
        else if (n.elseList !== undefined) c = this.walkList(dot, n.elseList);
        this.vars.length = mark;
        return c;
      }
      case 'range':
        return this.walkRange(dot, n);
      case 'break':
      case 'continue':
        return n.type;
    }
  }

  private walkRange(dot: GoValue, n: ControlNode): Control {
    const start = this.vars.length;
    const val = this.evalPipeline(dot, n.pipe);
    const mark = this.vars.length;
    const { decl, isAssign } = n.pipe;
    let result: Control = 'normal';
    const iterate = (key: GoValue, elem: GoValue): boolean => {
      if (++this.iterations > MAX_RANGE_ITERATIONS) throw this.error(n.pipe, `range runs more than ${MAX_RANGE_ITERATIONS} iterations in all`);
      if (decl.length > 0) this.setRangeVar(n, isAssign ? decl[0] : undefined, decl.length > 1 ? key : elem, decl.length > 1 ? 2 : 1);
      if (decl.length > 1) this.setRangeVar(n, isAssign ? decl[1] : undefined, elem, 1);
      const c = this.walkList(elem, n.list);
      this.vars.length = mark;
      if (this.out.length > MAX_OUTPUT_LENGTH) throw this.error(n.pipe, `the output exceeds ${MAX_OUTPUT_LENGTH} characters`);
      return c !== 'break';
    };
    if (val instanceof GoSlice) {
      for (let i = 0; i < val.items.length && iterate(i, val.items[i]); i++);
    } else if (val instanceof GoMap) {
      for (const [k, v] of val.entries) if (!iterate(k, v)) break;
    } else if (typeof val === 'number') {
      if (decl.length > 1) throw this.error(n.pipe, `can't use ${val} to iterate over more than one variable`);
      for (let i = 0; i < val && iterate(undefined, i); i++);
    } else if (!isNil(val)) {
      throw this.error(n.pipe, `range can't iterate over ${formatValue(val, 'v')}`);
    }
    // break and continue inside the list end at this range; in the else list they belong to an outer one.
    const empty = val instanceof GoSlice ? val.items.length === 0 : val instanceof GoMap ? val.entries.length === 0 : typeof val === 'number' ? val <= 0 : true;
    if (empty && n.elseList !== undefined) result = this.walkList(dot, n.elseList);
    this.vars.length = start;
    return result;
  }

  /** Go's setTopVar(depth) for `:=`, setVar(name) for `=`. */
  private setRangeVar(n: ControlNode, name: string | undefined, value: GoValue, depth: number): void {
    if (name !== undefined) {
      this.setVar(n.pipe, name, value);
      return;
    }
    const slot = this.vars[this.vars.length - depth];
    if (slot !== undefined) slot.value = value;
  }

  private setVar(at: { readonly pos: number }, name: string, value: GoValue): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const slot = this.vars[i];
      if (slot?.name === name) {
        slot.value = value;
        return;
      }
    }
    throw this.error(at, `undefined variable: ${name}`);
  }

  private varValue(at: Arg, name: string): GoValue {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      const slot = this.vars[i];
      if (slot?.name === name) return slot.value;
    }
    throw this.error(at, `undefined variable: ${name}`);
  }

  private evalPipeline(dot: GoValue, pipe: Pipe): GoValue {
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    const result = value === MISSING ? undefined : value;
    for (const name of pipe.decl) {
      if (pipe.isAssign) this.setVar(pipe, name, result);
      else this.vars.push({ name, value: result });
    }
    return result;
  }

  private notAFunction(args: readonly Arg[], final: Final): void {
    const first = args[0];
    if (first !== undefined && (args.length > 1 || final !== MISSING)) {
      throw this.error(first, `can't give argument to non-function ${this.src.slice(first.pos, first.end)}`);
    }
  }

  private evalCommand(dot: GoValue, cmd: Command, final: Final): GoValue {
    const first = cmd.args[0];
    if (first === undefined) return undefined;
    switch (first.type) {
      case 'field':
        return this.evalFieldChain(dot, dot, first, first.idents, cmd.args, final);
      case 'chain':
        return this.evalChain(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first.pipe);
      case 'variable':
        return this.evalVariable(dot, first, cmd.args, final);
      case 'literal':
        this.notAFunction(cmd.args, final);
        return first.value;
      case 'dot':
        this.notAFunction(cmd.args, final);
        return dot;
      case 'nil':
        throw this.error(first, 'nil is not a command');
    }
  }

  private evalVariable(dot: GoValue, v: Extract<Arg, { type: 'variable' }>, args: readonly Arg[], final: Final): GoValue {
    const value = this.varValue(v, v.name);
    if (v.idents.length === 0) {
      this.notAFunction(args, final);
      return value;
    }
    return this.evalFieldChain(dot, value, v, v.idents, args, final);
  }

  private evalChain(dot: GoValue, chain: Extract<Arg, { type: 'chain' }>, args: readonly Arg[], final: Final): GoValue {
    if (chain.node.type === 'nil') throw this.error(chain, `indirection through explicit nil in ${this.src.slice(chain.pos, chain.end)}`);
    const receiver = this.evalArg(dot, chain.node);
    return this.evalFieldChain(dot, receiver, chain, chain.idents, args, final);
  }

  private evalFieldChain(dot: GoValue, receiver: GoValue, node: Arg, idents: readonly string[], args: readonly Arg[], final: Final): GoValue {
    let r = receiver;
    idents.forEach((name, i) => {
      const last = i === idents.length - 1;
      r = this.evalField(name, node, last ? args : [], last ? final : MISSING, r);
    });
    return r;
  }

  private evalField(name: string, node: Arg, args: readonly Arg[], final: Final, receiver: GoValue): GoValue {
    if (receiver === undefined) return undefined;
    if (receiver === null) throw this.error(node, `nil pointer evaluating interface {}.${name}`);
    const argCount = Math.max(args.length - 1, 0) + (final === MISSING ? 0 : 1);
    const hasArgs = argCount > 0;
    if (receiver instanceof GoStruct) {
      const member = findMember(receiver, name);
      if (member?.kind === 'method') {
        if (hasArgs) throw this.error(node, `wrong number of args for ${name}: want 0 got ${argCount}`);
        return member.call();
      }
      if (member?.kind === 'field') {
        if (!/^\p{Lu}/u.test(member.name)) throw this.error(node, `${name} is an unexported field of struct type ${receiver.type}`);
        if (hasArgs) throw this.error(node, `${name} has arguments but cannot be invoked as function`);
        return member.value;
      }
      throw this.error(node, `can't evaluate field ${name} in type ${receiver.type}; it has ${memberNames(receiver).join(', ')}`);
    }
    if (receiver instanceof GoMap) {
      if (receiver.keyType === 'string') {
        if (hasArgs) throw this.error(node, `${name} is not a method but has arguments`);
        return receiver.get(name);
      }
      throw this.error(node, `can't evaluate field ${name} in type ${receiver.type}; its keys are not strings: use range or index`);
    }
    throw this.error(node, `can't evaluate field ${name} in type ${typeName(receiver)}`);
  }

  private evalArg(dot: GoValue, n: Arg): GoValue {
    switch (n.type) {
      case 'dot': return dot;
      case 'nil': return null;
      case 'field': return this.evalFieldChain(dot, dot, n, n.idents, [n], MISSING);
      case 'variable': return this.evalVariable(dot, n, [n], MISSING);
      case 'pipe': return this.evalPipeline(dot, n.pipe);
      case 'identifier': return this.evalFunction(dot, n, [n], MISSING);
      case 'chain': return this.evalChain(dot, n, [n], MISSING);
      case 'literal': return n.value;
    }
  }

  private evalFunction(dot: GoValue, fn: Extract<Arg, { type: 'identifier' }>, args: readonly Arg[], final: Final): GoValue {
    const name = fn.name;
    const argNodes = args.slice(1);
    const count = argNodes.length + (final === MISSING ? 0 : 1);
    const arity = ARITY[name] ?? { min: 0, max: Infinity };
    if (count < arity.min || count > arity.max) {
      const want = arity.max === Infinity ? `at least ${arity.min}` : String(arity.min);
      throw this.error(fn, `wrong number of args for ${name}: want ${want} got ${count}`);
    }
    if (name === 'and' || name === 'or') {
      // Short-circuit: the first decisive argument, else the last one.
      let v: GoValue;
      for (const n of argNodes) {
        v = this.evalArg(dot, n);
        if (isTrue(v) === (name === 'or')) return v;
      }
      return final === MISSING ? v : final;
    }
    if (name === 'printf') {
      const format = argNodes[0];
      if (format?.type === 'literal' && typeof format.value !== 'string') {
        throw this.error(format, `expected string; found ${this.src.slice(format.pos, format.end)}`);
      }
    }
    const values = argNodes.map((n) => this.evalArg(dot, n));
    if (final !== MISSING) values.push(final);
    if (name === 'printf' && typeof values[0] !== 'string') {
      const got = values[0] === undefined ? 'invalid value' : `wrong type for value`;
      throw this.error(fn, `${got}; expected string; got ${typeName(values[0])}`);
    }
    try {
      return callBuiltin(name, values);
    } catch (e) {
      if (e instanceof FuncError) throw this.error(fn, `error calling ${name}: ${e.message}`);
      throw e;
    }
  }
}

/** Executes a parsed template with `data` as dot, like Go's Template.Execute. */
export function executeTemplate(template: Template, data: GoValue): string {
  return new Executor(template.source).run(template.root, data);
}
