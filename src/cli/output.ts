import Table from 'cli-table3';

export interface Output {
  json: boolean;
}

/** `--json`: the API's JSON as is; otherwise an aligned table for people. */
export function print(output: Output, value: unknown, table: () => (string | number | null)[][], head: string[]): void {
  if (output.json) {
    process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
    return;
  }
  const rendered = new Table({
    head,
    style: { head: [], border: [], compact: true },
    chars: { top: '', 'top-mid': '', 'top-left': '', 'top-right': '', bottom: '', 'bottom-mid': '', 'bottom-left': '', 'bottom-right': '', left: '', 'left-mid': '', mid: '', 'mid-mid': '', right: '', 'right-mid': '', middle: '  ' },
  });
  rendered.push(...table().map((row) => row.map((cell) => (cell === null ? '-' : String(cell)))));
  process.stdout.write(`${rendered.toString()}\n`);
}

/** One record as `key  value` lines. */
export function printRecord(output: Output, value: Record<string, unknown>): void {
  print(
    output,
    value,
    () => Object.entries(value).map(([key, field]) => [key, typeof field === 'object' && field !== null ? JSON.stringify(field) : (field as string | number | null)]),
    ['field', 'value'],
  );
}

export function say(output: Output, message: string, value: unknown): void {
  if (output.json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  else process.stdout.write(`${message}\n`);
}

export const truncate = (text: string | null, length = 60): string | null =>
  text === null ? null : text.length > length ? `${text.slice(0, length - 1)}…` : text;
