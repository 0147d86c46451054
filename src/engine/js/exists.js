// Whether a selector matches an element (and whether it is visible), without side effects.
function (a) {
  let el;
  try { el = document.querySelector(a.selector); } catch (e) { return { invalid: String(e && e.message || e) }; }
  if (!el) return { matched: false, visible: false };
  const r = el.getBoundingClientRect();
  const s = getComputedStyle(el);
  const visible = r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none' && parseFloat(s.opacity || '1') > 0;
  return { matched: true, visible };
}
