/**
 * The error classes of metatask. Every error the library throws is a
 * MetataskError with a stable string `code`, so callers can branch on `err.code` without
 * parsing messages.
 */

export class MetataskError extends Error {
  readonly code: string;
  constructor(message: string, code = 'ERR_METATASK', options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Wrong dimensions: ragged rows, mismatched lengths, tasks of different widths. */
export class ShapeError extends MetataskError {
  constructor(message: string) {
    super(message, 'ERR_SHAPE');
  }
}

/** Bad values: NaN or Infinity, an empty task, a bad label, an unknown task name. */
export class ValueError extends MetataskError {
  constructor(message: string) {
    super(message, 'ERR_VALUE');
  }
}

/** Bad configuration: unknown option, wrong option type, out-of-range hyperparameter. */
export class ConfigError extends MetataskError {
  constructor(message: string) {
    super(message, 'ERR_CONFIG');
  }
}

/** A method that needs a fitted model was called before fit(). */
export class NotFittedError extends MetataskError {
  constructor(model: string, method: string) {
    super(`${model} is not fitted yet: call fit() before ${method}()`, 'ERR_NOT_FITTED');
  }
}

/** A model file or JSON object that is corrupted, foreign or of an unsupported version. */
export class FormatError extends MetataskError {
  constructor(message: string) {
    super(message, 'ERR_FORMAT');
  }
}

/** The native backend was demanded but cannot be loaded. */
export class BackendError extends MetataskError {
  constructor(message: string, code = 'ERR_NATIVE_UNAVAILABLE') {
    super(message, code);
  }
}

/** A long-running call was cancelled through its AbortSignal; `cause` is the signal's reason. */
export class AbortError extends MetataskError {
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, 'ABORT_ERR', options);
  }
}

/** A method was called on an object whose native memory was released with dispose(). */
export class DisposedError extends MetataskError {
  constructor(message: string) {
    super(message, 'ERR_DISPOSED');
  }
}

/** A native kernel could not allocate the memory it needs. */
export class OutOfMemoryError extends MetataskError {
  constructor(message: string) {
    super(message, 'ERR_OUT_OF_MEMORY');
  }
}

/**
 * A worker thread of a WorkerPool, or a queue worker process, died or was terminated while it ran
 * a call (or the pool was terminated before the call could run). The call's model keeps its state.
 */
export class WorkerError extends MetataskError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 'ERR_WORKER', options);
  }
}

/** An error as plain data, to cross a thread or process boundary. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}

const ERROR_CLASSES: Record<string, { prototype: Error }> = {
  MetataskError,
  ShapeError,
  ValueError,
  ConfigError,
  NotFittedError,
  FormatError,
  BackendError,
  AbortError,
  DisposedError,
  OutOfMemoryError,
  WorkerError,
};

export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return { name: err.name, message: err.message, ...(typeof code === 'string' ? { code } : {}), ...(err.stack ? { stack: err.stack } : {}) };
  }
  return { name: 'Error', message: String(err) };
}

/**
 * The error of a serialised one, of the same class when it is one of the library's (so that
 * `instanceof ShapeError` and `err.code` hold on the caller's side), else a plain Error of the
 * same name. `where` is appended to the stack to say where it was thrown (e.g. "in a worker thread").
 */
export function reviveError(e: SerializedError, where: string): Error {
  const cls = ERROR_CLASSES[e.name];
  let err: Error;
  if (cls) {
    err = new MetataskError(e.message, e.code);
    Object.setPrototypeOf(err, cls.prototype);
    err.name = e.name;
  } else {
    err = new Error(e.message);
    err.name = e.name;
    if (e.code !== undefined) (err as Error & { code?: string }).code = e.code;
  }
  if (e.stack) err.stack = `${e.stack}\n    (thrown ${where})`;
  return err;
}
