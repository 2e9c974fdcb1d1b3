/**
 * Runtime validation of task requests. Every failure is a `ValidationError` whose
 * `field` is the dotted path of the first offending field (`params.websiteKey`).
 */
import { TypeCompiler, ValueErrorType, type TypeCheck } from '@sinclair/typebox/compiler';
import type { TSchema } from '@sinclair/typebox';
import { ValidationError } from './errors';
import {
  IMAGE_MAX_BYTES,
  IMAGE_MIN_BYTES,
  PARAM_SCHEMAS,
  TASK_TYPES,
  isTaskType,
  type TaskSpec,
  type TaskType,
} from './task-types';

const checks = Object.fromEntries(
  TASK_TYPES.map((t) => [t, TypeCompiler.Compile(PARAM_SCHEMAS[t] as TSchema)]),
) as Record<TaskType, TypeCheck<TSchema>>;

/** `/websiteURL` + prefix `params` → `params.websiteURL` */
function fieldOf(prefix: string, pointer: string): string {
  const parts = pointer.split('/').filter(Boolean).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return [prefix, ...parts].filter(Boolean).join('.');
}

/**
 * Validates `{ type, params }` and returns it narrowed. Unknown properties in params are
 * rejected (a typo such as `websiteUrl` must not silently vanish).
 */
export function parseTaskSpec(type: unknown, params: unknown, prefix = 'params'): TaskSpec {
  if (type === undefined || type === null || type === '') throw new ValidationError('type', 'is required');
  if (!isTaskType(type)) {
    throw new ValidationError('type', `unknown task type ${JSON.stringify(type)}; expected one of ${TASK_TYPES.join(', ')}`);
  }
  if (typeof params !== 'object' || params === null || Array.isArray(params)) {
    throw new ValidationError(prefix, 'must be an object');
  }
  const check = checks[type];
  if (!check.Check(params)) {
    const first = check.Errors(params).First();
    if (first) {
      const field = fieldOf(prefix, first.path);
      // TypeBox points additional-property errors at the extra key itself.
      if (first.type === ValueErrorType.ObjectAdditionalProperties) {
        throw new ValidationError(field, `unknown field for task type ${type}`);
      }
      throw new ValidationError(field || prefix, first.message.toLowerCase());
    }
    throw new ValidationError(prefix, 'is invalid');
  }
  if (type === 'image') checkImage((params as { body: string }).body, `${prefix}.body`);
  return { type, params } as TaskSpec;
}

const BASE64_RE = /^[A-Za-z0-9+/\r\n]+={0,2}$/;

function checkImage(body: string, field: string): void {
  if (body.startsWith('data:')) throw new ValidationError(field, 'must be plain base64 without a data: prefix');
  if (!BASE64_RE.test(body)) throw new ValidationError(field, 'is not valid base64');
  const bytes = Buffer.byteLength(body, 'base64');
  if (bytes < IMAGE_MIN_BYTES) throw new ValidationError(field, `image is ${bytes} bytes; the minimum is ${IMAGE_MIN_BYTES}`);
  if (bytes > IMAGE_MAX_BYTES) throw new ValidationError(field, `image is ${bytes} bytes; the maximum is ${IMAGE_MAX_BYTES}`);
}
