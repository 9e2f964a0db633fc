// Phone or desktop layout, as a reactive value for the few decisions CSS alone cannot make (which
// page a community link opens). Must match the breakpoint in app.css.
import { MediaQuery } from 'svelte/reactivity';

export const PHONE_QUERY = '(max-width: 767px)';

export const phone = new MediaQuery(PHONE_QUERY, false);
