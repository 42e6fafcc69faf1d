/**
 * What the API reference knows about a route: its body, query and response shapes as TypeBox schemas.
 * TypeBox schemas are JSON Schema already, so services describe a route with the very objects they validate
 * against, and the gateway's `/openapi.json` prints them as they are. Only elysia's `t` is imported here, so
 * a service's description map stays as light as its model files.
 */
import { type IntegerOptions, type TObject, type TSchema, Type } from '@sinclair/typebox';
import { t } from 'elysia';

/**
 * A plain JSON integer. Elysia's `t.Integer` also accepts numeric strings (right for form and query input,
 * wrong for an answer), and the reference would show that string branch; answers and documented query
 * parameters use this instead.
 */
export const Integer = (options?: IntegerOptions) => Type.Integer(options);

/** One field that failed validation, as `errors` entries of a 422 carry it. */
export const FieldErrorSchema = t.Object({ path: t.String(), message: t.String() });

/** The envelope every Gaia service answers errors with; a 422 adds the failing fields. */
export const ErrorBody = t.Object(
  { detail: t.String(), errors: t.Optional(t.Array(FieldErrorSchema)) },
  { description: 'Error: `detail` says what went wrong; a 422 lists the failing fields in `errors`' },
);

/** The OpenAI-compatible `/v1` surface keeps `detail` and adds the `error` object the OpenAI SDKs read. */
export const OpenAiErrorBody = t.Object(
  {
    detail: t.String(),
    error: t.Object({
      message: t.String(),
      type: t.String(),
      param: t.Union([t.String(), t.Null()]),
      code: t.Union([t.String(), t.Null()]),
    }),
  },
  { description: 'Error in the OpenAI shape, with `detail` kept for Gaia clients' },
);

/** The clean v0.3 chat API answers its own request errors as `{"error": "..."}` (game clients parse that). */
export const CleanErrorBody = t.Object({ error: t.String() }, { description: 'v0.3 request error' });

/** `{"message": "..."}` acknowledgements (logout and the like). */
export const MessageBody = t.Object({ message: t.String() });

export interface RouteDoc {
  /** One-line summary, for routes a catch-all forwards (the route table has the others'). */
  summary?: string;
  /** JSON request body. */
  body?: TSchema;
  /** Query parameters, one property each. */
  query?: TObject;
  /** The main success answer (JSON). Absent with `status: 204`. */
  response?: TSchema;
  /** Success status when it is not 200 (201 on creation, 204 on deletion). */
  status?: number;
  /** When set the route may answer `text/event-stream`; the text describes the events. */
  stream?: string;
  /** When set the route answers raw bytes of this media type (stored files). */
  binary?: string;
  /** Other success answers by status (a 202 job instead of a finished asset). */
  also?: Record<number, { description: string; schema: TSchema }>;
  /** Error envelope when it is not `ErrorBody`. */
  errors?: TSchema;
  /** Longer explanation shown under the summary. */
  description?: string;
}

/** `'METHOD /path'` (Elysia path syntax, as in the gateway's route table) → what the reference shows. */
export type RouteDocs = Record<string, RouteDoc>;
