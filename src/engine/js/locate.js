// Finds the first element matching a CSS selector, optionally scrolls it into view and focuses
// it, and reports what a click there would hit. Runs in the isolated world.
function (a) {
  let el;
  try { el = document.querySelector(a.selector); } catch (e) { return { invalid: String(e && e.message || e) }; }
  if (!el) return { matched: false };
  if (a.scroll && el.scrollIntoView) el.scrollIntoView({ block: 'center', inline: 'center', behavior: 'instant' });
  if (a.focus && el.focus) el.focus({ preventScroll: true });
  const r = el.getBoundingClientRect();
  const style = getComputedStyle(el);
  const visible = r.width > 0 && r.height > 0 && style.visibility !== 'hidden' &&
    style.display !== 'none' && parseFloat(style.opacity || '1') > 0;
  const attributes = {};
  for (const at of el.attributes) attributes[at.name] = at.value;
  const vw = window.innerWidth, vh = window.innerHeight;
  const root = el.getRootNode && el.getRootNode().elementFromPoint ? el.getRootNode() : document;
  let point = null, obscuredBy = null;
  if (visible) {
    // Probe the centre of each client rect (an inline link that wraps has several).
    for (const cr of el.getClientRects()) {
      const x = Math.min(Math.max(cr.left + cr.width / 2, 0), vw - 1);
      const y = Math.min(Math.max(cr.top + cr.height / 2, 0), vh - 1);
      if (cr.width <= 0 || cr.height <= 0) continue;
      const hit = root.elementFromPoint(x, y);
      if (hit && (hit === el || el.contains(hit))) { point = { x, y }; break; }
      if (!obscuredBy && hit) obscuredBy = describe(hit);
    }
    if (!point) {
      point = { x: Math.min(Math.max(r.left + r.width / 2, 0), vw - 1), y: Math.min(Math.max(r.top + r.height / 2, 0), vh - 1) };
    } else {
      obscuredBy = null;
    }
  }
  const text = (el.innerText || el.value || el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 300);
  return {
    matched: true, visible, tagName: el.tagName.toLowerCase(), elementText: text, attributes,
    boundingBox: { x: r.x, y: r.y, width: r.width, height: r.height }, point, obscuredBy,
    checked: checkedState(el),
    editable: el.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName),
  };
  function checkedState(n) {
    if (n.tagName === 'INPUT' && (n.type === 'checkbox' || n.type === 'radio')) return n.checked;
    if (n.tagName === 'LABEL' && n.control && (n.control.type === 'checkbox' || n.control.type === 'radio')) return n.control.checked;
    const aria = n.getAttribute('aria-checked');
    return aria === null ? null : aria === 'true';
  }
  function describe(n) {
    let s = n.tagName.toLowerCase();
    if (n.id) s += '#' + n.id;
    if (typeof n.className === 'string' && n.className.trim()) s += '.' + n.className.trim().split(/\s+/).join('.');
    return s;
  }
}
