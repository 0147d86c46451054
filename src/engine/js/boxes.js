// Shared by the element helpers: the boxes a person sees of an element, and their union. An
// inline element's own box is as tall as its font: inside a `font-size: 0` row (a way to drop
// the gaps between inline-blocks) a link around an icon or a sized span has no height while
// what it holds is seen and clicked, so the boxes of its content stand in for it; so do they
// for an element with no box at all (`display: contents`, a link around a card). The collector
// lists it the same way (action_space/src/collect.js `contentRects`).
function boxes(el) {
  const own = el.getBoundingClientRect();
  const view = el.ownerDocument.defaultView || window;
  const display = view.getComputedStyle(el).display;
  if ((own.width > 0 && own.height > 0) || !(display.startsWith('inline') || display === 'contents')) {
    return { rect: own, rects: null };
  }
  const range = el.ownerDocument.createRange();
  range.selectNodeContents(el);
  const list = [...range.getClientRects()].filter(x => x.width > 0 && x.height > 0);
  if (!list.length) return { rect: own, rects: null };
  let left = Infinity, top = Infinity, right = -Infinity, bottom = -Infinity;
  for (const x of list) {
    left = Math.min(left, x.left); top = Math.min(top, x.top);
    right = Math.max(right, x.right); bottom = Math.max(bottom, x.bottom);
  }
  return { rect: { x: left, y: top, left, top, right, bottom, width: right - left, height: bottom - top }, rects: list };
}
