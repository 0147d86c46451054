// Scrolls the window, or the element matching a selector, by (dx, dy) and reports where it is.
function (a) {
  let target = null;
  if (a.selector) {
    try { target = document.querySelector(a.selector); } catch (e) { return { invalid: String(e && e.message || e) }; }
    if (!target) return { matched: false };
    target.scrollBy({ left: a.dx, top: a.dy, behavior: 'instant' });
    return { matched: true, scrollX: target.scrollLeft, scrollY: target.scrollTop, scrollWidth: target.scrollWidth, scrollHeight: target.scrollHeight };
  }
  window.scrollBy({ left: a.dx, top: a.dy, behavior: 'instant' });
  const d = document.scrollingElement || document.documentElement;
  return { matched: true, scrollX: window.scrollX, scrollY: window.scrollY, scrollWidth: d.scrollWidth, scrollHeight: d.scrollHeight };
}
