// Shared by the element helpers: the element `a` names, by CSS selector (`a.selector`) or by
// agent id (`a.id`, from the collector's registry in this world). Throws {invalid} for a bad
// selector; returns null for no match and {stale: true} for an id that no longer resolves.
function find(a) {
  if (a.id) {
    const reg = globalThis.__pp;
    const ref = reg && reg.byId.get(a.id);
    const el = ref && ref.deref();
    return el && el.isConnected ? el : { stale: true };
  }
  try {
    return document.querySelector(a.selector);
  } catch (e) {
    throw { invalid: String(e && e.message || e) };
  }
}
