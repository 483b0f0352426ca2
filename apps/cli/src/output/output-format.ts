/**
 * What `-o` asks for, read as kubectl reads it: a plain format (`wide`, `yaml`, ...) or a
 * JSONPath template given inline (`jsonpath={.metadata.name}`, `jsonpath-as-json=...`) or in a
 * file (`jsonpath-file=FILE`). A bad format or template is a usage error, before any request.
 */
import { readFileSync } from 'node:fs';
import { JsonPathSyntaxError, JsonPathTemplate } from '@shoal/api';
import { UsageError } from '../cli-errors.js';

export const PLAIN_OUTPUTS = ['table', 'wide', 'yaml', 'json', 'name'] as const;
export type PlainOutput = (typeof PLAIN_OUTPUTS)[number];

const TEMPLATE_OUTPUTS = ['jsonpath', 'jsonpath-file', 'jsonpath-as-json'] as const;

/** For --help and shell completion. */
export const OUTPUT_CHOICES = [...PLAIN_OUTPUTS, ...TEMPLATE_OUTPUTS.map((o) => `${o}=`)];

export interface JsonPathOutput {
  jsonpath: JsonPathTemplate;
  /** `jsonpath-as-json`: each expression's results as a JSON array. */
  asJson: boolean;
}

export type OutputFormat = PlainOutput | JsonPathOutput;

export function parseOutputFormat(value: string): OutputFormat {
  if ((PLAIN_OUTPUTS as readonly string[]).includes(value)) return value as PlainOutput;
  const eq = value.indexOf('=');
  const name = eq < 0 ? value : value.slice(0, eq);
  if (!(TEMPLATE_OUTPUTS as readonly string[]).includes(name)) {
    throw new UsageError(
      `unable to match a printer suitable for the output format "${value}", allowed formats are: ${[...PLAIN_OUTPUTS, ...TEMPLATE_OUTPUTS].join(',')}`,
    );
  }
  const argument = eq < 0 ? '' : value.slice(eq + 1);
  if (argument === '')
    throw new UsageError(
      `${name}: template format specified but no template given (e.g. -o ${name}=${name === 'jsonpath-file' ? 'FILE' : "'{.metadata.name}'"})`,
    );
  const text = name === 'jsonpath-file' ? readTemplateFile(argument) : argument;
  try {
    return { jsonpath: new JsonPathTemplate(text), asJson: name === 'jsonpath-as-json' };
  } catch (err) {
    if (err instanceof JsonPathSyntaxError) throw new UsageError(`error parsing jsonpath ${text}, ${err.message}`);
    throw err;
  }
}

export function isTableOutput(format: OutputFormat): format is 'table' | 'wide' {
  return format === 'table' || format === 'wide';
}

function readTemplateFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new UsageError(`error reading --template ${path}, ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
}
