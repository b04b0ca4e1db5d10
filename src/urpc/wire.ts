/**
 * The urpc wire format, byte-compatible with gVisor's pkg/urpc: one JSON value per message on an AF_UNIX
 * stream socket, with no length prefix and no delimiter. A receiver therefore has to scan the stream to
 * find where the first complete JSON value ends; JsonScanner does that incrementally, MessageReader
 * collects the bytes of one message.
 */

/** At most this many fds travel with one message (pkg/urpc maxFiles). */
export const MAX_FILES = 32;

/** The message of the error a call with more than MAX_FILES fds fails with (pkg/urpc ErrTooManyFiles). */
export const TOO_MANY_FILES = "too many files";

/** Upper bound for one message, so a misbehaving peer cannot make us buffer without end. */
export const MAX_MESSAGE_BYTES = 64 << 20;

/** A request as it goes over the wire. */
export interface Request {
  method: string;
  arg: unknown;
}

/** A response as it goes over the wire. */
export interface Response {
  success: boolean;
  err: string;
  result: unknown;
}

const QUOTE = 0x22, BACKSLASH = 0x5c, OPEN_BRACE = 0x7b, CLOSE_BRACE = 0x7d, OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

const enum Kind {
  None,
  Container,
  String,
  Number,
  Literal,
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

function isNumberByte(b: number): boolean {
  return (b >= 0x30 && b <= 0x39) || b === 0x2d || b === 0x2b || b === 0x2e || b === 0x65 || b === 0x45;
}

const LITERALS: Record<number, Uint8Array> = {
  0x74: new TextEncoder().encode("true"),
  0x66: new TextEncoder().encode("false"),
  0x6e: new TextEncoder().encode("null"),
};

/**
 * Finds the end of the first JSON value in a byte stream fed in arbitrary chunks. It tracks strings,
 * escapes and bracket nesting only; the complete value is validated by JSON.parse afterwards. Structural
 * errors it can see (a stray closer, a mismatched bracket, an unexpected first byte) throw SyntaxError.
 */
export class JsonScanner {
  #kind = Kind.None;
  /** Expected closing bytes of the open containers, innermost last. */
  #closers: number[] = [];
  #inString = false;
  #escaped = false;
  #literal: Uint8Array | null = null;
  #literalPos = 0;
  #done = false;

  /** True once a non-whitespace byte of the value has been seen. */
  get started(): boolean {
    return this.#kind !== Kind.None;
  }

  /** True once the value is complete. */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Scans `chunk`. Returns the offset in `chunk` just past the end of the value, or -1 when more input is
   * needed. A top-level number ends only at the byte after it (not consumed) or at end of stream (see end()).
   */
  feed(chunk: Uint8Array): number {
    if (this.#done) throw new Error("JsonScanner: value already complete; call reset()");
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      switch (this.#kind) {
        case Kind.None:
          if (isSpace(b)) continue;
          this.#begin(b);
          if (this.#done) return i + 1;
          continue;
        case Kind.Container:
          if (this.#container(b)) return i + 1;
          continue;
        case Kind.String:
          if (this.#string(b)) {
            this.#done = true;
            return i + 1;
          }
          continue;
        case Kind.Number:
          if (isNumberByte(b)) continue;
          this.#done = true;
          return i;
        case Kind.Literal:
          if (b !== this.#literal![this.#literalPos]) throw new SyntaxError("invalid literal in JSON value");
          if (++this.#literalPos === this.#literal!.length) {
            this.#done = true;
            return i + 1;
          }
          continue;
      }
    }
    return -1;
  }

  /** At end of stream: true when the value is complete (a top-level number needs no terminator there). */
  end(): boolean {
    if (this.#kind === Kind.Number) this.#done = true;
    return this.#done;
  }

  /** Prepares for the next value. */
  reset(): void {
    this.#kind = Kind.None;
    this.#closers = [];
    this.#inString = false;
    this.#escaped = false;
    this.#literal = null;
    this.#literalPos = 0;
    this.#done = false;
  }

  #begin(b: number): void {
    if (b === OPEN_BRACE || b === OPEN_BRACKET) {
      this.#kind = Kind.Container;
      this.#closers.push(b === OPEN_BRACE ? CLOSE_BRACE : CLOSE_BRACKET);
    } else if (b === QUOTE) {
      this.#kind = Kind.String;
    } else if (b === 0x2d || (b >= 0x30 && b <= 0x39)) {
      this.#kind = Kind.Number;
    } else if (b in LITERALS) {
      this.#kind = Kind.Literal;
      this.#literal = LITERALS[b];
      this.#literalPos = 1;
    } else {
      throw new SyntaxError(
        `invalid character ${JSON.stringify(String.fromCharCode(b))} looking for beginning of value`,
      );
    }
  }

  /** Consumes one byte inside an object or array; true when the outermost container closed. */
  #container(b: number): boolean {
    if (this.#inString) {
      if (this.#string(b)) this.#inString = false;
      return false;
    }
    if (b === QUOTE) {
      this.#inString = true;
    } else if (b === OPEN_BRACE) {
      this.#closers.push(CLOSE_BRACE);
    } else if (b === OPEN_BRACKET) {
      this.#closers.push(CLOSE_BRACKET);
    } else if (b === CLOSE_BRACE || b === CLOSE_BRACKET) {
      if (this.#closers.pop() !== b) throw new SyntaxError("mismatched bracket in JSON value");
      if (this.#closers.length === 0) {
        this.#done = true;
        return true;
      }
    }
    return false;
  }

  /** Consumes one byte inside a string (after its opening quote); true at the closing quote. */
  #string(b: number): boolean {
    if (this.#escaped) {
      this.#escaped = false;
      return false;
    }
    if (b === BACKSLASH) {
      this.#escaped = true;
      return false;
    }
    return b === QUOTE;
  }
}

/** One complete message and whatever followed it in the same read. */
export interface Complete {
  message: Uint8Array;
  rest: Uint8Array;
}

/** Collects chunks until exactly one JSON value is complete. */
export class MessageReader {
  #scanner = new JsonScanner();
  #chunks: Uint8Array[] = [];
  #size = 0;

  constructor(readonly limit: number = MAX_MESSAGE_BYTES) {}

  /** True when no byte (not even whitespace) of the current message has arrived. */
  get empty(): boolean {
    return this.#size === 0;
  }

  /** True once a non-whitespace byte of the current message has arrived. */
  get started(): boolean {
    return this.#scanner.started;
  }

  /**
   * Adds `chunk` (copied, so the caller may reuse its buffer). Returns the message once its value is
   * complete, with the bytes after it; null while more is needed. Throws SyntaxError on malformed input
   * or when the message exceeds `limit`.
   */
  push(chunk: Uint8Array): Complete | null {
    const end = this.#scanner.feed(chunk);
    if (end < 0) {
      this.#append(chunk);
      return null;
    }
    this.#append(chunk.subarray(0, end));
    const message = this.#take();
    return { message, rest: chunk.slice(end) };
  }

  /** At end of stream: the message if its value is complete (a bare top-level number), else null. */
  finish(): Uint8Array | null {
    return this.#scanner.started && this.#scanner.end() ? this.#take() : null;
  }

  #append(bytes: Uint8Array): void {
    this.#size += bytes.length;
    if (this.#size > this.limit) throw new SyntaxError(`message larger than ${this.limit} bytes`);
    if (bytes.length) this.#chunks.push(bytes.slice());
  }

  #take(): Uint8Array {
    const out = new Uint8Array(this.#size);
    let off = 0;
    for (const c of this.#chunks) {
      out.set(c, off);
      off += c.length;
    }
    this.#chunks = [];
    this.#size = 0;
    this.#scanner.reset();
    return out;
  }
}

const rawJSON = (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

// Go's encoding/json escapes these inside strings; they can only occur inside strings in JSON text.
const GO_ESCAPES: Record<string, string> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};

/**
 * JSON text of `value` as Go's json.Marshal would write it for the same data: bigints as exact integers,
 * `<`, `>`, `&`, U+2028 and U+2029 escaped. Throws TypeError for values JSON cannot hold (cycles).
 */
export function encodeJson(value: unknown): string {
  const text = JSON.stringify(
    value === undefined ? null : value,
    (_k, v) => (typeof v === "bigint" ? rawJSON(v.toString()) : v),
  );
  return text.replace(/[<>&\u2028\u2029]/g, (c) => GO_ESCAPES[c]);
}

/**
 * Parses one JSON message. Integers beyond 2^53 come back as exact bigints (Go decodes with UseNumber,
 * so a uint64 must not lose precision); all other numbers are plain numbers.
 */
export function decodeJson(bytes: Uint8Array): unknown {
  return JSON.parse(
    decoder.decode(bytes),
    (_k, v, ctx?: { source?: string }) =>
      typeof v === "number" && !Number.isSafeInteger(v) && ctx?.source !== undefined &&
        /^-?\d+$/.test(ctx.source)
        ? BigInt(ctx.source)
        : v,
  );
}

/** The bytes of a request: `{"method":…,"arg":…}`, `arg` undefined becoming null. */
export function encodeRequest(method: string, arg: unknown): Uint8Array<ArrayBuffer> {
  return encoder.encode(`{"method":${encodeJson(method)},"arg":${encodeJson(arg)}}`);
}

/** The bytes of a response, keys in Go's order: success, err, result (undefined becoming null). */
export function encodeResponse(r: Response): Uint8Array<ArrayBuffer> {
  return encoder.encode(
    `{"success":${r.success ? "true" : "false"},"err":${encodeJson(r.err)},"result":${encodeJson(r.result)}}`,
  );
}

/** Reads field `name` the way Go's decoder does: an exact key first, else a case-insensitive match. */
export function goField(obj: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) if (key.toLowerCase() === lower) return obj[key];
  return undefined;
}

/** True for a plain JSON object (not an array, not null). */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
