import './style.css';
import { currentSession, signOut, whenSignedOut, type Session } from './api.ts';
import { h } from './dom.ts';
import { deadLetterPage, deadLettersPage } from './pages/dead-letters.ts';
import { groupPage, groupsPage } from './pages/groups.ts';
import { signInPage } from './pages/sign-in.ts';
import { eventPage, streamPage, streamsPage } from './pages/streams.ts';
import { link, match, POLL_MS, route, type Page } from './router.ts';
import { announce, describeError, notice } from './ui.ts';

route('/', groupsPage);
route('/groups', groupsPage);
route('/groups/:id', groupPage);
route('/streams', streamsPage);
route('/streams/:stream', streamPage);
route('/streams/:stream/events/:id', eventPage);
route('/dead-letters', deadLettersPage);
route('/dead-letters/:id', deadLetterPage);

const root = document.getElementById('app')!;
let session: Session | undefined;
let poller: ReturnType<typeof setTimeout> | undefined;
/** Bumped at every render, so a poll of a page no longer shown schedules nothing. */
let rendered = 0;

function showSignIn(): void {
  clearTimeout(poller);
  rendered++;
  session = undefined;
  document.title = 'Sign in · EventFlow';
  root.replaceChildren(
    signInPage((signedIn) => {
      session = signedIn;
      render();
    }),
  );
  document.getElementById('email')?.focus();
}

function shell(current: Session, page: Page, path: string): HTMLElement {
  const navLink = (href: string, label: string) => h('a', { href: link(href), 'aria-current': path.startsWith(href) ? 'page' : false }, label);
  const signOutButton = h('button', { type: 'button', class: 'secondary' }, 'Sign out');
  signOutButton.addEventListener('click', () => void signOut().finally(showSignIn));
  return h(
    'div',
    { class: 'shell' },
    h(
      'header',
      {},
      h('span', { class: 'brand' }, 'EventFlow'),
      h('nav', { 'aria-label': 'Main' }, navLink('/groups', 'Consumer groups'), navLink('/streams', 'Streams'), navLink('/dead-letters', 'Dead letters')),
      h('span', { class: 'who' }, `${current.user.email} (${current.user.role})`),
      signOutButton,
    ),
    notice,
    h('main', { id: 'main', tabindex: -1 }, page.element),
  );
}

/** Shows the page the hash names and polls it while it is shown. */
function render(): void {
  clearTimeout(poller);
  const generation = ++rendered;
  if (!session) return showSignIn();
  const found = match(location.hash);
  if (!found) {
    location.hash = link('/groups');
    return;
  }
  const canAct = session.user.role === 'admin';
  const page = found.route.render({ session, canAct, params: found.params, query: found.query });
  announce('');
  root.replaceChildren(shell(session, page, location.hash.replace(/^#/, '') || '/groups'));
  const poll = async () => {
    try {
      await page.refresh();
      if (generation === rendered) document.title = `${page.title} · EventFlow`;
    } catch (error) {
      announce(describeError(error), 'error');
    }
    if (session && generation === rendered) poller = setTimeout(() => void poll(), POLL_MS);
  };
  void poll();
}

whenSignedOut(showSignIn);
window.addEventListener('hashchange', render);
void currentSession().then((found) => {
  session = found;
  render();
}, showSignIn);
