// Scrolls the window, or the element matching a selector, by (dx, dy) and reports where it is.
// When the window cannot move that way (the page fits, or it is at its end), the scroll box a
// person would turn the wheel over is scrolled instead: the visible one under the viewport's
// centre, else the largest visible one that can move that way (an inbox, a list, a chat).
function (a) {
  let target = null;
  if (a.selector) {
    try { target = document.querySelector(a.selector); } catch (e) { return { invalid: String(e && e.message || e) }; }
    if (!target) return { matched: false };
    target.scrollBy({ left: a.dx, top: a.dy, behavior: 'instant' });
    return { matched: true, scrollX: target.scrollLeft, scrollY: target.scrollTop, scrollWidth: target.scrollWidth, scrollHeight: target.scrollHeight };
  }
  const before = [window.scrollX, window.scrollY];
  window.scrollBy({ left: a.dx, top: a.dy, behavior: 'instant' });
  const d = document.scrollingElement || document.documentElement;
  const page = { matched: true, scrolled: 'window', scrollX: window.scrollX, scrollY: window.scrollY, scrollWidth: d.scrollWidth, scrollHeight: d.scrollHeight };
  if (window.scrollX !== before[0] || window.scrollY !== before[1]) return page;
  const vw = window.innerWidth, vh = window.innerHeight;
  const canMove = (el) => {
    if (a.dy > 0) return el.scrollTop + el.clientHeight < el.scrollHeight - 1;
    if (a.dy < 0) return el.scrollTop > 0;
    if (a.dx > 0) return el.scrollLeft + el.clientWidth < el.scrollWidth - 1;
    if (a.dx < 0) return el.scrollLeft > 0;
    return false;
  };
  const boxes = [];
  let n = 0;
  for (const el of document.body ? document.body.querySelectorAll('*') : []) {
    if (++n > 20000) break;
    if (el.scrollHeight <= el.clientHeight && el.scrollWidth <= el.clientWidth) continue;
    const st = getComputedStyle(el);
    if (!/(auto|scroll)/.test(st.overflowY + ' ' + st.overflowX)) continue;
    if (!canMove(el)) continue;
    const r = el.getBoundingClientRect();
    const w = Math.min(r.right, vw) - Math.max(r.left, 0), h = Math.min(r.bottom, vh) - Math.max(r.top, 0);
    if (w <= 0 || h <= 0) continue;
    boxes.push({ el, area: w * h, centre: r.left <= vw / 2 && r.right >= vw / 2 && r.top <= vh / 2 && r.bottom >= vh / 2 });
  }
  if (!boxes.length) return page;
  boxes.sort((x, y) => (y.centre - x.centre) || (y.area - x.area));
  const box = boxes[0].el;
  box.scrollBy({ left: a.dx, top: a.dy, behavior: 'instant' });
  const name = box.getAttribute('aria-label') || (box.id ? '#' + box.id : box.tagName.toLowerCase());
  return { matched: true, scrolled: name, scrollX: box.scrollLeft, scrollY: box.scrollTop, scrollWidth: box.scrollWidth, scrollHeight: box.scrollHeight };
}
