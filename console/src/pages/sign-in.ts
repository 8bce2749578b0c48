import { ApiError, signIn, type Session } from '../api.ts';
import { h } from '../dom.ts';

/** The sign-in form; a failure is said in words next to the form, never a blank page. */
export function signInPage(onSignedIn: (session: Session) => void): HTMLElement {
  const email = h('input', { id: 'email', name: 'email', type: 'email', autocomplete: 'username', required: true });
  const password = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const message = h('p', { id: 'sign-in-error', class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    { class: 'sign-in', 'aria-describedby': 'sign-in-error' },
    h('h1', {}, 'EventFlow console'),
    h('p', {}, 'Sign in with the email and password an admin gave you (`eventflow users create`).'),
    h('label', { for: 'email' }, 'Email'),
    email,
    h('label', { for: 'password' }, 'Password'),
    password,
    message,
    submit,
  );
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submit.disabled = true;
    message.textContent = '';
    signIn(email.value, password.value)
      .then(onSignedIn)
      .catch((error: unknown) => {
        message.textContent =
          error instanceof ApiError && error.status === 401
            ? 'Wrong email or password.'
            : error instanceof ApiError && error.status === 429
              ? 'Too many failed sign-ins. Wait a few minutes and try again.'
              : `Sign-in failed: ${error instanceof Error ? error.message : String(error)}`;
        password.value = '';
        password.focus();
      })
      .finally(() => {
        submit.disabled = false;
      });
  });
  return h('main', { id: 'main', class: 'sign-in-page' }, form);
}
