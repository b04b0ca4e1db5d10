/**
 * A command-line flag parser with the semantics of Go's `flag` package, because runsc's command line
 * (and the engines that build it) is the contract: `-f` and `--f` are the same, values come as `-f=v`
 * or `-f v`, bool flags take a value only with `=`, parsing stops at the first non-flag or after `--`,
 * and the error texts match Go's.
 */

import { atoi, NumError, parseGoBool, parseGoInt, parseGoUint, RANGE_ERROR } from "./go_numbers.ts";

/** A mutable cell that a flag writes its parsed value into. */
export interface Ref<T> {
  value: T;
}

/** A flag's value: parses and prints itself (Go's `flag.Value`, plus `IsBoolFlag`). */
export interface FlagValue {
  /** Parses `s` into the value; throws an Error whose message becomes the reason in the FlagError. */
  set(s: string): void;
  toString(): string;
  /** A bool flag: `-f` alone means `-f=true`, and a value is taken only after `=`. */
  readonly isBool?: boolean;
}

/** A command-line error, worded like Go's (`flag provided but not defined: -x`). */
export class FlagError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FlagError";
  }
}

/** `-h`, `-help` or `--help` was given and no such flag is defined (Go's `flag.ErrHelp`). */
export class HelpRequested extends FlagError {
  constructor() {
    super("flag: help requested");
    this.name = "HelpRequested";
  }
}

/** How a flag's type is named in PrintDefaults (`-n int`), or "" for bools. */
type TypeName = "" | "string" | "int" | "uint" | "value";

interface Flag {
  name: string;
  usage: string;
  value: FlagValue;
  defValue: string;
  /** The String() of the type's zero value: defaults equal to it are not printed. */
  zeroValue: string;
  typeName: TypeName;
  quoteDefault: boolean;
  /** For an alias: the flag it stands for. */
  aliasOf?: string;
}

/** A set of flags, parsed the way Go's `flag.FlagSet` with ContinueOnError parses. */
export class FlagSet {
  /** The set's name (the program or subcommand), for messages. */
  readonly name: string;
  #formal = new Map<string, Flag>();
  #actual = new Set<string>();
  #args: string[] = [];
  #input: string[] = [];
  /** Each flag occurrence parse() consumed, in order: its flag's name and its own tokens. */
  #seen: Array<{ name: string; tokens: string[] }> = [];
  /** parse() stopped at a `--`. */
  #dashDash = false;

  constructor(name: string) {
    this.name = name;
  }

  #define(name: string, value: FlagValue, usage: string, extra: Partial<Flag> = {}): void {
    if (this.#formal.has(name)) throw new Error(`${this.name} flag redefined: ${name}`);
    const defValue = value.toString();
    this.#formal.set(name, {
      name,
      usage,
      value,
      defValue,
      zeroValue: "",
      typeName: value.isBool ? "" : "value",
      quoteDefault: false,
      ...extra,
    });
  }

  /** Defines a string flag. */
  string(name: string, def: string, usage: string): Ref<string> {
    const ref = { value: def };
    const value: FlagValue = { set: (s) => void (ref.value = s), toString: () => ref.value };
    this.#define(name, value, usage, { typeName: "string", quoteDefault: true });
    return ref;
  }

  /** Defines a bool flag: `-f` sets it, `-f=false` clears it; `-f false` is `-f` then an argument. */
  bool(name: string, def: boolean, usage: string): Ref<boolean> {
    const ref = { value: def };
    const value: FlagValue = {
      set: (s) => void (ref.value = parseGoBool(s)),
      toString: () => String(ref.value),
      isBool: true,
    };
    this.#define(name, value, usage, { typeName: "", zeroValue: "false" });
    return ref;
  }

  /**
   * Defines an int flag in Go syntax (`-5`, `0x10`, `010`, `1_000`). Go's int is 64 bits; values beyond
   * JavaScript's safe integers are rejected as out of range.
   */
  int(name: string, def: number, usage: string): Ref<number> {
    const ref = { value: def };
    const value: FlagValue = {
      set: (s) => {
        const v = parseGoInt(s);
        if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
          throw new NumError(RANGE_ERROR);
        }
        ref.value = Number(v);
      },
      toString: () => String(ref.value),
    };
    this.#define(name, value, usage, { typeName: "int", zeroValue: "0" });
    return ref;
  }

  /** Defines a uint64 flag, held as a bigint. */
  uint64(name: string, def: bigint, usage: string): Ref<bigint> {
    const ref = { value: def };
    const value: FlagValue = {
      set: (s) => void (ref.value = parseGoUint(s)),
      toString: () => String(ref.value),
    };
    this.#define(name, value, usage, { typeName: "uint", zeroValue: "0" });
    return ref;
  }

  /**
   * Defines a repeatable int flag like runsc's `intFlags`: each occurrence appends one decimal value;
   * a non-int is "invalid flag value", a negative one "flag value must be greater than 0".
   */
  intList(name: string, usage: string): Ref<number[]> {
    const ref: Ref<number[]> = { value: [] };
    const value: FlagValue = {
      set: (s) => {
        let v: number;
        try {
          v = atoi(s);
        } catch (e) {
          throw new Error(`invalid flag value: ${(e as Error).message}`);
        }
        if (v < 0) throw new Error(`flag value must be greater than 0: ${v}`);
        ref.value.push(v);
      },
      toString: () => `[${ref.value.join(" ")}]`,
    };
    this.#define(name, value, usage, { zeroValue: "[]" });
    return ref;
  }

  /** Defines a repeatable string flag: each occurrence appends one value. */
  stringList(name: string, usage: string): Ref<string[]> {
    const ref: Ref<string[]> = { value: [] };
    const value: FlagValue = {
      set: (s) => void ref.value.push(s),
      toString: () => `[${ref.value.join(" ")}]`,
    };
    this.#define(name, value, usage, { zeroValue: "[]" });
    return ref;
  }

  /** Defines a flag with a custom value (Go's `FlagSet.Var`). Its current text is the default. */
  var(name: string, value: FlagValue, usage: string): void {
    this.#define(name, value, usage);
  }

  /** Makes `alias` another name for the already defined flag `name` (e.g. `-b` for `-bundle`). */
  alias(alias: string, name: string): void {
    const target = this.#formal.get(name);
    if (!target) throw new Error(`${this.name}: alias ${alias} for undefined flag ${name}`);
    this.#define(alias, target.value, `alias for -${name}`, {
      typeName: target.typeName,
      defValue: target.defValue,
      zeroValue: target.defValue,
      aliasOf: name,
    });
  }

  /**
   * Parses `args` (without the program or subcommand name). Stops at the first non-flag (a lone `-`
   * is one) or after `--`; the rest is available from args(). Throws FlagError or HelpRequested.
   */
  parse(args: readonly string[]): void {
    this.#input = [...args];
    this.#args = [...args];
    this.#seen = [];
    this.#dashDash = false;
    while (this.#parseOne());
  }

  #parseOne(): boolean {
    const s = this.#args[0];
    if (s === undefined || s.length < 2 || s[0] !== "-") return false;
    let minuses = 1;
    if (s[1] === "-") {
      minuses = 2;
      if (s.length === 2) {
        this.#args.shift();
        this.#dashDash = true;
        return false;
      }
    }
    let name = s.slice(minuses);
    if (name.length === 0 || name[0] === "-" || name[0] === "=") {
      throw new FlagError(`bad flag syntax: ${s}`);
    }
    this.#args.shift();
    const tokens = [s];
    let value = "";
    let hasValue = false;
    const eq = name.indexOf("=", 1);
    if (eq > 0) {
      value = name.slice(eq + 1);
      hasValue = true;
      name = name.slice(0, eq);
    }
    const flag = this.#formal.get(name);
    if (!flag) {
      if (name === "help" || name === "h") throw new HelpRequested();
      throw new FlagError(`flag provided but not defined: -${name}`);
    }
    if (flag.value.isBool) {
      try {
        flag.value.set(hasValue ? value : "true");
      } catch (e) {
        throw new FlagError(
          hasValue
            ? `invalid boolean value ${goQuote(value)} for -${name}: ${(e as Error).message}`
            : `invalid boolean flag ${name}: ${(e as Error).message}`,
        );
      }
    } else {
      if (!hasValue && this.#args.length > 0) {
        value = this.#args.shift()!;
        tokens.push(value);
        hasValue = true;
      }
      if (!hasValue) throw new FlagError(`flag needs an argument: -${name}`);
      try {
        flag.value.set(value);
      } catch (e) {
        throw new FlagError(`invalid value ${goQuote(value)} for flag -${name}: ${(e as Error).message}`);
      }
    }
    this.#actual.add(flag.aliasOf ?? name);
    this.#seen.push({ name: flag.aliasOf ?? name, tokens });
    return true;
  }

  /** The arguments parse() was last given, unchanged. */
  parsedArgs(): string[] {
    return [...this.#input];
  }

  /**
   * The arguments parse() was last given, without every occurrence of the flags named in `drop` (by their
   * names or aliases): each occurrence goes with exactly the tokens it consumed (`-f v` is two, a bool flag
   * never more than one), so the flags around it and the positional arguments come through intact. A `--`
   * that ended the flags is kept.
   */
  argsWithout(drop: readonly string[]): string[] {
    const names = new Set(drop.map((n) => this.#formal.get(n)?.aliasOf ?? n));
    const out = this.#seen.filter((o) => !names.has(o.name)).flatMap((o) => o.tokens);
    return [...out, ...(this.#dashDash ? ["--"] : []), ...this.#args];
  }

  /** The arguments left after the flags. */
  args(): string[] {
    return [...this.#args];
  }

  /** The i'th remaining argument, or "" when there is none (as in Go). */
  arg(i: number): string {
    return this.#args[i] ?? "";
  }

  /** How many arguments remain after the flags. */
  nArg(): number {
    return this.#args.length;
  }

  /** True when the flag (or one of its aliases) was given on the command line. */
  isSet(name: string): boolean {
    const flag = this.#formal.get(name);
    return this.#actual.has(flag?.aliasOf ?? name);
  }

  /** The current text of a defined flag's value, or undefined when no such flag exists. */
  lookup(name: string): string | undefined {
    return this.#formal.get(name)?.value.toString();
  }

  /** The names of all defined flags, sorted. */
  names(): string[] {
    return [...this.#formal.keys()].sort();
  }

  /** The flag list in the format of Go's `PrintDefaults`, one entry per flag sorted by name. */
  printDefaults(): string {
    let out = "";
    for (const name of this.names()) {
      const flag = this.#formal.get(name)!;
      let { typeName, usage } = flag;
      // A back-quoted word in the usage names the value: "load `file`" → "-f file".
      const quoted = /`([^`]*)`/.exec(usage);
      if (quoted) {
        typeName = quoted[1] as TypeName;
        usage = usage.replace(/`/g, "");
      }
      let line = `  -${name}`;
      if (typeName) line += ` ${typeName}`;
      line += line.length <= 4 ? "\t" : "\n    \t";
      line += usage.replaceAll("\n", "\n    \t");
      if (flag.defValue !== flag.zeroValue && !flag.aliasOf) {
        line += flag.quoteDefault ? ` (default ${goQuote(flag.defValue)})` : ` (default ${flag.defValue})`;
      }
      out += line + "\n";
    }
    return out;
  }
}

/** Go's `%q` for the strings flags deal with. */
function goQuote(s: string): string {
  return JSON.stringify(s);
}
