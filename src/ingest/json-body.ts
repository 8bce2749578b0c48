import type { FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import { EventFlowError } from '../errors.ts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A run of 16 or more number characters: only then can a number lose precision in a double. */
const LONG_NUMBER = /[0-9][0-9.eE+-]{15,}/;

/**
 * The JSON body parser. Refuses (400) what JavaScript would silently change: invalid UTF-8
 * (it would become U+FFFD) and numbers a double cannot hold exactly (12345678901234567890
 * would become ...7000). Keeps Fastify's protection against __proto__ and constructor keys.
 */
export function parseJsonBody(_request: FastifyRequest, body: Buffer, done: (error: Error | null, value?: unknown) => void): void {
  if (body.length === 0) return done(null, undefined);
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return done(new EventFlowError('malformed_json', 'the body is not valid UTF-8'));
  }
  try {
    const value: unknown = secureJson.parse(text, null, { protoAction: 'error', constructorAction: 'error' });
    if (LONG_NUMBER.test(text)) assertExactNumbers(text);
    done(null, value);
  } catch (error) {
    done(error instanceof EventFlowError ? error : new EventFlowError('malformed_json', 'the body is not valid JSON'));
  }
}

function assertExactNumbers(text: string): void {
  JSON.parse(text, (_key, value: unknown, context?: { source?: string }) => {
    if (typeof value === 'number' && context?.source !== undefined && !exact(context.source, value)) {
      throw new EventFlowError('validation_failed', `the number ${context.source} cannot be stored exactly`, {
        errors: [{ path: 'body', message: `${context.source} has more precision than a 64-bit float holds; send it as a string` }],
      });
    }
    return value;
  });
}

/** Whether a JSON number literal and the double it parsed to denote the same decimal value. */
function exact(source: string, value: number): boolean {
  return decimal(source) === decimal(String(value));
}

/** A canonical form of a decimal literal: significant digits and the exponent of the first one. */
function decimal(literal: string): string {
  const match = /^(-?)(\d*)\.?(\d*)(?:[eE]([+-]?\d+))?$/.exec(literal);
  if (!match) return literal;
  const [, sign, whole = '', fraction = '', exponent = '0'] = match;
  const digits = `${whole}${fraction}`;
  const first = digits.search(/[1-9]/);
  if (first === -1) return '0';
  const significant = digits.slice(first).replace(/0+$/, '');
  return `${sign}${significant}e${Number(exponent) + whole.length - first}`;
}

