// Sign-in with an API token (design §7): checked against /whoami before it is kept, and then only in
// this tab's sessionStorage.

import type { WhoAmI } from '../api-types.js';
import { api, failure } from '../api.js';
import { el } from '../dom.js';
import { session, TOKEN_KEY } from '../session.js';

export function renderSignIn(root: HTMLElement, message: string | undefined, signedIn: () => void): void {
  const input = el('input', { id: 'token', type: 'password', name: 'token', autocomplete: 'off', required: true, placeholder: 'ef_…', 'aria-label': 'API token' });
  const status = el('p', { class: 'form-status', role: 'status', text: message || '' });
  const submit = (ev: Event) => {
    ev.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    status.textContent = 'checking…';
    api<WhoAmI>('GET', '/whoami', undefined, token).then(
      (who) => {
        sessionStorage.setItem(TOKEN_KEY, token); // the tab's session only; never in a URL or cookie
        session.token = token;
        session.role = who.role;
        session.who = who;
        signedIn();
      },
      (e: unknown) => {
        status.textContent = 'Sign-in failed: ' + failure(e).message;
      },
    );
  };
  const form = el('form', { class: 'signin', onsubmit: submit }, [
    el('h1', { text: 'edgefleet' }),
    el('p', { text: 'Sign in with an API token (viewer, operator or admin). The token stays in this browser tab only.' }),
    el('label', { for: 'token', text: 'API token' }),
    input,
    el('button', { type: 'submit', id: 'signin', text: 'Sign in' }),
    status,
  ]);
  root.replaceChildren(el('main', { class: 'signin-page' }, [form]));
  input.focus();
}
