/**
 * Masking secrets in text that Sundial stores or shows: job errors (message and stack), task output
 * and results, derived task ids, events, hooks and the CLI. There is one rule set, the built-in one
 * plus the app's own (`createSundial({ mask })`, `defineConfig({ mask })`), and one `mask()` that
 * every exit calls, so a secret one exit catches is caught at every other.
 *
 * Every built-in pattern stays linear in the length of the text, since task output can be
 * megabytes and masking runs on every failed attempt:
 * - a match can start only at the start of a run of its own characters (a lookbehind on them, not
 *   `\b`, which a `-` inside a run would satisfy; see `startOf`), so a failed attempt is never
 *   retried from inside the same run;
 * - no repetition is nested in another, and where a pattern must look ahead for an end (a quote, an
 *   END line) the look is bounded or the match consumes what it looked at;
 * - a key's value is found by a scanner that moves on after each key instead of a regex whose failed
 *   attempt would swallow the value (which hid `?token=` behind `https:`).
 */
import { InvalidOptionError } from './errors.ts';

/** What a masked secret reads as. */
export const MASK = '[masked]';

/**
 * A rule of the app's own: a RegExp, each of whose matches becomes `[masked]` (it is used as if it
 * had the `g` flag), or a function from text to the text with its secrets replaced.
 */
export type MaskRule = RegExp | ((text: string) => string);

/**
 * More to mask than the built-in rules.
 *
 * @example
 * createSundial({
 *   mask: {
 *     rules: [/acme_[0-9a-f]{24}/g, (text) => text.replaceAll(internalHostname, '[host]')],
 *     keys: ['x-acme-ticket'],
 *   },
 * });
 */
export interface MaskOptions {
  /** Patterns or functions, applied before the built-in rules. Keep a RegExp linear: it runs on every output. */
  rules?: readonly MaskRule[];
  /**
   * Key names whose values are masked in `name=value`, `name: value`, `"name": "value"` and
   * `--name value`, beside the built-in ones (`password`, `token`, `secret`, `api_key`, ...).
   * Matched case-insensitively anywhere in a name, ignoring `-`, `_` and `.` (`acme_ticket` also
   * masks `X-Acme-Ticket`).
   */
  keys?: readonly string[];
}

type TextRule = (text: string) => string;

/**
 * Where a match may start: not inside a run of `run` characters, except right after a JSON escape
 * (`\n`, `\r`, `\t`), which begins a new line in JSON text (a thrown object is described as JSON,
 * and commands print JSON); never at the escape's own letter, which would glue it to the word.
 */
function startOf(run: string): string {
  return String.raw`(?:(?<![${run}])|(?<=\\[nrt]))(?!(?<=\\)[nrt])`;
}

/** Key names whose values are secret when the name holds one of these (with `-`, `_`, `.` removed). */
const SECRET_NAME_PARTS = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'apikey',
  'accesskey',
  'privatekey',
  'accountkey',
  'encryptionkey',
  'signingkey',
  'masterkey',
  'credential',
  'signature',
  'authorization',
  'cookie',
  'sessionid',
];
/**
 * Short names that are secret only as a whole word of a key (`sig=`, `db_pass=`, `MYSQL_PWD=`,
 * `--auth x`), since as a substring they are in too many ordinary words (`signal`, `bypass`,
 * `author`). A key that is just `pwd` is the working directory, not a password.
 */
const SECRET_NAME_WORDS = ['pass', 'pwd', 'sig', 'auth', 'jwt'];

// -----BEGIN RSA PRIVATE KEY----- ... -----END RSA PRIVATE KEY----- (also OPENSSH, EC, ENCRYPTED,
// PGP ... BLOCK), across lines or `\n` escapes. A block with no END line (cut output) is masked to
// the end of the text. The lazy body consumes what it scans, so it stays linear.
const PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?)-----[\s\S]*?(?:-----END \1-----|$)/g;

// scheme://user:password@host: the password runs to the last `@` of the authority, so one that
// holds an `@` is masked whole. An empty user (`redis://:pw@host`) counts.
const URL_CREDENTIALS = new RegExp(
  String.raw`${startOf('A-Za-z0-9+.-')}([A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/?#@:]*:)[^\s/?#]*@`,
  'g',
);

// A JWT: three base64url parts, the first two starting with '{"' encoded.
const JWT = new RegExp(
  String.raw`${startOf('A-Za-z0-9_-')}eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}`,
  'g',
);

// Authorization schemes: `Bearer <token>`, `Basic <base64>`, `Token <token>`.
const AUTH_SCHEME = new RegExp(
  String.raw`${startOf('A-Za-z0-9_-')}(Bearer|Basic|Token)[ \t]+[A-Za-z0-9._~+/=-]{8,}`,
  'gi',
);
const AUTH_SCHEME_WORD = /^(?:Bearer|Basic|Token)$/i;

/**
 * Tokens known by their shape: a fixed prefix (kept, so a reader can tell what leaked) and a body
 * (masked), which runs on to the end of its run of key-like characters (`AKIA…` followed by more
 * is masked whole). Bodies are single character classes with a lower bound only.
 */
const TOKEN_SHAPES: readonly [prefix: string, body: string][] = [
  // AWS access key ids (long-term AKIA, temporary ASIA, and the other kinds of id)
  ['A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA', '[A-Z0-9]{16,}'],
  ['gh[pousr]_', '[A-Za-z0-9]{30,}'], // GitHub tokens
  ['github_pat_', '[A-Za-z0-9_]{30,}'], // GitHub fine-grained tokens
  ['glpat-', '[A-Za-z0-9_-]{20,}'], // GitLab
  ['xox[abeoprs]-', '[A-Za-z0-9-]{10,}'], // Slack tokens
  ['xapp-', '[A-Za-z0-9-]{10,}'], // Slack app tokens
  ['hooks\\.slack\\.com/(?:services|workflows|triggers)/', '[A-Za-z0-9/_-]{10,}'], // Slack webhooks
  ['discord(?:app)?\\.com/api/webhooks/[0-9]{1,30}/', '[A-Za-z0-9_-]{20,}'], // Discord webhooks
  ['(?:sk|rk)_(?:live|test)_', '[A-Za-z0-9]{10,}'], // Stripe secret and restricted keys
  ['whsec_', '[A-Za-z0-9+/=]{20,}'], // Stripe webhook secrets
  ['AIza', '[A-Za-z0-9_-]{30,}'], // Google API keys
  ['ya29\\.', '[A-Za-z0-9_-]{20,}'], // Google OAuth access tokens
  ['GOCSPX-', '[A-Za-z0-9_-]{20,}'], // Google OAuth client secrets
  ['sk-', '[A-Za-z0-9_-]{20,}'], // OpenAI, Anthropic
  ['npm_', '[A-Za-z0-9]{30,}'], // npm
  ['pypi-', '[A-Za-z0-9_-]{40,}'], // PyPI
  ['SG\\.', '[A-Za-z0-9_-]{16,}\\.[A-Za-z0-9_-]{20,}'], // SendGrid
  ['hv[sbr]\\.', '[A-Za-z0-9_-]{20,}'], // HashiCorp Vault
];
const TOKEN = new RegExp(
  `${startOf('A-Za-z0-9_-')}(?:${TOKEN_SHAPES.map(([prefix, body]) => `(?:${prefix})${body}`).join('|')})[A-Za-z0-9_-]*`,
  'g',
);
const TOKEN_PREFIX = new RegExp(`^(?:${TOKEN_SHAPES.map(([prefix]) => prefix).join('|')})`);

// A command line of a tool that takes a password in a way no key names: `mysql -pSECRET` (and the
// rest of the MySQL and MariaDB tools), `sshpass -p SECRET`, `curl -u user:SECRET`. The match runs
// to the end of the line (or a JSON `\n`), which the callback then looks through once: linear.
const COMMAND_LINE = new RegExp(
  String.raw`${startOf('\\w.-')}(mysql\w*|mariadb[\w-]*|sshpass|curl)(?![\w.-])(?:[^\n\\]|\\(?![nr]))*`,
  'g',
);
const MYSQL_PASSWORD = /(?<=[ \t])-p[^\s]+/g;
const SSHPASS_PASSWORD = /(?<=[ \t])-p[ \t]*[^\s-][^\s]*/g;
const CURL_USER = /(?<=[ \t])(-u|--user)([ \t]+|=)([^\s:]*):[^\s]+/g;

// A key and its separator: `name=`, `name: `, `"name": ` (also JSON-escaped, `\"name\": `, as in a
// JSON text inside an error message), or a flag and the space before its value (`--password value`).
// The scanner (see maskAssignments) decides from the name, then masks the value.
const KEY_NAME = '[A-Za-z_][\\w.-]*';
const KEY_THEN_VALUE = new RegExp(
  String.raw`${startOf('\\w.-')}(?:(-{1,2}${KEY_NAME})[ \t]+(?=[^\s-])|(-{0,2}${KEY_NAME})(?:\\?["'])?[ \t]*[:=][ \t]*)`,
  'g',
);
/** Longest quoted value looked for: a longer one is masked up to its first stop like a bare one. */
const MAX_QUOTED = 256;
/** Where a bare value ends. */
const VALUE_STOPS = new Set([' ', '\t', '\n', '\r', '\f', '\v', '"', "'", ',', ';', '&']);
const JSON_BREAKS = new Set(['n', 'r', 't']);

// Long runs of key-like characters (API keys, access tokens) with both letters and digits, unless
// they are hashes or UUIDs.
const KEY_LIKE = new RegExp(`${startOf('A-Za-z0-9_-')}[A-Za-z0-9_-]{32,}`, 'g');
const HASH_OR_UUID =
  /^(?:[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/**
 * A compiled rule set: the built-in rules plus the app's. Get the app's from `sundial.masker`; the
 * built-in one alone is `defaultMasker`.
 *
 * @example
 * const masker = new Masker({ keys: ['x-acme-ticket'] });
 * masker.mask('x-acme-ticket: 12345 password=hunter2'); // 'x-acme-ticket: [masked] password=[masked]'
 */
export class Masker {
  private readonly userRules: readonly TextRule[];
  private readonly keys: readonly string[];
  private readonly given: { rules: readonly MaskRule[]; keys: readonly string[] };

  /** Refuses bad options with an `InvalidOptionError` naming `field` (`mask.rules[1]`) and the value. */
  constructor(options: MaskOptions = {}, field = 'mask') {
    this.given = checkMaskOptions(options, field);
    this.userRules = this.given.rules.map(compileRule);
    this.keys = this.given.keys.map(squash);
  }

  /**
   * `text` with every secret replaced by `[masked]`; also every one of `values` (4 characters or
   * more: a command's environment values). Never throws: a rule of the app's that throws withholds
   * the whole text rather than let it through unmasked.
   */
  mask(text: string, values: readonly string[] = []): string {
    let masked = text;
    for (const value of values) if (value.length >= 4) masked = masked.split(value).join(MASK);
    try {
      for (const rule of this.userRules) masked = rule(masked);
    } catch {
      return `${MASK} (a mask rule of the app's threw, so the whole text is withheld)`;
    }
    masked = masked
      .replace(PRIVATE_KEY, (block, label: string) =>
        block.endsWith(`-----END ${label}-----`)
          ? `-----BEGIN ${label}-----${MASK}-----END ${label}-----`
          : `-----BEGIN ${label}-----${MASK}`,
      )
      .replace(URL_CREDENTIALS, (_match, start: string) => `${start}${MASK}@`)
      .replace(JWT, MASK)
      .replace(AUTH_SCHEME, (_match, scheme: string) => `${scheme} ${MASK}`)
      .replace(TOKEN, (token) => `${TOKEN_PREFIX.exec(token)?.[0] ?? ''}${MASK}`)
      .replace(COMMAND_LINE, maskCommandLine);
    masked = maskAssignments(masked, (name) => this.isSecretKey(name));
    return masked.replace(KEY_LIKE, (run) =>
      /\d/.test(run) && /[A-Za-z]/.test(run) && !HASH_OR_UUID.test(run) ? MASK : run,
    );
  }

  /**
   * A copy of a JSON-like value with every string masked, and every string held under a secret key
   * (`{ "password": "..." }`) replaced whole. For printing stored jobs as JSON (`--json`): the
   * structure stays as it was, so the output is still valid JSON of the same shape.
   */
  maskValue(value: unknown): unknown {
    return this.maskValueAt(value, 0);
  }

  /**
   * This rule set with more key names (a task worker's `secretKeys`); a bad one is refused naming
   * `field` (`options.secretKeys[0]`).
   */
  withKeys(keys: readonly string[], field = 'keys'): Masker {
    if (!Array.isArray(keys)) throw new InvalidOptionError(field, keys, 'an array of key names');
    for (const [i, key] of keys.entries()) checkMaskKey(key, `${field}[${i}]`);
    if (keys.length === 0) return this;
    return new Masker({ rules: this.given.rules, keys: [...this.given.keys, ...keys] });
  }

  /** Whether a key's value is secret (`DB_PASSWORD`, `x-api-key`, `--token`, `sig`). */
  isSecretKey(name: string): boolean {
    const lower = name.toLowerCase().replace(/^-+/, '');
    const squashed = squash(lower);
    if (SECRET_NAME_PARTS.some((part) => squashed.includes(part))) return true;
    if (this.keys.some((key) => squashed.includes(key))) return true;
    return lower !== 'pwd' && lower.split(/[-_.]/).some((word) => SECRET_NAME_WORDS.includes(word));
  }

  private maskValueAt(value: unknown, depth: number): unknown {
    if (typeof value === 'string') return this.mask(value);
    if (typeof value !== 'object' || value === null || depth > MAX_VALUE_DEPTH) return value;
    const json = (value as { toJSON?: unknown }).toJSON;
    if (typeof json === 'function') return this.maskValueAt(json.call(value), depth + 1);
    if (Array.isArray(value)) return value.map((item) => this.maskValueAt(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      // Only strings: a number under such a key is a count or a fencing token, not a secret.
      out[key] =
        typeof item === 'string' && item !== '' && this.isSecretKey(key)
          ? MASK
          : this.maskValueAt(item, depth + 1);
    }
    return out;
  }
}

/** Deeper than any value a job can hold (payloads are refused past 1,000 levels). */
const MAX_VALUE_DEPTH = 1100;

/** The built-in rules alone. */
export const defaultMasker: Masker = new Masker();

/** `text` with its secrets masked by the built-in rules (see `Masker` for the app's own). */
export function mask(text: string): string {
  return defaultMasker.mask(text);
}

/**
 * An error to report (the `error` event) with its message and stack masked, and its cause's: a copy
 * of the same class, so listeners can still tell what it is. Anything else that is not text is
 * passed through. Never throws.
 */
export function maskError(error: unknown, masker: Masker = defaultMasker, depth = 0): unknown {
  if (typeof error === 'string') return masker.mask(error);
  try {
    if (!(error instanceof Error)) return error;
    const copy = Object.create(Object.getPrototypeOf(error) as object) as Error;
    // Every other own property goes through the masker too: drivers attach what they sent or found
    // (ioredis's `command` with its arguments, pg's `detail` with row values).
    for (const [key, value] of Object.entries(error)) {
      (copy as unknown as Record<string, unknown>)[key] = masker.maskValue(value);
    }
    for (const key of ['message', 'stack'] as const) {
      const text = error[key];
      if (typeof text === 'string') {
        Object.defineProperty(copy, key, { value: masker.mask(text), writable: true, configurable: true });
      }
    }
    if (error.cause !== undefined) {
      const cause = depth < 3 ? maskError(error.cause, masker, depth + 1) : MASK;
      Object.defineProperty(copy, 'cause', { value: cause, writable: true, configurable: true });
    }
    return copy;
  } catch {
    // A hostile value (a revoked proxy, a throwing getter): report that something went wrong, not it.
    return new Error('[an error that could not be read to mask it]');
  }
}

function compileRule(rule: MaskRule): TextRule {
  if (typeof rule === 'function') {
    return (text) => {
      const masked = rule(text);
      if (typeof masked !== 'string') throw new TypeError('a mask rule returned something else than text');
      return masked;
    };
  }
  // A copy with the `g` flag (and without `y`): every match is masked, and `lastIndex` is ours.
  const pattern = new RegExp(rule.source, `${rule.flags.replace(/[gy]/g, '')}g`);
  // A match of nothing (`\b`, a lookahead) masks nothing: left as it is, not marked everywhere.
  return (text) => text.replace(pattern, (match) => (match === '' ? match : MASK));
}

function checkMaskOptions(
  options: unknown,
  field: string,
): { rules: readonly MaskRule[]; keys: readonly string[] } {
  if (options === undefined) return { rules: [], keys: [] };
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError(
      field,
      options,
      'an object like { rules: [/acme_[0-9a-f]{24}/g], keys: [...] }',
    );
  }
  for (const [key, value] of Object.entries(options)) {
    if (key !== 'rules' && key !== 'keys') {
      throw new InvalidOptionError(`${field}.${key}`, value, 'not a mask option; known: rules, keys');
    }
  }
  const { rules = [], keys = [] } = options as MaskOptions;
  if (!Array.isArray(rules)) {
    throw new InvalidOptionError(`${field}.rules`, rules, 'an array of RegExps and functions (text) => text');
  }
  rules.forEach((rule, i) => {
    if (typeof rule === 'function') return;
    if (!(rule instanceof RegExp)) {
      throw new InvalidOptionError(`${field}.rules[${i}]`, rule, 'a RegExp or a function (text) => text');
    }
    // One that matches nothing at all would put `[masked]` between every two characters.
    if (new RegExp(rule.source, rule.flags.replace(/[gy]/g, '')).test('')) {
      throw new InvalidOptionError(
        `${field}.rules[${i}]`,
        String(rule),
        'a RegExp that cannot match empty text',
      );
    }
  });
  if (!Array.isArray(keys)) throw new InvalidOptionError(`${field}.keys`, keys, 'an array of key names');
  for (const [i, key] of keys.entries()) checkMaskKey(key, `${field}.keys[${i}]`);
  return { rules: [...rules], keys: [...keys] };
}

/** Refuses a key name masking cannot use, naming it (`options.mask.keys[0]`). */
export function checkMaskKey(key: unknown, field: string): void {
  // One letter would match inside nearly every key name.
  if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(key) || squash(key).length < 2) {
    throw new InvalidOptionError(
      field,
      key,
      'a key name of at least 2 letters or digits (with - _ . between them)',
    );
  }
}

/** A key name without case and separators, so `API_KEY`, `api-key` and `apiKey` compare alike. */
function squash(name: string): string {
  return name.toLowerCase().replace(/[-_.]/g, '');
}

function maskCommandLine(line: string, tool: string): string {
  if (tool === 'curl')
    return line.replace(CURL_USER, (_match, flag, gap, user) => `${flag}${gap}${user}:${MASK}`);
  if (tool === 'sshpass') return line.replace(SSHPASS_PASSWORD, `-p ${MASK}`);
  return line.replace(MYSQL_PASSWORD, `-p${MASK}`);
}

/**
 * Masks the values of secret keys. Moves on after each key's separator whether or not the key is
 * secret, so a value that itself holds keys (`https://host/?token=x` after `https:`) is looked
 * through too; a secret value is skipped past once masked.
 */
function maskAssignments(text: string, isSecret: (name: string) => boolean): string {
  const pattern = new RegExp(KEY_THEN_VALUE.source, 'g');
  let out = '';
  let copied = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    const name = match[1] ?? match[2]!;
    if (!isSecret(name)) continue;
    const start = match.index + match[0].length;
    const { end, quote, closed } = valueAt(text, start);
    if (end === start) continue;
    const value = text.slice(start, end);
    // `Authorization: Bearer …`: the scheme word stays, its token was masked by its own rule.
    if (AUTH_SCHEME_WORD.test(value)) continue;
    out += `${text.slice(copied, start)}${quote}${MASK}${closed ? quote : ''}`;
    copied = end;
    pattern.lastIndex = end;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * Where the value starting at `start` ends: a quoted one (`"..."`, `'...'`, or JSON-escaped `\"...\"`)
 * at its closing quote, a bare one at a stop.
 */
function valueAt(text: string, start: number): { end: number; quote: string; closed: boolean } {
  const escaped = text[start] === '\\';
  const mark = escaped ? text[start + 1] : text[start];
  if (mark === '"' || mark === "'") {
    const quote = escaped ? `\\${mark}` : mark;
    const limit = Math.min(text.length, start + quote.length + MAX_QUOTED);
    for (let i = start + quote.length; i < limit; i++) {
      const char = text[i];
      if (char === '\n') break;
      if (escaped ? char === '\\' && text[i + 1] === mark : char === mark) {
        return { end: i + quote.length, quote, closed: true };
      }
      if (char === '\\') i++; // an escaped character, whichever it is
    }
    // No closing quote near: mask the first word of it, as a bare value.
    return { end: bareEnd(text, start + quote.length), quote, closed: false };
  }
  return { end: bareEnd(text, start), quote: '', closed: false };
}

/** The end of a bare value: a stop, or a JSON escape of a line break or tab (`\n`, `\r`, `\t`). */
function bareEnd(text: string, start: number): number {
  let end = start;
  while (end < text.length && !VALUE_STOPS.has(text[end]!)) {
    if (text[end] === '\\' && JSON_BREAKS.has(text[end + 1]!)) break;
    end++;
  }
  return end;
}
