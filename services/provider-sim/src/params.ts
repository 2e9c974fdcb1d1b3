/**
 * Request parameters, merged from every place clients put them.
 *
 * Real clients send v1 parameters as a query string, form-urlencoded, multipart
 * (`method=post` + `file`), `application/json`, or JSON sent as `text/plain`
 * mixed with query parameters (captcha-protocols.md §0.2). The app registers a
 * single catch-all body parser that keeps the body as text; here the text is
 * JSON-parsed when it starts with `{` (whatever the Content-Type) and read as
 * form-urlencoded otherwise. Body values override query values.
 */
import type { FastifyRequest } from 'fastify';

export type Params = Record<string, unknown>;

export interface UploadedFile {
  bytes: Buffer;
  /** The file was larger than the read limit (and `bytes` is cut short). */
  truncated: boolean;
}

export interface ReadParams {
  params: Params;
  file?: UploadedFile;
}

function parseBodyText(text: string): Params {
  const trimmed = text.trim();
  if (trimmed === '') return {};
  if (trimmed.startsWith('{')) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Params) : {};
    } catch {
      return {};
    }
  }
  return Object.fromEntries(new URLSearchParams(trimmed));
}

/**
 * Reads query + body of `req` into one parameter object. Multipart files are read up
 * to `maxFileBytes + 1` bytes (the plugin is registered with `throwFileSizeLimit: false`,
 * so a bigger file arrives `truncated` instead of failing the request).
 */
export async function readParams(req: FastifyRequest, maxFileBytes: number): Promise<ReadParams> {
  const params: Params = { ...((req.query as Params | undefined) ?? {}) };
  let file: UploadedFile | undefined;
  if (req.isMultipart()) {
    const parts = req.parts({ limits: { fileSize: maxFileBytes + 1 } });
    for await (const part of parts) {
      if (part.type === 'file') {
        const bytes = await part.toBuffer();
        if (part.fieldname === 'file' || file === undefined) file = { bytes, truncated: part.file.truncated };
      } else {
        params[part.fieldname] = part.value;
      }
    }
  } else if (typeof req.body === 'string') {
    Object.assign(params, parseBodyText(req.body));
  }
  return { params, file };
}

/** A parameter as text: numbers and booleans are stringified, arrays give their first item. */
export function str(params: Params, name: string): string | undefined {
  let v = params[name];
  if (Array.isArray(v)) v = v[0];
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

/** A parameter as a loose flag: `1`, `"1"`, `true`, `"true"` are on; `"false"`, `"0"`, `""`, absent are off. */
export function flag(params: Params, name: string): boolean {
  const v = str(params, name)?.trim().toLowerCase();
  return v !== undefined && v !== '' && v !== '0' && v !== 'false' && v !== 'no' && v !== 'off';
}

/** A parameter as an integer, `fallback` when absent or not a number. */
export function int(params: Params, name: string, fallback: number): number {
  const n = Number.parseInt(str(params, name) ?? '', 10);
  return Number.isFinite(n) ? n : fallback;
}

/** A parameter as a float, `fallback` when absent or not a number. */
export function float(params: Params, name: string, fallback: number): number {
  const n = Number.parseFloat(str(params, name) ?? '');
  return Number.isFinite(n) ? n : fallback;
}
