/**
 * The flag parser against the documented behaviour of Go's `flag` package (and runsc's intFlags).
 * Each table row parses one command line into a fresh set of flags and checks the values, the
 * remaining arguments, or the exact error text.
 */
import assert from "node:assert/strict";
import { FlagError, FlagSet, type FlagValue, HelpRequested } from "../src/flag/flag.ts";

function newSet() {
  const f = new FlagSet("test");
  return {
    f,
    s: f.string("s", "def", "a string"),
    b: f.bool("b", false, "a bool"),
    n: f.int("n", 0, "an int"),
    u: f.uint64("u", 0n, "a uint64"),
    fds: f.intList("io-fds", "repeatable fds"),
    env: f.stringList("env", "repeatable strings"),
  };
}

type Flags = ReturnType<typeof newSet>;

interface Row {
  name: string;
  args: string[];
  /** Expected values (only the listed ones are checked) and remaining args. */
  want?: Partial<{ s: string; b: boolean; n: number; u: bigint; fds: number[]; env: string[] }>;
  rest?: string[];
  /** Expected error message. */
  err?: string;
}

const ROWS: Row[] = [
  // Spellings: one or two dashes, "=" or a separate argument.
  { name: "-f v", args: ["-s", "v"], want: { s: "v" }, rest: [] },
  { name: "--f v", args: ["--s", "v"], want: { s: "v" }, rest: [] },
  { name: "-f=v", args: ["-s=v"], want: { s: "v" } },
  { name: "--f=v", args: ["--s=v"], want: { s: "v" } },
  { name: "value may contain =", args: ["-s=a=b"], want: { s: "a=b" } },
  { name: "empty value after =", args: ["-s="], want: { s: "" } },
  { name: "separate value may look like a flag", args: ["-s", "-b"], want: { s: "-b", b: false }, rest: [] },
  { name: "last occurrence wins", args: ["-s=a", "--s", "b"], want: { s: "b" } },
  {
    name: "defaults untouched",
    args: [],
    want: { s: "def", b: false, n: 0, u: 0n, fds: [], env: [] },
    rest: [],
  },

  // Bool flags take a value only with "=".
  { name: "bool alone is true", args: ["-b"], want: { b: true } },
  { name: "bool --b", args: ["--b"], want: { b: true } },
  { name: "bool =false", args: ["-b=false"], want: { b: false } },
  { name: "bool =0", args: ["--b=0"], want: { b: false } },
  { name: "bool =T", args: ["-b=T"], want: { b: true } },
  { name: "bool =TRUE", args: ["-b=TRUE"], want: { b: true } },
  { name: "bool =1", args: ["-b=1"], want: { b: true } },
  { name: "bool =False", args: ["-b=False"], want: { b: false } },
  { name: "bool space value is an argument", args: ["-b", "false"], want: { b: true }, rest: ["false"] },
  { name: "bool bad value", args: ["-b=x"], err: 'invalid boolean value "x" for -b: parse error' },
  { name: "bool empty value", args: ["-b="], err: 'invalid boolean value "" for -b: parse error' },
  { name: "bool yes is not Go", args: ["-b=yes"], err: 'invalid boolean value "yes" for -b: parse error' },

  // Ints in Go syntax.
  { name: "int decimal", args: ["-n", "42"], want: { n: 42 } },
  { name: "int negative", args: ["-n", "-5"], want: { n: -5 } },
  { name: "int negative with =", args: ["-n=-5"], want: { n: -5 } },
  { name: "int plus sign", args: ["-n=+7"], want: { n: 7 } },
  { name: "int hex", args: ["-n=0x10"], want: { n: 16 } },
  { name: "int hex upper", args: ["-n=0XfF"], want: { n: 255 } },
  { name: "int leading-zero octal", args: ["-n=010"], want: { n: 8 } },
  { name: "int 0o octal", args: ["-n=0o17"], want: { n: 15 } },
  { name: "int binary", args: ["-n=0b101"], want: { n: 5 } },
  { name: "int zero", args: ["-n=0"], want: { n: 0 } },
  { name: "int underscores", args: ["-n=1_000"], want: { n: 1000 } },
  { name: "int underscore after prefix", args: ["-n=0x_1f"], want: { n: 31 } },
  { name: "int rejects a fraction", args: ["-n=1.5"], err: 'invalid value "1.5" for flag -n: parse error' },
  { name: "int rejects letters", args: ["-n", "x"], err: 'invalid value "x" for flag -n: parse error' },
  { name: "int rejects empty", args: ["-n="], err: 'invalid value "" for flag -n: parse error' },
  { name: "int rejects bad octal", args: ["-n=09"], err: 'invalid value "09" for flag -n: parse error' },
  { name: "int rejects bare prefix", args: ["-n=0x"], err: 'invalid value "0x" for flag -n: parse error' },
  { name: "int rejects leading _", args: ["-n=_1"], err: 'invalid value "_1" for flag -n: parse error' },
  { name: "int rejects double _", args: ["-n=1__0"], err: 'invalid value "1__0" for flag -n: parse error' },
  { name: "int rejects trailing _", args: ["-n=1_"], err: 'invalid value "1_" for flag -n: parse error' },
  { name: "int rejects spaces", args: ["-n= 1"], err: 'invalid value " 1" for flag -n: parse error' },
  { name: "int rejects double sign", args: ["-n=--5"], err: 'invalid value "--5" for flag -n: parse error' },
  {
    name: "int beyond int64",
    args: ["-n=9223372036854775808"],
    err: 'invalid value "9223372036854775808" for flag -n: value out of range',
  },
  {
    name: "int overflow reported before a later syntax error",
    args: ["-n=99999999999999999999x"],
    err: 'invalid value "99999999999999999999x" for flag -n: value out of range',
  },
  { name: "int needs an argument", args: ["-n"], err: "flag needs an argument: -n" },
  { name: "string needs an argument", args: ["--s"], err: "flag needs an argument: -s" },

  // uint64 as bigint.
  { name: "uint64 max", args: ["-u=18446744073709551615"], want: { u: 18446744073709551615n } },
  { name: "uint64 hex", args: ["-u", "0xff"], want: { u: 255n } },
  {
    name: "uint64 overflow",
    args: ["-u=18446744073709551616"],
    err: 'invalid value "18446744073709551616" for flag -u: value out of range',
  },
  { name: "uint64 rejects a sign", args: ["-u=-1"], err: 'invalid value "-1" for flag -u: parse error' },
  { name: "uint64 rejects plus", args: ["-u=+1"], err: 'invalid value "+1" for flag -u: parse error' },

  // Repeatable flags (runsc's intFlags).
  { name: "intList repeats", args: ["--io-fds", "4", "--io-fds", "5"], want: { fds: [4, 5] } },
  { name: "intList with =", args: ["--io-fds=4", "-io-fds=5"], want: { fds: [4, 5] } },
  {
    name: "intList rejects non-int",
    args: ["--io-fds=x"],
    err: 'invalid value "x" for flag -io-fds: invalid flag value: strconv.Atoi: parsing "x": invalid syntax',
  },
  {
    name: "intList is decimal only",
    args: ["--io-fds=0x4"],
    err:
      'invalid value "0x4" for flag -io-fds: invalid flag value: strconv.Atoi: parsing "0x4": invalid syntax',
  },
  {
    name: "intList rejects negative",
    args: ["--io-fds", "-1"],
    err: 'invalid value "-1" for flag -io-fds: flag value must be greater than 0: -1',
  },
  { name: "stringList repeats", args: ["--env=A=1", "--env", "B=2"], want: { env: ["A=1", "B=2"] } },

  // Where parsing stops.
  {
    name: "stops at first non-flag",
    args: ["-b", "arg", "-s", "x"],
    want: { b: true, s: "def" },
    rest: ["arg", "-s", "x"],
  },
  {
    name: "-- ends the flags",
    args: ["-b", "--", "-s", "x"],
    want: { b: true, s: "def" },
    rest: ["-s", "x"],
  },
  { name: "only the first -- is eaten", args: ["--", "--"], rest: ["--"] },
  { name: "lone - is a non-flag", args: ["-", "-b"], want: { b: false }, rest: ["-", "-b"] },
  { name: "empty string is a non-flag", args: ["", "-b"], want: { b: false }, rest: ["", "-b"] },
  { name: "value then arguments", args: ["-s", "v", "id", "x"], want: { s: "v" }, rest: ["id", "x"] },

  // Errors.
  { name: "unknown flag", args: ["-x"], err: "flag provided but not defined: -x" },
  {
    name: "unknown flag, two dashes and a value",
    args: ["--xyz=1"],
    err: "flag provided but not defined: -xyz",
  },
  { name: "three dashes", args: ["---s"], err: "bad flag syntax: ---s" },
  { name: "name starting with =", args: ["-=x"], err: "bad flag syntax: -=x" },
  { name: "two dashes then =", args: ["--=x"], err: "bad flag syntax: --=x" },
];

function check(row: Row, flags: Flags) {
  const { want = {} } = row;
  for (const key of Object.keys(want) as (keyof typeof want)[]) {
    assert.deepEqual(flags[key].value, want[key], `${row.name}: ${key}`);
  }
  if (row.rest) assert.deepEqual(flags.f.args(), row.rest, `${row.name}: rest`);
}

Deno.test("flag: Go flag package rules, table", async (t) => {
  for (const row of ROWS) {
    await t.step(row.name, () => {
      const flags = newSet();
      if (row.err !== undefined) {
        assert.throws(() => flags.f.parse(row.args), (e: unknown) => {
          assert.ok(e instanceof FlagError, `${row.name}: not a FlagError: ${e}`);
          assert.ok(!(e instanceof HelpRequested), `${row.name}: unexpected HelpRequested`);
          assert.equal(e.message, row.err);
          return true;
        });
      } else {
        flags.f.parse(row.args);
        check(row, flags);
      }
    });
  }
});

Deno.test("flag: -h, -help and --help request help unless defined", () => {
  for (const arg of ["-h", "-help", "--help", "--h", "-help=1"]) {
    const { f } = newSet();
    assert.throws(() => f.parse([arg]), HelpRequested, arg);
  }
  const f = new FlagSet("x");
  const help = f.bool("help", false, "defined here");
  f.parse(["--help"]);
  assert.equal(help.value, true);
  assert.throws(() => f.parse(["-h"]), HelpRequested);
});

Deno.test("flag: isSet, arg, nArg", () => {
  const { f } = newSet();
  f.parse(["-s=x", "--b=false", "id", "more"]);
  assert.equal(f.isSet("s"), true);
  assert.equal(f.isSet("b"), true, "set even when given its default");
  assert.equal(f.isSet("n"), false);
  assert.equal(f.isSet("nope"), false);
  assert.equal(f.nArg(), 2);
  assert.equal(f.arg(0), "id");
  assert.equal(f.arg(1), "more");
  assert.equal(f.arg(2), "", "out of range is empty, as in Go");
  assert.equal(f.lookup("s"), "x");
  assert.equal(f.lookup("nope"), undefined);
});

Deno.test("flag: aliases share the value", () => {
  const f = new FlagSet("create");
  const bundle = f.string("bundle", "", "bundle `dir`");
  f.alias("b", "bundle");
  f.parse(["-b", "/x"]);
  assert.equal(bundle.value, "/x");
  assert.equal(f.isSet("bundle"), true);
  assert.equal(f.isSet("b"), true);
  const g = new FlagSet("create");
  const bundle2 = g.string("bundle", "", "");
  g.alias("b", "bundle");
  g.parse(["--bundle=/y"]);
  assert.equal(bundle2.value, "/y");
  assert.equal(g.isSet("b"), true);
  assert.throws(() => g.alias("z", "missing"));
});

Deno.test("flag: custom values through var()", () => {
  const seen: string[] = [];
  const boolish: FlagValue = { set: (s) => void seen.push(s), toString: () => "", isBool: true };
  const upper: FlagValue = {
    set: (s) => {
      if (s !== s.toUpperCase()) throw new Error("must be upper case");
      seen.push(s);
    },
    toString: () => "",
  };
  const f = new FlagSet("x");
  f.var("q", boolish, "custom bool");
  f.var("up", upper, "custom");
  f.parse(["-q", "-q=no", "--up", "ABC"]);
  assert.deepEqual(seen, ["true", "no", "ABC"]);
  assert.throws(() => f.parse(["--up=abc"]), {
    message: 'invalid value "abc" for flag -up: must be upper case',
  });
});

Deno.test("flag: argsWithout drops whole occurrences, by name or alias, and keeps the rest", () => {
  const f = new FlagSet("boot");
  f.bool("setup-root", false, "");
  f.bool("pidns", false, "");
  f.int("mounts-fd", -1, "");
  f.string("bundle", "", "");
  f.alias("b", "bundle");
  const argv = ["-b", "/x", "--mounts-fd", "7", "--setup-root", "--pidns=true", "--setup-root=false", "id"];
  f.parse(argv);
  assert.deepEqual(f.parsedArgs(), argv);
  assert.deepEqual(f.argsWithout(["setup-root"]), ["-b", "/x", "--mounts-fd", "7", "--pidns=true", "id"]);
  assert.deepEqual(f.argsWithout(["bundle", "mounts-fd"]), [
    "--setup-root",
    "--pidns=true",
    "--setup-root=false",
    "id",
  ]);
  assert.deepEqual(f.argsWithout(["b"]), [
    "--mounts-fd",
    "7",
    "--setup-root",
    "--pidns=true",
    "--setup-root=false",
    "id",
  ]);
  const g = new FlagSet("boot");
  g.bool("setup-root", false, "");
  g.parse(["--setup-root", "--", "-odd-id"]);
  assert.deepEqual(g.argsWithout(["setup-root"]), ["--", "-odd-id"], "a -- that ended the flags stays");
});

Deno.test("flag: redefinition is a programming error", () => {
  const f = new FlagSet("x");
  f.bool("a", false, "");
  assert.throws(() => f.int("a", 0, ""), /redefined/);
});

Deno.test("flag: printDefaults in Go's format", () => {
  const f = new FlagSet("boot");
  f.string("bundle", "", "path to the root of the bundle `directory`");
  f.bool("b", false, "short bool");
  f.bool("attached", false, "a long bool");
  f.int("spec-fd", -1, "required fd with the container spec");
  f.int("cpu-num", 0, "number of CPUs");
  f.uint64("total-memory", 0n, "total memory");
  f.string("root", "/run/runts", "root dir\nsecond line");
  f.intList("io-fds", "list of fds");
  f.bool("on", true, "defaults to true");
  assert.equal(
    f.printDefaults(),
    [
      "  -attached",
      "    \ta long bool",
      "  -b\tshort bool",
      "  -bundle directory",
      "    \tpath to the root of the bundle directory",
      "  -cpu-num int",
      "    \tnumber of CPUs",
      "  -io-fds value",
      "    \tlist of fds",
      "  -on",
      "    \tdefaults to true (default true)",
      "  -root string",
      "    \troot dir",
      '    \tsecond line (default "/run/runts")',
      "  -spec-fd int",
      "    \trequired fd with the container spec (default -1)",
      "  -total-memory uint",
      "    \ttotal memory",
      "",
    ].join("\n"),
  );
});
