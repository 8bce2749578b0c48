import { lookup } from 'node:dns/promises';
import { EventFlowError } from '../errors.ts';
import { isPublicAddress, literalAddress } from '../workers/ssrf.ts';

const invalid = (message: string) =>
  new EventFlowError('validation_failed', `webhook_url ${message}`, { errors: [{ path: 'webhook_url', message }] });

/**
 * http(s), no credentials, and (unless private addresses are allowed) no address that is
 * not public. A name that does not resolve now is accepted: the sender checks the
 * addresses again at every connection, which is what stops DNS rebinding.
 */
export async function assertWebhookUrl(value: string, allowPrivate: boolean): Promise<string> {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw invalid('is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('must use http or https');
  if (url.username || url.password) throw invalid('must not carry credentials');
  if (allowPrivate) return url.toString();
  const literal = literalAddress(url);
  const addresses = literal
    ? [literal]
    : await lookup(url.hostname, { all: true }).then(
        (entries) => entries.map((entry) => entry.address),
        () => [],
      );
  const blocked = addresses.find((address) => !isPublicAddress(address));
  if (blocked) throw invalid(`resolves to ${blocked}, which is not a public address`);
  return url.toString();
}
