// Finds an element (find.js), optionally scrolls it into view and focuses it, and reports what
// a click there would hit, in main-frame viewport coordinates. Runs in the isolated world.
function (a) {
  let el;
  try { el = find(a); } catch (e) { return e; }
  if (!el) return { matched: false };
  if (el.stale) return el;
  if (a.scroll && el.scrollIntoView) el.scrollIntoView({ block: 'center', inline: 'center', behavior: 'instant' });
  if (a.focus && el.focus) el.focus({ preventScroll: true });
  // An element of a same-origin iframe: its viewport is the frame's; add the frames' offsets.
  let ox = 0, oy = 0;
  for (let w = el.ownerDocument.defaultView; w && w.frameElement; w = w.frameElement.ownerDocument.defaultView) {
    const fe = w.frameElement, fr = fe.getBoundingClientRect(), cs = getComputedStyle(fe);
    ox += fr.left + parseFloat(cs.borderLeftWidth || 0) + parseFloat(cs.paddingLeft || 0);
    oy += fr.top + parseFloat(cs.borderTopWidth || 0) + parseFloat(cs.paddingTop || 0);
  }
  const view = el.ownerDocument.defaultView || window;
  const vw = view.innerWidth, vh = view.innerHeight;
  const { rect: r, rects } = boxes(el);
  const style = view.getComputedStyle(el);
  const visible = r.width > 0 && r.height > 0 && style.visibility !== 'hidden' &&
    style.display !== 'none' && parseFloat(style.opacity || '1') > 0;
  const attributes = {};
  for (const at of el.attributes) attributes[at.name] = at.value;
  const root = el.getRootNode && el.getRootNode().elementFromPoint ? el.getRootNode() : el.ownerDocument;
  // A clickable container's own actions (its icons, its child items) are not the container:
  // a point on one of them would run that one's handler.
  const kids = (globalThis.__pp && globalThis.__pp.kidsOf && globalThis.__pp.kidsOf.get(el)) || [];
  let point = null, obscuredBy = null;
  let covered = false;
  if (visible) {
    // Probe each client rect (an inline link that wraps has several): its centre first, then
    // a 3x3 grid inside it, so a button whose centre a neighbour covers is still hit on its
    // free half. The first point whose hit test is the element (or inside it) is used.
    const fractions = [[0.5, 0.5], [0.25, 0.5], [0.75, 0.5], [0.5, 0.25], [0.5, 0.75],
      [0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]];
    probing: for (const cr of rects || el.getClientRects()) {
      if (cr.width <= 0 || cr.height <= 0) continue;
      for (const [fx, fy] of fractions) {
        const x = Math.min(Math.max(cr.left + cr.width * fx, 0), vw - 1);
        const y = Math.min(Math.max(cr.top + cr.height * fy, 0), vh - 1);
        const hit = root.elementFromPoint(x, y);
        if (hit && (hit === el || el.contains(hit)) && !kids.some(k => k.contains(hit))) { point = { x, y }; break probing; }
        if (!obscuredBy && hit) obscuredBy = describe(hit);
      }
    }
    covered = !point;
    if (!point) {
      point = { x: Math.min(Math.max(r.left + r.width / 2, 0), vw - 1), y: Math.min(Math.max(r.top + r.height / 2, 0), vh - 1) };
    } else {
      obscuredBy = null;
    }
  }
  const text = (el.innerText || el.value || el.textContent || '').replace(/\s+/g, ' ').trim().slice(0, 300);
  return {
    matched: true, visible, tagName: el.tagName.toLowerCase(), elementText: text, attributes,
    boundingBox: { x: r.x + ox, y: r.y + oy, width: r.width, height: r.height },
    point: point && { x: point.x + ox, y: point.y + oy }, obscuredBy, covered,
    // Something on the page is moving (a transition, an animation): its box may still change.
    animating: document.getAnimations().some(an => an.playState === 'running'),
    pageScroll: [window.scrollX, window.scrollY],
    role: el.getAttribute('role') || '', type: (el.type || '').toString().toLowerCase(),
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
