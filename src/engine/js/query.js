// Reads fields and attributes of the elements matching a selector. Runs in the isolated world;
// an element's box and visibility are those the click uses (boxes.js).
function (a) {
  let all;
  try { all = Array.from(document.querySelectorAll(a.selector)); } catch (e) { return { invalid: String(e && e.message || e) }; }
  const isVisible = (el) => {
    const r = boxes(el).rect;
    const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none' && parseFloat(s.opacity || '1') > 0;
  };
  const matched = a.visibleOnly ? all.filter(isVisible) : all;
  const read = {
    text: el => (el.innerText || el.textContent || '').replace(/\s+/g, ' ').trim(),
    html: el => el.outerHTML,
    href: el => el.href !== undefined ? String(el.href) : el.getAttribute('href'),
    src: el => el.src !== undefined ? String(el.src) : el.getAttribute('src'),
    alt: el => el.getAttribute('alt'),
    title: el => el.getAttribute('title'),
    value: el => el.value !== undefined ? String(el.value) : null,
    name: el => el.getAttribute('name'),
    id: el => el.id || null,
    className: el => typeof el.className === 'string' ? el.className : el.getAttribute('class'),
    tag: el => el.tagName.toLowerCase(),
    role: el => el.getAttribute('role'),
    ariaLabel: el => el.getAttribute('aria-label'),
    visible: el => isVisible(el),
    bbox: el => { const r = boxes(el).rect; return { x: r.x, y: r.y, width: r.width, height: r.height }; },
  };
  const elements = matched.slice(0, a.limit).map(el => {
    const o = {};
    for (const f of a.fields) o[f] = read[f](el);
    if (a.attributes.length) {
      o.attributes = {};
      for (const n of a.attributes) o.attributes[n] = el.getAttribute(n);
    }
    return o;
  });
  return { total: matched.length, elements };
}
