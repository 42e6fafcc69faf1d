/**
 * Storage keys come from our own ids, but they end up as file paths and S3 object names, so they are checked
 * once here: relative, forward slashes, no empty, `.` or `..` segments, a conservative character set.
 */
import { HttpError } from '../../../src/http/errors.ts';

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

export function assertKey(key: string): string {
  const ok =
    key.length > 0 &&
    key.length <= 512 &&
    key.split('/').every((s) => SEGMENT.test(s) && s !== '.' && s !== '..' && !s.includes('..'));
  if (!ok) throw new HttpError(500, `Invalid storage key: ${JSON.stringify(key.slice(0, 80))}`);
  return key;
}
