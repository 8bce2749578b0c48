import { get, patch, post, query, type Attempt, type Group, type GroupActivity, type Page as ApiPage } from '../api.ts';
import { barChart } from '../chart.ts';
import { formatTime, h, show, table, type Child } from '../dom.ts';
import { link, type Page, type PageContext } from '../router.ts';
import { actionButton, announce, confirmDialog, describeError } from '../ui.ts';

const lagList = (group: Group): HTMLElement =>
  h('ul', { class: 'plain' }, ...group.offsets.map((o) => h('li', {}, `${o.stream}: `, h('span', { class: o.lag > 0 ? 'num behind' : 'num', 'data-testid': `lag-${group.name}-${o.stream}` }, o.lag))));

const lastErrorOf = (activity: GroupActivity): Child =>
  activity.last_error ? `${activity.last_error.error ?? 'failed'} (${activity.last_error.stream} #${activity.last_error.seq}, ${formatTime(activity.last_error.at)})` : '—';

function pauseButton(group: Group, refresh: () => Promise<void>): HTMLButtonElement {
  const pausing = group.status === 'active';
  return actionButton(
    {
      label: pausing ? 'Pause' : 'Resume',
      name: `${pausing ? 'Pause' : 'Resume'} ${group.name}`,
      id: group.id,
      secondary: true,
      run: () => patch(`/v1/consumer-groups/${group.id}`, { status: pausing ? 'paused' : 'active' }),
      done: `${group.name} ${pausing ? 'paused' : 'resumed'}`,
    },
    refresh,
  );
}

export function groupsPage({ canAct }: PageContext): Page {
  const body = h('div');
  const page: Page = {
    title: 'Consumer groups',
    element: h('section', {}, h('h1', {}, 'Consumer groups'), body),
    async refresh() {
      const groups = (await get<ApiPage<Group>>('/v1/consumer-groups?limit=1000')).data;
      const activity = await Promise.all(groups.map((g) => get<GroupActivity>(`/v1/consumer-groups/${g.id}/activity`)));
      const head = ['Group', 'Status', 'Mode', 'Lag per stream', 'Delivered / failed, last minute', 'Last hour', 'Last error', 'Dead letters'];
      show(
        body,
        table(
          'Consumer groups',
          canAct ? [...head, 'Action'] : head,
          groups.map((group, index) => {
            const minutes = activity[index]!.minutes;
            const last = minutes.at(-1);
            const cells: Child[] = [
              h('a', { href: link(`/groups/${group.id}`) }, group.name),
              h('span', { class: `badge ${group.status}` }, group.status),
              group.delivery.mode,
              lagList(group),
              h('span', { class: 'num' }, `${last?.delivered ?? 0} / ${last?.failed ?? 0}`),
              barChart(
                [
                  { values: minutes.map((m) => m.delivered), className: 'bar' },
                  { values: minutes.map((m) => m.failed), className: 'bar failed' },
                ],
                `${minutes.reduce((sum, m) => sum + m.delivered, 0)} delivered and ${minutes.reduce((sum, m) => sum + m.failed, 0)} failed in the last hour`,
              ),
              h('span', { class: 'error-text' }, lastErrorOf(activity[index]!)),
              group.dead_letters_pending > 0 ? h('a', { href: link('/dead-letters', { group_id: group.id, status: 'pending' }) }, group.dead_letters_pending) : '0',
            ];
            return canAct ? [...cells, pauseButton(group, page.refresh)] : cells;
          }),
          'No consumer groups yet. Create one with `eventflow groups create`.',
        ),
      );
    },
  };
  return page;
}

/** One group: its offsets (with a confirmed reset) and its recent delivery attempts. */
export function groupPage({ params, canAct }: PageContext): Page {
  const id = params.id!;
  const summary = h('div');
  const offsets = h('div');
  const attempts = h('div');
  const resetForm = h('div');
  let streamsShown = '';

  const page: Page = {
    title: 'Consumer group',
    element: h(
      'section',
      {},
      h('p', {}, h('a', { href: link('/groups') }, '← Consumer groups')),
      summary,
      h('h2', {}, 'Offsets'),
      offsets,
      resetForm,
      h('h2', {}, 'Recent delivery attempts'),
      attempts,
    ),
    async refresh() {
      const [group, recent] = await Promise.all([
        get<Group>(`/v1/consumer-groups/${id}`),
        get<ApiPage<Attempt>>(`/v1/consumer-groups/${id}/deliveries${query({ limit: 50 })}`),
      ]);
      page.title = `Group ${group.name}`;
      show(
        summary,
        h('h1', {}, `Group ${group.name}`),
        h(
          'dl',
          { class: 'facts' },
          h('dt', {}, 'Status'),
          h('dd', {}, h('span', { class: `badge ${group.status}` }, group.status), ' ', canAct ? pauseButton(group, page.refresh) : null),
          h('dt', {}, 'Webhook'),
          h('dd', {}, group.webhook_url),
          h('dt', {}, 'Delivery'),
          h('dd', {}, `${group.delivery.mode}, up to ${group.delivery.max_in_flight} in flight, ${group.delivery.max_attempts} attempts, ${group.delivery.timeout_ms} ms timeout`),
          h('dt', {}, 'Event types'),
          h('dd', {}, group.event_types.length ? group.event_types.join(', ') : 'all'),
        ),
      );
      show(
        offsets,
        table(
          `Offsets of ${group.name}`,
          ['Stream', 'Committed seq', 'Last seq', 'Lag'],
          group.offsets.map((o) => [o.stream, h('span', { class: 'num' }, o.committed_seq), h('span', { class: 'num' }, o.last_seq), h('span', { class: 'num', 'data-testid': `lag-${o.stream}` }, o.lag)]),
        ),
      );
      if (canAct && streamsShown !== group.streams.join()) {
        streamsShown = group.streams.join();
        resetForm.replaceChildren(offsetResetForm(group, page.refresh));
      }
      show(
        attempts,
        table(
          `Recent delivery attempts of ${group.name}`,
          ['At', 'Event', 'Attempt', 'Outcome', 'Status code', 'Duration', 'Error'],
          recent.data.map((a) => [
            formatTime(a.at),
            h('a', { href: link(`/streams/${encodeURIComponent(a.stream)}/events/${a.event_id}`) }, `${a.stream} #${a.seq}`),
            h('span', { class: 'num' }, a.attempt),
            h('span', { class: `badge ${a.status}` }, a.status),
            a.status_code ?? '—',
            `${a.duration_ms} ms`,
            a.error ?? '',
          ]),
          'No delivery attempts yet.',
        ),
      );
    },
  };
  return page;
}

function offsetResetForm(group: Group, refresh: () => Promise<void>): HTMLElement {
  const stream = h('select', { id: 'reset-stream', name: 'stream' }, ...group.streams.map((name) => h('option', { value: name }, name)));
  const target = h(
    'select',
    { id: 'reset-to', name: 'to' },
    h('option', { value: 'earliest' }, 'earliest (redeliver everything)'),
    h('option', { value: 'latest' }, 'latest (skip everything so far)'),
    h('option', { value: 'seq' }, 'a seq'),
  );
  const seq = h('input', { id: 'reset-seq', name: 'seq', type: 'number', min: 0, step: 1, inputmode: 'numeric' });
  const submit = h('button', { type: 'submit', class: 'danger' }, 'Reset offset');
  const form = h(
    'form',
    { class: 'inline-form', 'aria-labelledby': 'reset-title' },
    h('h3', { id: 'reset-title' }, 'Reset an offset (replay)'),
    h('label', { for: 'reset-stream' }, 'Stream'),
    stream,
    h('label', { for: 'reset-to' }, 'To'),
    target,
    h('label', { for: 'reset-seq' }, 'Seq (for "a seq")'),
    seq,
    submit,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const to = target.value === 'seq' ? { seq: Number(seq.value) } : target.value;
    const described = typeof to === 'string' ? to : `seq ${to.seq}`;
    void (async () => {
      const confirmed = await confirmDialog(
        'Reset the offset?',
        `${group.name} will set its committed seq on ${stream.value} to ${described}; every event after it is delivered again.`,
        'Reset',
      );
      if (!confirmed) return announce('Reset cancelled.');
      try {
        await post(`/v1/consumer-groups/${group.id}/offsets/reset`, { stream: stream.value, to });
        announce(`Offset of ${group.name} on ${stream.value} reset to ${described}.`);
        await refresh();
      } catch (error) {
        announce(describeError(error), 'error');
      }
    })();
  });
  return form;
}
