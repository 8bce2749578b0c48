import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { expect } from 'vitest';

export type MetricFamilies = Map<string, ReturnType<typeof parsePrometheusTextFormat>[number]>;

/** The service's /metrics, parsed, by family name. */
export async function scrape(url: string): Promise<MetricFamilies> {
  const response = await fetch(`${url}/metrics`);
  expect(response.headers.get('content-type')).toContain('text/plain');
  return new Map(parsePrometheusTextFormat(await response.text()).map((family) => [family.name, family]));
}
