import { post, session } from '../api.js';
import { h } from '../dom.js';

export function signIn() {
  const error = h('p', { class: 'error', role: 'alert', id: 'signin-error' });
  const email = h('input', { type: 'email', id: 'email', name: 'email', autocomplete: 'username', required: true });
  const password = h('input', {
    type: 'password',
    id: 'password',
    name: 'password',
    autocomplete: 'current-password',
    required: true,
  });
  const button = h('button', { type: 'submit' }, 'Sign in');
  const form = h(
    'form',
    {
      class: 'signin',
      onsubmit: async (event) => {
        event.preventDefault();
        button.disabled = true;
        error.textContent = '';
        try {
          const { token } = await post('/api/v1/auth/login', {
            email: email.value.trim(),
            password: password.value,
          });
          session.signIn(token);
          location.hash = '#/';
        } catch (e) {
          error.textContent = e.message;
          password.select();
        } finally {
          button.disabled = false;
        }
      },
    },
    h('h1', {}, 'Sign in to Huddle'),
    h('label', { for: 'email' }, 'Email'),
    email,
    h('label', { for: 'password' }, 'Password'),
    password,
    error,
    button,
  );
  setTimeout(() => email.focus(), 0);
  return form;
}
