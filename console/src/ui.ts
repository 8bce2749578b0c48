import { ApiError } from './api.ts';
import { h } from './dom.ts';

/** The live region where the outcome of an action is announced. */
export const notice = h('p', { class: 'notice', role: 'status', 'aria-live': 'polite' });

export function announce(message: string, kind: 'ok' | 'error' = 'ok'): void {
  notice.textContent = message;
  notice.dataset.kind = kind;
}

export const describeError = (error: unknown): string =>
  error instanceof ApiError ? `${error.problem?.title ?? 'Error'}: ${error.message}` : error instanceof Error ? error.message : String(error);

/** Runs an action from a button: disables it meanwhile, then announces the outcome. */
export async function act(button: HTMLButtonElement, action: () => Promise<unknown>, done: string): Promise<void> {
  button.disabled = true;
  try {
    await action();
    announce(done);
  } catch (error) {
    announce(describeError(error), 'error');
  } finally {
    button.disabled = false;
  }
}

/** Asks before a change that cannot be undone; resolves true only on an explicit confirm. */
export function confirmDialog(title: string, message: string, confirmLabel: string): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = h(
      'dialog',
      { 'aria-labelledby': 'confirm-title' },
      h('h2', { id: 'confirm-title' }, title),
      h('p', {}, message),
      h(
        'form',
        { method: 'dialog', class: 'actions' },
        h('button', { value: 'cancel', class: 'secondary' }, 'Cancel'),
        h('button', { value: 'confirm', class: 'danger' }, confirmLabel),
      ),
    );
    dialog.addEventListener('close', () => {
      resolve(dialog.returnValue === 'confirm');
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
