/**
 * Environment configuration, parsed and validated once at start-up (in a service's
 * `main.ts`). Every variable is declared with its parser, default and documentation;
 * a bad value fails start-up with a message that names the variable. Libraries never
 * read `process.env`: they take the parsed values as arguments.
 */
export interface EnvVar<T> {
  /** One line for operators: what it does, units, example. */
  doc: string;
  /** Used when the variable is unset or empty. Omit to make the variable required. */
  default?: T;
  /** Secret values are never echoed in errors or `describeEnv`. */
  secret?: boolean;
  /** Turns the raw string into a value or throws an Error saying what is expected. */
  parse(raw: string): T;
}

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

type Opt<T> = { doc: string; default?: T; secret?: boolean };

export const env = {
  string: (o: Opt<string> & { pattern?: RegExp; hint?: string }): EnvVar<string> => ({
    ...o,
    parse: (raw) => {
      if (o.pattern && !o.pattern.test(raw)) throw new Error(`must be ${o.hint ?? `like ${o.pattern}`}`);
      return raw;
    },
  }),
  int: (o: Opt<number> & { min?: number; max?: number }): EnvVar<number> => ({
    ...o,
    parse: (raw) => {
      const n = Number(raw);
      const min = o.min ?? Number.MIN_SAFE_INTEGER;
      const max = o.max ?? Number.MAX_SAFE_INTEGER;
      if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
        throw new Error(`must be an integer from ${min} to ${max}`);
      }
      return n;
    },
  }),
  number: (o: Opt<number> & { min?: number; max?: number }): EnvVar<number> => ({
    ...o,
    parse: (raw) => {
      const n = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(n) || n < (o.min ?? -Infinity) || n > (o.max ?? Infinity)) {
        throw new Error(`must be a number from ${o.min ?? '-∞'} to ${o.max ?? '∞'}`);
      }
      return n;
    },
  }),
  bool: (o: Opt<boolean>): EnvVar<boolean> => ({
    ...o,
    parse: (raw) => {
      const v = raw.trim().toLowerCase();
      if (['1', 'true', 'yes', 'on'].includes(v)) return true;
      if (['0', 'false', 'no', 'off'].includes(v)) return false;
      throw new Error('must be true or false');
    },
  }),
  oneOf: <const T extends string>(values: readonly T[], o: Opt<T>): EnvVar<T> => ({
    ...o,
    parse: (raw) => {
      if (!(values as readonly string[]).includes(raw)) throw new Error(`must be one of ${values.join(', ')}`);
      return raw as T;
    },
  }),
  url: (o: Opt<string> & { protocols?: string[] }): EnvVar<string> => ({
    ...o,
    parse: (raw) => {
      let u: URL;
      try {
        u = new URL(raw);
      } catch {
        throw new Error('must be a URL');
      }
      const protocols = o.protocols ?? ['http:', 'https:'];
      if (!protocols.includes(u.protocol)) throw new Error(`must be a URL with scheme ${protocols.join(' or ')}`);
      return raw;
    },
  }),
  optional: <T>(inner: EnvVar<T>): EnvVar<T | undefined> => ({ ...inner, default: undefined, parse: inner.parse }),
};

export type EnvSchema = Record<string, EnvVar<unknown>>;
export type ParsedEnv<S extends EnvSchema> = { [K in keyof S]: S[K] extends EnvVar<infer T> ? T : never };

/** Parses `source` against `schema`; throws one ConfigError listing every bad variable. */
export function parseEnv<S extends EnvSchema>(schema: S, source: Record<string, string | undefined> = process.env): ParsedEnv<S> {
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(schema)) {
    const raw = source[name];
    if (raw === undefined || raw === '') {
      if ('default' in spec) out[name] = spec.default;
      else problems.push(`${name}: is required (${spec.doc})`);
      continue;
    }
    try {
      out[name] = spec.parse(raw);
    } catch (err) {
      const shown = spec.secret ? '' : ` (got ${JSON.stringify(raw.length > 80 ? raw.slice(0, 80) + '…' : raw)})`;
      problems.push(`${name}: ${err instanceof Error ? err.message : String(err)}${shown}`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return out as ParsedEnv<S>;
}

/** A markdown table of a schema (for docs): variable, default, description. */
export function describeEnv(schema: EnvSchema): string {
  const rows = Object.entries(schema).map(([name, s]) => {
    const def = !('default' in s) ? '(required)' : s.default === undefined ? '(unset)' : s.secret ? '(secret)' : `\`${String(s.default)}\``;
    return `| \`${name}\` | ${def} | ${s.doc} |`;
  });
  return ['| variable | default | what |', '|---|---|---|', ...rows].join('\n');
}
