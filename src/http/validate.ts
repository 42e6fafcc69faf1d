/**
 * Schema validation with TypeBox (Elysia's `t`), mapped to the spec's 422 envelope. Messages are our own
 * short phrases: TypeBox's defaults can quote the rejected value, and no error may echo input.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType } from '@sinclair/typebox/value';
import { type FieldError, HttpError } from './errors.ts';

function dotted(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.');
}

function jsType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

/**
 * A union (Elysia's `t.Integer` is "integer or numeric string") is described by the branch of the value's
 * own type, so `0` for `minimum: 1` says "Must be at least 1", not "Invalid value".
 */
function describeUnion(schema: TSchema, value: unknown): string | undefined {
  const branches = (schema as { anyOf?: TSchema[] }).anyOf ?? [];
  const vt = jsType(value);
  const branch = branches.find((b) => b.type === vt || (b.type === 'number' && vt === 'integer'));
  if (!branch) return undefined;
  const first = Value.Errors(branch, value).First();
  return first ? describe(first) : undefined;
}

function describe(err: { type: ValueErrorType; schema: TSchema; value: unknown }): string {
  if (err.value === undefined) return 'Required';
  if (err.type === ValueErrorType.Union) {
    const m = describeUnion(err.schema, err.value);
    if (m) return m;
  }
  const s = err.schema as Record<string, unknown>;
  switch (err.type) {
    case ValueErrorType.String:
      return 'Expected a string';
    case ValueErrorType.Number:
    case ValueErrorType.Integer:
      return err.type === ValueErrorType.Integer ? 'Expected an integer' : 'Expected a number';
    case ValueErrorType.Boolean:
      return 'Expected a boolean';
    case ValueErrorType.Object:
      return 'Expected an object';
    case ValueErrorType.Array:
      return 'Expected an array';
    case ValueErrorType.StringMinLength:
      return `Must be at least ${s.minLength} characters`;
    case ValueErrorType.StringMaxLength:
      return `Must be at most ${s.maxLength} characters`;
    case ValueErrorType.NumberMinimum:
    case ValueErrorType.IntegerMinimum:
      return `Must be at least ${s.minimum}`;
    case ValueErrorType.NumberMaximum:
    case ValueErrorType.IntegerMaximum:
      return `Must be at most ${s.maximum}`;
    case ValueErrorType.ArrayMaxItems:
      return `Must have at most ${s.maxItems} items`;
    case ValueErrorType.ArrayMinItems:
      return `Must have at least ${s.minItems} items`;
    case ValueErrorType.StringPattern:
    case ValueErrorType.StringFormat:
      return 'Invalid format';
    case ValueErrorType.Union:
    case ValueErrorType.Literal:
      return 'Invalid value';
    case ValueErrorType.ObjectAdditionalProperties:
      return 'Unknown field';
    case ValueErrorType.Null:
      return 'Expected null';
    default:
      return 'Invalid value';
  }
}

/** Lists field errors, first error per path, in document order. */
export function fieldErrors(schema: TSchema, value: unknown): FieldError[] {
  if (schema.type === 'object' && (typeof value !== 'object' || value === null || Array.isArray(value)))
    return [{ path: '', message: 'Expected a JSON object' }];
  const seen = new Set<string>();
  const out: FieldError[] = [];
  for (const e of Value.Errors(schema, value)) {
    const path = dotted(e.path);
    if (seen.has(path)) continue;
    // A union failure is reported once, at its own path, not for each branch.
    if ([...seen].some((p) => p !== '' && path.startsWith(`${p}.`))) continue;
    seen.add(path);
    out.push({ path, message: describe(e) });
  }
  return out;
}

/**
 * Validates and returns the value typed by the schema; throws the 422 envelope otherwise.
 * `prefix` names query parameters (`query.limit`).
 */
export function validate<T extends TSchema>(
  schema: T,
  value: unknown,
  opts: { prefix?: string; status?: number; detail?: string } = {},
): Static<T> {
  if (Value.Check(schema, value)) return value as Static<T>;
  const errors = fieldErrors(schema, value).map((e) => ({
    path: opts.prefix ? (e.path ? `${opts.prefix}.${e.path}` : opts.prefix) : e.path,
    message: e.message,
  }));
  throw new HttpError(opts.status ?? 422, opts.detail ?? 'Invalid request body', { errors });
}
