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

export interface Action {
  label: string;
  /** The accessible name, when the label alone is ambiguous ("Retry" which one?). */
  name?: string;
  /** The row it acts on, so a refreshed table with the same HTML keeps the same buttons. */
  id?: string;
  secondary?: boolean;
  disabled?: boolean;
  run: () => Promise<unknown>;
  /** Announced once the change is made and the page re-read. */
  done: string;
}

/** A button that makes a change: disabled while it runs, then refreshes the page and announces the outcome. */
export function actionButton(action: Action, refresh: () => Promise<void>): HTMLButtonElement {
  const button = h(
    'button',
    { type: 'button', class: action.secondary ? 'secondary' : undefined, 'data-id': action.id, 'aria-label': action.name, disabled: action.disabled ?? false },
    action.label,
  );
  button.addEventListener('click', () => {
    button.disabled = true;
    action
      .run()
      .then(refresh)
      .then(
        () => announce(action.done),
        (error: unknown) => announce(describeError(error), 'error'),
      )
      .finally(() => {
        button.disabled = false;
      });
  });
  return button;
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
