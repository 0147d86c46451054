// The option of an ARIA combobox or listbox whose label matches one of `a.values` (exact,
// case-insensitive, then contained), among the visible [role=option]s of the list the element
// controls or owns (aria-controls/aria-owns, in its own document or shadow root), the element
// itself when it is the listbox, else any visible listbox. The option gets an agent id in this
// world's registry so the engine can click it like any other id. Runs in the isolated world.
function (a) {
  let el;
  try { el = find(a); } catch (e) { return { found: false, labels: [] }; }
  if (!el || el.stale) return { stale: true };
  const root = el.getRootNode();
  const want = (a.values || []).map(v => String(v).replace(/\s+/g, ' ').trim().toLowerCase()).filter(Boolean);
  const lists = [];
  for (const attr of ['aria-controls', 'aria-owns']) {
    for (const id of (el.getAttribute(attr) || '').split(/\s+/)) {
      const l = id && root.getElementById ? root.getElementById(id) : null;
      if (l) lists.push(l);
    }
  }
  if (el.getAttribute('role') === 'listbox') lists.push(el);
  if (!lists.length) lists.push(...document.querySelectorAll('[role=listbox]'));
  const shown = (o) => {
    const r = o.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && (!o.checkVisibility || o.checkVisibility({ visibilityProperty: true }));
  };
  const label = (o) => (o.getAttribute('aria-label') || o.textContent || '').replace(/\s+/g, ' ').trim();
  const options = [];
  for (const l of lists) for (const o of l.querySelectorAll('[role=option]')) if (shown(o)) options.push(o);
  const value = (o) => (o.getAttribute('data-value') || '').toLowerCase();
  const pick = options.find(o => want.includes(label(o).toLowerCase()) || want.includes(value(o)))
    || options.find(o => want.some(w => label(o).toLowerCase().includes(w)));
  if (!pick) return { found: false, labels: options.slice(0, 30).map(label) };
  const R = globalThis.__pp || (globalThis.__pp = { ids: new WeakMap(), byId: new Map(), next: { L: 0, B: 0, I: 0, O: 0, F: 0, M: 0 } });
  let id = R.ids.get(pick);
  if (!id || id[0] !== 'O') {
    id = 'O' + (++R.next.O);
    R.ids.set(pick, id);
    R.byId.set(id, new WeakRef(pick));
  }
  return { found: true, id, label: label(pick) };
}
