// The document as text, html, or the html of its body for markdown conversion; past a.cap
// characters only its length comes back ({tooLarge: n}), so a huge DOM never crosses CDP.
function (a) {
  let out;
  if (a.format === 'html') {
    const dt = document.doctype ? '<!DOCTYPE ' + document.doctype.name + '>\n' : '';
    out = dt + document.documentElement.outerHTML;
  } else if (a.format === 'markdown') {
    out = document.body ? document.body.outerHTML : document.documentElement.outerHTML;
  } else {
    out = document.body ? document.body.innerText : (document.documentElement.innerText || '');
  }
  return out.length > a.cap ? { tooLarge: out.length } : out;
}
