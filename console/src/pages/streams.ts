import { get, query, type Page as ApiPage, type StoredEvent, type Stream, type StreamActivity } from '../api.ts';
import { barChart } from '../chart.ts';
import { formatTime, h, show, table } from '../dom.ts';
import { link, type Page, type PageContext } from '../router.ts';

export function streamsPage(): Page {
  const body = h('div');
  return {
    title: 'Streams',
    element: h('section', {}, h('h1', {}, 'Streams'), body),
    async refresh() {
      const streams = (await get<ApiPage<Stream>>('/v1/streams?limit=1000')).data;
      const activity = await Promise.all(streams.map((s) => get<StreamActivity>(`/v1/streams/${encodeURIComponent(s.name)}/activity`)));
      show(
        body,
        table(
          'Streams',
          ['Stream', 'Last seq', 'Events, last minute', 'Events per minute, last hour'],
          streams.map((stream, index) => {
            const minutes = activity[index]!.minutes.map((m) => m.events);
            const hour = minutes.reduce((sum, n) => sum + n, 0);
            return [
              h('a', { href: link(`/streams/${encodeURIComponent(stream.name)}`) }, stream.name),
              h('span', { class: 'num', 'data-testid': `last-seq-${stream.name}` }, stream.last_seq),
              h('span', { class: 'num' }, minutes.at(-1) ?? 0),
              barChart([{ values: minutes, className: 'bar' }], `${hour} events in the last hour`),
            ];
          }),
          'No streams yet. Create one with `eventflow streams create <name>`.',
        ),
      );
    },
  };
}

/** One stream's latest events, newest first. */
export function streamPage({ params }: PageContext): Page {
  const name = params.stream!;
  const body = h('div');
  return {
    title: `Stream ${name}`,
    element: h('section', {}, h('p', {}, h('a', { href: link('/streams') }, '← Streams')), h('h1', {}, `Stream ${name}`), body),
    async refresh() {
      const stream = await get<Stream>(`/v1/streams/${encodeURIComponent(name)}`);
      const afterSeq = Math.max(0, stream.last_seq - 50);
      const events = (await get<ApiPage<StoredEvent>>(`/v1/streams/${encodeURIComponent(name)}/events${query({ after_seq: afterSeq, limit: 50 })}`)).data.reverse();
      show(
        body,
        h('p', {}, `Last seq ${stream.last_seq}. ${stream.description ?? ''}`),
        table(
          `Latest events of ${name}`,
          ['Seq', 'Type', 'Occurred at', 'Id'],
          events.map((event) => [
            h('span', { class: 'num' }, event.seq),
            event.type,
            formatTime(event.occurred_at),
            h('a', { href: link(`/streams/${encodeURIComponent(name)}/events/${event.id}`) }, event.id),
          ]),
          'No events in this stream yet.',
        ),
      );
    },
  };
}

/** One event, pretty-printed: its payload, context and metadata. */
export function eventPage({ params }: PageContext): Page {
  const body = h('div');
  const stream = params.stream!;
  return {
    title: `Event ${params.id!}`,
    element: h(
      'section',
      {},
      h('p', {}, h('a', { href: link(`/streams/${encodeURIComponent(stream)}`) }, `← Stream ${stream}`)),
      h('h1', {}, 'Event'),
      body,
    ),
    async refresh() {
      const event = await get<StoredEvent>(`/v1/streams/${encodeURIComponent(stream)}/events/${encodeURIComponent(params.id!)}`);
      show(body, eventDetails(event));
    },
  };
}

export function eventDetails(event: StoredEvent): HTMLElement {
  const facts: [string, string | number][] = [
    ['Id', event.id],
    ['Stream', event.stream],
    ['Seq', event.seq],
    ['Type', event.type],
    ['Version', event.version],
    ['Occurred at', event.occurred_at],
    ['Appended at', event.appended_at],
    ['Source', event.source ?? '—'],
  ];
  return h(
    'div',
    { class: 'event' },
    h('dl', { class: 'facts' }, ...facts.flatMap(([term, value]) => [h('dt', {}, term), h('dd', {}, value)])),
    h('h2', {}, 'Payload'),
    h('pre', { tabindex: 0, 'aria-label': 'Payload' }, JSON.stringify(event.payload, null, 2)),
    h('h2', {}, 'Context'),
    h('pre', { tabindex: 0, 'aria-label': 'Context' }, JSON.stringify(event.context, null, 2)),
  );
}
