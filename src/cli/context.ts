import type { Command } from 'commander';
import { ApiClient } from './client.ts';
import type { Output } from './output.ts';

export interface GlobalOptions {
  url: string;
  token?: string;
  json?: boolean;
}

/** The API client and output mode of the running command, from the program's options. */
export function contextOf(command: Command): { api: ApiClient; output: Output } {
  const options = command.optsWithGlobals<GlobalOptions>();
  return { api: new ApiClient(options.url, options.token), output: { json: options.json === true } };
}

export const list = (value: string): string[] =>
  value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);

export const integer = (value: string): number => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new Error(`not an integer: ${value}`);
  return parsed;
};
