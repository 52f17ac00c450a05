import type { Me } from '../shared/api';
import { useApi } from './api';

/** Who is signed in, and the way out; nothing when the UI runs without sign-in. */
export function Account() {
  const me = useApi<Me>('/api/me');
  if (me.state !== 'ok' || me.data.user === undefined) return null;
  return (
    <div class="account">
      <span class="user" id="signed-in-user" title={me.data.user.id}>
        {me.data.user.name}
      </span>
      {/* A form, not a link: signing out is a POST, so no page or prefetch can do it by a GET. */}
      <form method="post" action="/auth/logout">
        <button type="submit">Sign out</button>
      </form>
    </div>
  );
}
