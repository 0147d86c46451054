// Whether a selector matches an element (and whether it is visible), without side effects.
function (a) {
  let el;
  try { el = find({ selector: a.selector }); } catch (e) { return e; }
  if (!el) return { matched: false, visible: false };
  const r = boxes(el).rect;
  const s = getComputedStyle(el);
  const visible = r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none' && parseFloat(s.opacity || '1') > 0;
  return { matched: true, visible };
}
