/**
 * The parser of kubectl's JSONPath templates (k8s.io/client-go/util/jsonpath, parser.go), so that
 * `shoalctl get -o jsonpath=...` and printer columns read an expression exactly as kubectl does:
 * text outside braces is printed as it is; inside, `.field`, `['key']`, `[n]`, `[start:end:step]`,
 * `[*]`, `[a,b]` unions, `[?(@.x=="y")]` filters, `..` recursive descent, `"quoted text"`,
 * numbers, booleans and the `range`/`end` keywords. Its quirks are kubectl's too: a `['a.b']` key
 * splits at the dot (escape it as `.a\.b`), and a union splits at every comma.
 */

export type Node = ListNode | TextNode | FieldNode | ArrayNode | FilterNode | NumberNode | BoolNode | WildcardNode | RecursiveNode | UnionNode | IdentifierNode;

export interface ListNode {
  type: 'list';
  nodes: Node[];
}
export interface TextNode {
  type: 'text';
  text: string;
}
export interface FieldNode {
  type: 'field';
  name: string;
}
export interface SliceParam {
  value: number;
  /** Written in the expression (or derived from the start, for `[n]`). */
  known: boolean;
  /** `[n]`'s end, n + 1: a derived end of 0 means the end of the array (`[-1]`). */
  derived: boolean;
}
export interface ArrayNode {
  type: 'array';
  params: [start: SliceParam, end: SliceParam, step: SliceParam];
}
export interface FilterNode {
  type: 'filter';
  left: ListNode;
  right: ListNode;
  operator: 'exists' | '<' | '>' | '==' | '!=' | '<=' | '>=' | string;
}
/** An integer or a float literal: Go compares an int only with an int, a float only with a float. */
export interface NumberNode {
  type: 'number';
  value: number;
  float: boolean;
}
export interface BoolNode {
  type: 'bool';
  value: boolean;
}
export interface WildcardNode {
  type: 'wildcard';
}
export interface RecursiveNode {
  type: 'recursive';
}
export interface UnionNode {
  type: 'union';
  nodes: ListNode[];
}
export interface IdentifierNode {
  type: 'identifier';
  name: string;
}

export class JsonPathSyntaxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonPathSyntaxError';
  }
}

/** The template's top-level nodes: texts, and one list per `{...}` action. */
export function parseTemplate(text: string): Node[] {
  return new Parser(text).parse().nodes;
}

const SLICE = /^(-?\d*)(:-?\d*)?(:-?\d*)?$/;
const DICT_KEY = /^'([^']*)'$/;
const COMPARISON = /^([^!<>=]+)([!<>=]+)(.+?)$/s;

class Parser {
  private pos = 0;
  private start = 0;
  private readonly root: ListNode = { type: 'list', nodes: [] };

  constructor(private readonly input: string) {}

  parse(): ListNode {
    this.parseText();
    return this.root;
  }

  /** The expression inside one pair of braces, as its own list (a filter's sides, a union's parts, a `['key']`). */
  static parseAction(text: string): ListNode {
    const root = new Parser(`{${text}}`).parse();
    return root.nodes[0] as ListNode;
  }

  private rest(): string {
    return this.input.slice(this.pos);
  }

  private consume(): string {
    const value = this.input.slice(this.start, this.pos);
    this.start = this.pos;
    return value;
  }

  /** The next character (a whole code point), or undefined at the end. */
  private next(): string | undefined {
    if (this.pos >= this.input.length) return undefined;
    const c = String.fromCodePoint(this.input.codePointAt(this.pos)!);
    this.pos += c.length;
    return c;
  }

  private backup(c: string | undefined): void {
    if (c !== undefined) this.pos -= c.length;
  }

  private peek(): string | undefined {
    const c = this.next();
    this.backup(c);
    return c;
  }

  private parseText(): void {
    for (;;) {
      if (this.rest().startsWith('{')) {
        if (this.pos > this.start) this.root.nodes.push({ type: 'text', text: this.consume() });
        this.pos += 1;
        this.consume();
        const action: ListNode = { type: 'list', nodes: [] };
        this.root.nodes.push(action);
        this.parseInsideAction(action);
        return;
      }
      if (this.next() === undefined) break;
    }
    if (this.pos > this.start) this.root.nodes.push({ type: 'text', text: this.consume() });
  }

  private parseInsideAction(cur: ListNode): void {
    // A loop where Go recurses: a long expression must not grow the stack.
    for (;;) {
      const rest = this.rest();
      if (rest.startsWith('}')) {
        this.pos += 1;
        this.consume();
        this.parseText();
        return;
      }
      if (rest.startsWith('[?(')) {
        this.parseFilter(cur);
        continue;
      }
      if (rest.startsWith('..')) {
        this.parseRecursive(cur);
        continue;
      }
      const c = this.next();
      if (c === undefined || c === '\r' || c === '\n') throw new JsonPathSyntaxError('unclosed action');
      if (c === ' ' || c === '@' || c === '$') this.consume();
      else if (c === '[') this.parseArray(cur);
      else if (c === '"' || c === "'") this.parseQuote(cur, c);
      else if (c === '.') this.parseField(cur);
      else if (c === '+' || c === '-' || isDigit(c)) {
        this.backup(c);
        this.parseNumber(cur);
      } else if (isAlphaNumeric(c)) {
        this.backup(c);
        this.parseIdentifier(cur);
      } else throw new JsonPathSyntaxError(`unrecognized character in action: ${describeChar(c)}`);
    }
  }

  private parseIdentifier(cur: ListNode): void {
    for (;;) {
      const c = this.next();
      if (isTerminator(c)) {
        this.backup(c);
        break;
      }
    }
    const value = this.consume();
    if (value === 'true' || value === 'false') cur.nodes.push({ type: 'bool', value: value === 'true' });
    else cur.nodes.push({ type: 'identifier', name: value });
  }

  private parseRecursive(cur: ListNode): void {
    if (cur.nodes.at(-1)?.type === 'recursive') throw new JsonPathSyntaxError('invalid multiple recursive descent');
    this.pos += 2;
    this.consume();
    cur.nodes.push({ type: 'recursive' });
    const c = this.peek();
    if (c !== undefined && isAlphaNumeric(c)) this.parseField(cur);
  }

  private parseNumber(cur: ListNode): void {
    const first = this.peek();
    if (first === '+' || first === '-') this.next();
    for (;;) {
      const c = this.next();
      if (c !== '.' && !(c !== undefined && isDigit(c))) {
        this.backup(c);
        break;
      }
    }
    const value = this.consume();
    if (/^[+-]?\d+$/.test(value)) cur.nodes.push({ type: 'number', value: Number.parseInt(value, 10), float: false });
    else if (/^[+-]?(\d+\.?\d*|\.\d+)$/.test(value)) cur.nodes.push({ type: 'number', value: Number.parseFloat(value), float: true });
    else throw new JsonPathSyntaxError(`cannot parse number ${value}`);
  }

  private parseArray(cur: ListNode): void {
    for (;;) {
      const c = this.next();
      if (c === undefined || c === '\n') throw new JsonPathSyntaxError('unterminated array');
      if (c === ']') break;
    }
    let text = this.consume().slice(1, -1);
    if (text === '*') text = ':';

    const parts = text.split(',');
    if (parts.length > 1) {
      cur.nodes.push({ type: 'union', nodes: parts.map((p) => Parser.parseAction(`[${p.trim()}]`)) });
      return;
    }
    const key = DICT_KEY.exec(text);
    if (key) {
      cur.nodes.push(...Parser.parseAction(`.${key[1]}`).nodes);
      return;
    }
    const slice = SLICE.exec(text);
    if (!slice) throw new JsonPathSyntaxError(`invalid array index ${text}`);
    const params: SliceParam[] = [];
    for (let i = 0; i < 3; i++) {
      let written = slice[i + 1] ?? '';
      if (written !== '') {
        if (i > 0) written = written.slice(1);
        if (i > 0 && written === '') params.push({ value: 0, known: false, derived: false });
        else params.push({ value: Number.parseInt(written, 10), known: true, derived: false });
      } else if (i === 1) {
        params.push({ value: params[0]!.value + 1, known: true, derived: true });
      } else {
        params.push({ value: 0, known: false, derived: false });
      }
    }
    cur.nodes.push({ type: 'array', params: params as ArrayNode['params'] });
  }

  private parseFilter(cur: ListNode): void {
    this.pos += 3;
    this.consume();
    let quoted = false;
    let closed = false;
    let quote = '';
    for (;;) {
      const c = this.next();
      if (c === undefined || c === '\n') throw new JsonPathSyntaxError('unterminated filter');
      if (c === '"' || c === "'") {
        if (!quoted) {
          quoted = true;
          quote = c;
          continue;
        }
        if (this.input[this.pos - 2] !== '\\' && c === quote) closed = true;
      } else if (c === ')' && quoted === closed) break;
    }
    if (this.next() !== ']') throw new JsonPathSyntaxError('unclosed array expect ]');
    const text = this.consume().slice(0, -2);
    const comparison = COMPARISON.exec(text);
    if (!comparison) {
      cur.nodes.push({ type: 'filter', left: Parser.parseAction(text), right: { type: 'list', nodes: [] }, operator: 'exists' });
      return;
    }
    cur.nodes.push({ type: 'filter', left: Parser.parseAction(comparison[1]!), right: Parser.parseAction(comparison[3]!), operator: comparison[2]! });
  }

  private parseQuote(cur: ListNode, end: string): void {
    for (;;) {
      const c = this.next();
      if (c === undefined || c === '\n') throw new JsonPathSyntaxError('unterminated quoted string');
      if (c === end && this.input[this.pos - 2] !== '\\') break;
    }
    const value = this.consume();
    cur.nodes.push({ type: 'text', text: unquote(value) });
  }

  private parseField(cur: ListNode): void {
    this.consume();
    for (;;) {
      const c = this.next();
      if (c === '\\') this.next();
      else if (isTerminator(c)) {
        this.backup(c);
        break;
      }
    }
    const value = this.consume();
    if (value === '*') cur.nodes.push({ type: 'wildcard' });
    else cur.nodes.push({ type: 'field', name: value.replaceAll('\\', '') });
  }
}

function isTerminator(c: string | undefined): boolean {
  return c === undefined || ' \t\r\n.,[]$@{}'.includes(c);
}

function isDigit(c: string): boolean {
  return /^\p{Nd}$/u.test(c);
}

function isAlphaNumeric(c: string): boolean {
  return c === '_' || /^[\p{L}\p{Nd}]$/u.test(c);
}

/** As Go's %#U: `U+007B '{'`. */
function describeChar(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')} '${c}'`;
}

const SIMPLE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', "'": "'", '"': '"' };

/** A quoted string as Go's strconv.UnquoteChar reads it, with single quotes allowed around a whole string. */
function unquote(quoted: string): string {
  const quote = quoted[0]!;
  const body = quoted.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === quote) throw new JsonPathSyntaxError(`unquote string ${quoted} error invalid syntax`);
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) throw new JsonPathSyntaxError(`unquote string ${quoted} error invalid syntax`);
    if (e in SIMPLE_ESCAPES) {
      // Go refuses the other quote escaped: "\'" in a double-quoted string.
      if ((e === "'" || e === '"') && e !== quote) throw new JsonPathSyntaxError(`unquote string ${quoted} error invalid syntax`);
      out += SIMPLE_ESCAPES[e];
      continue;
    }
    const hex = { x: 2, u: 4, U: 8 }[e];
    const digits = hex ? body.slice(i + 1, i + 1 + hex) : body.slice(i, i + 3);
    const valid = hex ? new RegExp(`^[0-9a-fA-F]{${hex}}$`).test(digits) : /^[0-7]{3}$/.test(digits);
    const code = valid ? Number.parseInt(digits, hex ? 16 : 8) : Number.NaN;
    if (!valid || code > 0x10ffff || (!hex && code > 255)) throw new JsonPathSyntaxError(`unquote string ${quoted} error invalid syntax`);
    out += String.fromCodePoint(code);
    i += hex ? hex : 2;
  }
  return out;
}
