import { get, post, query, type Attempt, type DeadLetter, type Group, type Page as ApiPage, type Stream, type StoredEvent } from '../api.ts';
import { formatTime, h, show, table, type Child } from '../dom.ts';
import { link, type Page, type PageContext } from '../router.ts';
import { actionButton } from '../ui.ts';
import { eventDetails } from './streams.ts';

const STATUSES = ['pending', 'retrying', 'resolved', 'discarded'];

/** "HTTP 403", or the transport error when there was no answer ("timed out after 300 ms"). */
const describeOutcome = (attempt: Attempt): string => attempt.error ?? `HTTP ${attempt.status_code ?? '—'}`;

function actionButtons(letter: DeadLetter, refresh: () => Promise<void>): Child {
  if (letter.status !== 'pending') return null;
  const what = `${letter.stream} #${letter.seq}`;
  return h(
    'span',
    { class: 'actions' },
    actionButton({ label: 'Retry', name: `Retry ${what}`, id: letter.id, run: () => post(`/v1/dead-letters/${letter.id}/retry`), done: `Retrying ${what}.` }, refresh),
    actionButton(
      { label: 'Discard', name: `Discard ${what}`, id: letter.id, secondary: true, run: () => post(`/v1/dead-letters/${letter.id}/discard`), done: `Discarded ${what}.` },
      refresh,
    ),
  );
}

function select(id: string, label: string, options: [string, string][], value: string | null): HTMLElement[] {
  return [
    h('label', { for: id }, label),
    h('select', { id, name: id }, h('option', { value: '' }, 'any'), ...options.map(([optionValue, text]) => h('option', { value: optionValue, selected: optionValue === value }, text))),
  ];
}

export function deadLettersPage({ query: search, canAct }: PageContext): Page {
  const filters = { group_id: search.get('group_id') ?? undefined, stream: search.get('stream') ?? undefined, status: search.get('status') ?? undefined };
  const selected = new Set<string>();
  const form = h('form', { class: 'inline-form filters', role: 'search', 'aria-label': 'Filter dead letters' });
  const body = h('div');
  const bulk = h('div', { class: 'actions' });
  let groupNames = new Map<string, string>();

  const page: Page = {
    title: 'Dead letters',
    element: h('section', {}, h('h1', {}, 'Dead letters'), form, bulk, body),
    async refresh() {
      const [groups, streams, letters] = await Promise.all([
        get<ApiPage<Group>>('/v1/consumer-groups?limit=1000'),
        get<ApiPage<Stream>>('/v1/streams?limit=1000'),
        get<ApiPage<DeadLetter>>(`/v1/dead-letters${query({ ...filters, limit: 200 })}`),
      ]);
      if (form.childElementCount === 0) {
        form.append(
          ...select('group_id', 'Group', groups.data.map((g) => [g.id, g.name]), filters.group_id ?? null),
          ...select('stream', 'Stream', streams.data.map((s) => [s.name, s.name]), filters.stream ?? null),
          ...select('status', 'Status', STATUSES.map((s) => [s, s]), filters.status ?? null),
          h('button', { type: 'submit' }, 'Filter'),
        );
        form.addEventListener('submit', (event) => {
          event.preventDefault();
          const values = Object.fromEntries([...new FormData(form)].map(([name, value]) => [name, typeof value === 'string' ? value : '']));
          location.hash = link('/dead-letters', values);
        });
      }
      groupNames = new Map(groups.data.map((g) => [g.id, g.name]));
      const pending = letters.data.filter((l) => l.status === 'pending');
      for (const id of selected) if (!pending.some((l) => l.id === id)) selected.delete(id);
      if (canAct) show(bulk, ...bulkButtons(pending.length, page.refresh));
      const head = ['Group', 'Event', 'Status', 'Attempts', 'Last error', 'Dead-lettered'];
      show(
        body,
        table(
          'Dead letters',
          canAct ? ['Select', ...head, 'Action'] : head,
          letters.data.map((letter) => {
            const cells: Child[] = [
              groupNames.get(letter.group_id) ?? letter.group_id,
              h('a', { href: link(`/dead-letters/${letter.id}`) }, `${letter.stream} #${letter.seq}`),
              h('span', { class: `badge ${letter.status}`, 'data-testid': `dead-letter-status-${letter.seq}` }, letter.status),
              h('span', { class: 'num' }, letter.attempts),
              letter.last_error ?? '',
              formatTime(letter.dead_lettered_at),
            ];
            if (!canAct) return cells;
            const checkbox =
              letter.status === 'pending'
                ? h('input', {
                    type: 'checkbox',
                    'aria-label': `Select ${letter.stream} #${letter.seq}`,
                    checked: selected.has(letter.id),
                    onchange: (event) => void ((event.target as HTMLInputElement).checked ? selected.add(letter.id) : selected.delete(letter.id)),
                  })
                : null;
            return [checkbox, ...cells, actionButtons(letter, page.refresh)];
          }),
          'No dead letters match.',
        ),
      );
    },
  };

  function bulkButtons(pendingCount: number, refresh: () => Promise<void>): HTMLElement[] {
    const retrySelected = actionButton(
      {
        label: 'Retry selected',
        run: async () => {
          const ids = [...selected];
          if (ids.length) await post('/v1/dead-letters/retry', { ids });
          selected.clear();
        },
        done: 'Retrying the selected dead letters.',
      },
      refresh,
    );
    const retryAll = actionButton(
      {
        label: `Retry all pending that match (${pendingCount})`,
        secondary: true,
        disabled: pendingCount === 0,
        run: () => post('/v1/dead-letters/retry', { group_id: filters.group_id, stream: filters.stream }),
        done: 'Retrying every pending dead letter that matches.',
      },
      refresh,
    );
    return [retrySelected, retryAll];
  }

  return page;
}

/** One dead letter: the event, every attempt, the last response, and what can be done. */
export function deadLetterPage({ params, canAct }: PageContext): Page {
  const body = h('div');
  const page: Page = {
    title: 'Dead letter',
    element: h('section', {}, h('p', {}, h('a', { href: link('/dead-letters') }, '← Dead letters')), h('h1', {}, 'Dead letter'), body),
    async refresh() {
      const letter = await get<DeadLetter>(`/v1/dead-letters/${encodeURIComponent(params.id!)}`);
      const [event, attempts, group] = await Promise.all([
        get<StoredEvent>(`/v1/streams/${encodeURIComponent(letter.stream)}/events/${letter.event_id}`),
        get<ApiPage<Attempt>>(`/v1/consumer-groups/${letter.group_id}/deliveries${query({ event_id: letter.event_id, limit: 100 })}`),
        get<Group>(`/v1/consumer-groups/${letter.group_id}`),
      ]);
      const lastResponse = attempts.data.find((a) => a.status !== 'delivered');
      show(
        body,
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Group'),
          h('dd', {}, h('a', { href: link(`/groups/${group.id}`) }, group.name)),
          h('dt', {}, 'Status'),
          h('dd', {}, h('span', { class: `badge ${letter.status}`, 'data-testid': 'dead-letter-status' }, letter.status), ' ', canAct ? actionButtons(letter, page.refresh) : null),
          h('dt', {}, 'Attempts'),
          h('dd', {}, letter.attempts),
          h('dt', {}, 'Last error'),
          h('dd', {}, letter.last_error ?? '—'),
          h('dt', {}, 'Dead-lettered'),
          h('dd', {}, formatTime(letter.dead_lettered_at)),
          h('dt', {}, 'Retried'),
          h('dd', {}, formatTime(letter.retried_at)),
        ),
        h('h2', {}, 'Last response'),
        lastResponse
          ? h('pre', { tabindex: 0, 'aria-label': 'Last response' }, `${describeOutcome(lastResponse)}\n\n${lastResponse.response_body ?? '(no body)'}`)
          : h('p', {}, 'No failed attempt recorded.'),
        h('h2', {}, 'Attempts'),
        table(
          'Attempts',
          ['At', 'Attempt', 'Outcome', 'Status code', 'Duration', 'Error'],
          attempts.data.map((a) => [formatTime(a.at), a.attempt, h('span', { class: `badge ${a.status}` }, a.status), a.status_code ?? '—', `${a.duration_ms} ms`, a.error ?? '']),
        ),
        h('h2', {}, 'The event'),
        eventDetails(event),
      );
    },
  };
  return page;
}
