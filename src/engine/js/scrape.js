// What `scrape` reads besides the readable text (which the collector builds): whether the
// selector matches, the images of the part read, and the structured data a page carries
// without any LLM: JSON-LD, OpenGraph/meta tags and HTML tables. Runs in the isolated world.
function (a) {
  let root = null;
  if (a.selector) {
    try { root = document.querySelector(a.selector); } catch (e) { return { invalid: String(e && e.message || e) }; }
    if (!root) return { matched: false };
  } else if (a.onlyMainContent) {
    root = document.querySelector('main, [role=main]') || document.querySelector('article') || document.body;
  } else {
    root = document.body || document.documentElement;
  }
  const images = a.scrapeImages ? Array.from(root.querySelectorAll('img')).slice(0, 200)
    .map(i => ({ url: i.currentSrc || i.src, description: i.alt || '' })) : [];
  const jsonld = [];
  for (const s of document.querySelectorAll('script[type="application/ld+json"]')) {
    try { jsonld.push(JSON.parse(s.textContent)); } catch (e) { /* a broken block is skipped */ }
  }
  const meta = {};
  for (const m of document.querySelectorAll('meta[property], meta[name]')) {
    const k = m.getAttribute('property') || m.getAttribute('name');
    if (/^(og:|twitter:|description$|keywords$|author$)/.test(k)) meta[k] = m.getAttribute('content') || '';
  }
  const tables = Array.from(document.querySelectorAll('table')).slice(0, 20).map(t =>
    Array.from(t.rows).slice(0, 200).map(r => Array.from(r.cells).map(c => c.innerText.replace(/\s+/g, ' ').trim())));
  return { matched: true, images, title: document.title, url: location.href, jsonld, meta, tables };
}
