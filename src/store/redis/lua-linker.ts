/**
 * Builds each script from only the parts of the Lua library it uses.
 *
 * Redis runs a script's whole text on every call, and every `local function` in it makes a new
 * closure each time: with the full library in front of every script, that alone cost some 13 µs a
 * call, more than a claim of one job does. So the library is cut into its top-level declarations,
 * and a script gets those its body names, and those they name in turn, in the library's order.
 *
 * The library must be a series of top-level `local` declarations (`local function f(...)` or
 * `local a, b = ...`), each with its comment lines just above it. Comments (from `--` to the end of
 * the line: the library has no string holding `--`) name nothing; a name in a string pulls its
 * declaration in, which is harmless, merely unused.
 */

interface Declaration {
  /** The declaration with the comment lines above it. */
  readonly text: string;
  readonly names: readonly string[];
  /** Names of other declarations it uses. */
  readonly uses: readonly string[];
}

const DECLARATION_START = /^local (?:function ([A-Za-z_]\w*)|([A-Za-z_][\w, ]*?)\s*=)/;
const CONTINUATION = /^(\s|end\b|\}|\))/;
const IDENTIFIER = /[A-Za-z_]\w*/g;
const COMMENT = /--.*$/gm;

/** The names Lua code uses (comments left out). */
function identifiers(code: string): Set<string> {
  return new Set(code.replace(COMMENT, '').match(IDENTIFIER) ?? []);
}

/** The library cut into its top-level declarations, in order. */
function declarationsOf(library: string): Declaration[] {
  const lines = library.split('\n');
  const parts: { lines: string[]; names: string[] }[] = [];
  let comments: string[] = [];
  for (const line of lines) {
    const start = DECLARATION_START.exec(line);
    if (start) {
      const names = start[1] ? [start[1]] : start[2]!.split(',').map((name) => name.trim());
      parts.push({ lines: [...comments, line], names });
      comments = [];
    } else if (line.startsWith('--') || line.trim() === '') {
      // A comment or blank line at the top level belongs to the declaration after it, unless it sits
      // inside one (a declaration's own lines are indented, or close it with `end` or `}`).
      comments.push(line);
    } else {
      const current = parts.at(-1);
      // Inside a declaration, lines are indented or close it: anything else at the top level would be
      // a statement no declaration owns (or a `local` this parser does not know), left out unseen.
      if (!current || !CONTINUATION.test(line)) {
        throw new Error(`Lua library: expected a local declaration, found: ${line}`);
      }
      current.lines.push(...comments, line);
      comments = [];
    }
  }
  const declared = new Set(parts.flatMap((part) => part.names));
  return parts.map((part) => {
    const text = part.lines.join('\n');
    const uses = [...identifiers(text)].filter((name) => declared.has(name) && !part.names.includes(name));
    return { text, names: part.names, uses };
  });
}

/** A library, ready to give each script the declarations it needs. */
export class LuaLibrary {
  private readonly declarations: Declaration[];
  private readonly declaring = new Map<string, number>();

  constructor(source: string) {
    this.declarations = declarationsOf(source);
    this.declarations.forEach((declaration, at) => {
      for (const name of declaration.names) this.declaring.set(name, at);
    });
  }

  /** The declarations `code` uses, directly or through others, in the library's order. */
  linkedFor(code: string): string {
    const needed = new Set<number>();
    const visit = (name: string) => {
      const at = this.declaring.get(name);
      if (at === undefined || needed.has(at)) return;
      needed.add(at);
      for (const used of this.declarations[at]!.uses) visit(used);
    };
    for (const name of identifiers(code)) visit(name);
    return this.declarations
      .filter((_, at) => needed.has(at))
      .map((declaration) => declaration.text)
      .join('\n');
  }
}
